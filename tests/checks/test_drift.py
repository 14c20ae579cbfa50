"""Drift statistics agree with scipy's reference values and react to a real shift only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from assay.checks.drift import chi2_homogeneity, feature_drift, ks_2samp, psi


@settings(max_examples=60, deadline=None)
@given(st.integers(5, 400), st.integers(5, 400), st.floats(-1, 1), st.integers(0, 2**31 - 1), st.booleans())
def test_ks_matches_scipy(n, m, shift, seed, rounded) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(shift, size=m)
    if rounded:  # ties, as in integer-valued features
        a, b = np.round(a), np.round(b)
    ours = ks_2samp(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert ours[0] == pytest.approx(ref.statistic, abs=1e-12)
    assert ours[1] == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=2, max_size=12))
def test_chi_square_matches_scipy(cells) -> None:
    ref, cur = np.array(cells).T
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return
    ours = chi2_homogeneity(ref, cur)
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert ours[0] == pytest.approx(statistic, rel=1e-9, abs=1e-9)
    assert ours[1] == pytest.approx(p_value, rel=1e-9, abs=1e-12)


def test_psi_is_zero_for_equal_histograms_and_matches_its_formula() -> None:
    assert psi(np.array([10, 20, 70]), np.array([1, 2, 7])) == pytest.approx(0.0)
    ref, cur = np.array([0.5, 0.5]), np.array([0.8, 0.2])
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert psi(ref * 1000, cur * 1000) == pytest.approx(expected)


def test_a_shifted_feature_drifts_and_a_resampled_one_does_not() -> None:
    rng = np.random.default_rng(3)
    income = pd.Series(rng.normal(5, 2, 20_000))
    same = feature_drift("income", income, pd.Series(rng.normal(5, 2, 20_000)))
    moved = feature_drift("income", income, pd.Series(rng.normal(5.8, 2, 20_000)))
    assert same.kind == "numeric" and same.test == "ks"
    assert same.psi < 0.01 and same.p_value > 0.001
    assert moved.psi > 0.1 and moved.p_value < 1e-10
    channel = pd.Series(rng.choice(["online", "office", "mail"], 20_000, p=[0.5, 0.4, 0.1]))
    later = pd.Series(rng.choice(["online", "office", "mail"], 20_000, p=[0.7, 0.25, 0.05]))
    shift = feature_drift("channel", channel, later)
    assert shift.kind == "categorical" and shift.test == "chi2" and shift.p_value < 1e-10
    assert shift.psi == pytest.approx(
        psi(channel.value_counts().sort_index().to_numpy(), later.value_counts().sort_index().to_numpy())
    )
