"""Batched permutation SHAP estimates interventional Shapley values, adds up exactly, and is seeded per row.

Checked against the Shapley values computed by brute force over every coalition of 4 inputs.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from assay.checks.permutation import evaluations, pairs_for, permutation_values

M = 4


def _pairwise(z: np.ndarray) -> np.ndarray:
    """A model with interactions of two inputs at most."""
    return np.sin(z[:, 0] * z[:, 1]) + z[:, 2] ** 2 * z[:, 3] + z[:, 0]


def _three_way(z: np.ndarray) -> np.ndarray:
    return np.sin(z[:, 0] * z[:, 1] * z[:, 2]) + z[:, 2] ** 2 * z[:, 3] * z[:, 1] + z[:, 0]


def _exact(f, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Return the interventional Shapley values of row x by summing over every coalition."""

    def value(coalition: tuple[int, ...]) -> float:
        z = background.copy()
        z[:, list(coalition)] = x[list(coalition)]
        return float(f(z).mean())

    out = np.zeros(M)
    for j in range(M):
        others = [k for k in range(M) if k != j]
        for size in range(M):
            weight = math.factorial(size) * math.factorial(M - size - 1) / math.factorial(M)
            for coalition in itertools.combinations(others, size):
                out[j] += weight * (value((*coalition, j)) - value(coalition))
    return out


@pytest.fixture(scope="module")
def points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, M)), rng.normal(size=(7, M))


def test_one_antithetic_pair_is_exact_when_inputs_interact_in_pairs_at_most(points) -> None:
    rows, background = points
    values, base = permutation_values(_pairwise, rows, background, 1, [(0, i) for i in range(5)])
    expected = np.array([_exact(_pairwise, x, background) for x in rows])
    np.testing.assert_allclose(values, expected, atol=1e-12)
    assert base == pytest.approx(_pairwise(background).mean())


def test_higher_interactions_converge_and_always_add_up(points) -> None:
    rows, background = points
    expected = np.array([_exact(_three_way, x, background) for x in rows])
    errors = []
    for pairs in (2, 2000):
        values, base = permutation_values(_three_way, rows, background, pairs, [(1, i) for i in range(5)])
        np.testing.assert_allclose(values.sum(axis=1) + base, _three_way(rows), atol=1e-12)
        errors.append(np.abs(values - expected).max())
    assert errors[1] < 0.02 < errors[0]


def test_a_rows_values_depend_on_its_seed_only_and_grouped_columns_switch_together(points) -> None:
    rows, background = points
    alone, _ = permutation_values(_three_way, rows[2:3], background, 2, [(1, 2)])
    batched, _ = permutation_values(_three_way, rows, background, 2, [(1, i) for i in range(5)])
    np.testing.assert_array_equal(alone[0], batched[2])

    # Grouped columns: columns 0-1 hold input "a" (twice), columns 2-3 input "b"; the model reads
    # column 1 and column 2. With two inputs one antithetic pair gives the exact Shapley values.
    def model(z: np.ndarray) -> np.ndarray:
        return np.sin(z[:, 1] * z[:, 2]) + z[:, 1]

    wide, wide_bg = np.repeat(rows[:, :2], 2, axis=1), np.repeat(background[:, :2], 2, axis=1)
    seeds = [(0, i) for i in range(5)]
    grouped, _ = permutation_values(model, wide, wide_bg, 1, seeds, n_inputs=2, inputs=np.array([0, 0, 1, 1]))
    for i in range(5):

        def value(a: bool, b: bool, row: np.ndarray = wide[i]) -> float:
            z = wide_bg.copy()
            z[:, :2] = row[:2] if a else z[:, :2]
            z[:, 2:] = row[2:] if b else z[:, 2:]
            return float(model(z).mean())

        phi_a = 0.5 * (value(True, False) - value(False, False) + value(True, True) - value(False, True))
        phi_b = 0.5 * (value(False, True) - value(False, False) + value(True, True) - value(True, False))
        np.testing.assert_allclose(grouped[i], [phi_a, phi_b], atol=1e-12)


def test_evaluations_per_row_fit_the_budget() -> None:
    assert pairs_for(64, 11) == 3 and evaluations(3, 11) == 62
    assert pairs_for(5, 11) == 1  # at least one pair, whatever the budget
