"""Permutation SHAP values of many rows at once, for models no exact explainer can read.

The same estimator as shap's PermutationExplainer (interventional SHAP: antithetic pairs of random
feature orders, each input switched from a background row to the explained row in turn), written
out because shap evaluates one explained row per model call: for a scikit-learn pipeline on 16
inputs that spends most of its time in per-call overhead (bench/model_zoo.py measures it). Here the
masked rows of many explained rows go to the model in one batch, and each row draws its orders
from its own seed, so its values do not depend on the rows it is batched with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

# Masked rows per model call: large enough to amortise a call, small enough (with at most
# BATCH_CELLS numbers) to stay under ~100 MB for wide one-hot inputs.
BATCH_ROWS = 200_000
BATCH_CELLS = 10_000_000


def pairs_for(max_evals: int, n_features: int) -> int:
    """Return the antithetic pairs of feature orders that fit in `max_evals` evaluations per row."""
    per_pair = 2 * max(n_features - 1, 1)
    return max(1, (max_evals - 2) // per_pair)


def evaluations(pairs: int, n_features: int) -> int:
    """Return the masked points evaluated per explained row (the two ends are shared)."""
    return 2 + 2 * pairs * max(n_features - 1, 0)


def _orders(seed: Sequence[int], pairs: int, m: int) -> np.ndarray:
    """Return 2·pairs feature orders: each random order followed by its reverse."""
    rng = np.random.default_rng(list(seed))
    forward = np.array([rng.permutation(m) for _ in range(pairs)]).reshape(pairs, m)
    return np.concatenate([forward, forward[:, ::-1]]).reshape(2 * pairs, m)


def _masks(orders: np.ndarray) -> np.ndarray:
    """Return the masked points of one row: all-background, all-row, then each order's steps."""
    n_orders, m = orders.shape
    steps = np.zeros((n_orders, max(m - 1, 0), m), dtype=bool)
    for k in range(1, m):
        # Step k of an order switches its first k inputs to the explained row.
        np.put_along_axis(steps[:, k - 1 :, :], orders[:, None, k - 1 : k], True, axis=2)
    ends = np.array([np.zeros(m, dtype=bool), np.ones(m, dtype=bool)])
    return np.concatenate([ends, steps.reshape(-1, m)])


def _values(orders: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Return one row's SHAP values from the mean model output `v` at its masked points."""
    n_orders, m = orders.shape
    chain = np.empty((n_orders, m + 1))
    chain[:, 0], chain[:, m] = v[0], v[1]
    chain[:, 1:m] = v[2:].reshape(n_orders, m - 1)
    out = np.zeros(m)
    np.add.at(out, orders.ravel(), np.diff(chain, axis=1).ravel())
    return out / n_orders


def permutation_values(
    f: Callable[[np.ndarray], np.ndarray],
    rows: np.ndarray,
    background: np.ndarray,
    pairs: int,
    seeds: Sequence[Sequence[int]],
    n_inputs: int | None = None,
    inputs: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Return (SHAP values of each input of each row, base value) of `f` against a background.

    `seeds[i]` seeds row i's feature orders. Columns are the inputs themselves, or, with `inputs`
    (the input each column belongs to), groups of columns switched together. The values of a row
    add up exactly to f(row) − mean f(background) for every order, whatever `pairs` is.
    """
    n, width = rows.shape
    m = width if n_inputs is None else n_inputs
    columns = np.arange(width) if inputs is None else np.asarray(inputs)
    b = len(background)
    if b == 0:
        raise ValueError("permutation SHAP needs at least one background row")
    base = float(np.mean(f(background)))
    if n == 0 or m == 0:
        return np.zeros((n, m)), base
    batch = max(1, min(BATCH_ROWS, BATCH_CELLS // max(width, 1)) // (evaluations(pairs, m) * b))
    out = np.empty((n, m))
    for start in range(0, n, batch):
        picked = range(start, min(start + batch, n))
        orders = [_orders(seeds[i], pairs, m) for i in picked]
        masks = np.stack([_masks(o) for o in orders])[:, :, columns]  # rows × points × columns
        masked = np.where(masks[:, :, None, :], rows[list(picked)][:, None, None, :], background[None, None])
        v = np.asarray(f(masked.reshape(-1, width)), dtype=float).reshape(len(picked), -1, b).mean(axis=2)
        for i, row in enumerate(picked):
            out[row] = _values(orders[i], v[i])
    return out, base
