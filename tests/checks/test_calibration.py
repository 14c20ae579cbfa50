"""Per-group score quality: exact AUC per group, calibration error and reliability bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from synthetic import make_profile

from assay.checks.calibration import score_metrics
from assay.checks.context import AuditContext, CheckSettings, ServiceProfile


def _profile() -> ServiceProfile:
    return make_profile("a", "b", favourable=True)


def _case(seed: int, n: int = 8000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Group x is calibrated; group y's scores are shifted up by 0.2 (over-predicted)."""
    rng = np.random.default_rng(seed)
    sens = pd.DataFrame({"a": rng.choice(["x", "y"], n, p=[0.6, 0.4]), "b": rng.choice(["p", "q"], n)})
    true_p = rng.beta(2, 5, n)
    y = (rng.random(n) < true_p).astype(int)
    scores = np.clip(true_p + np.where(sens["a"] == "y", 0.2, 0.0), 0, 1)
    return sens, y, scores


def _ctx(sens: pd.DataFrame, y: np.ndarray, scores: np.ndarray, **settings) -> AuditContext:
    return AuditContext(
        profile=_profile(),
        data=sens,
        labels=y,
        scores=scores,
        sensitive=sens,
        settings=CheckSettings(n_boot=300, **settings),
        seed=3,
    )


def _row(result, metric: str, attribute: str, group: str | None = None):
    (row,) = [
        r for r in result.metrics if r.metric == metric and r.attribute == attribute and r.group == group
    ]
    return row


def test_group_auc_is_exact_and_inside_its_interval() -> None:
    sens, y, scores = _case(0)
    result = score_metrics(_ctx(sens, y, scores))
    for attr in ("a", "b"):
        for group in sens[attr].unique():
            mask = (sens[attr] == group).to_numpy()
            row = _row(result, "roc_auc", attr, group)
            assert row.value == pytest.approx(roc_auc_score(y[mask], scores[mask]), abs=1e-12)
            assert row.ci_low < row.value < row.ci_high
            assert row.n == mask.sum()
    both = (sens["a"] == "y").to_numpy() & (sens["b"] == "q").to_numpy()
    assert _row(result, "roc_auc", "a×b", "y×q").value == pytest.approx(
        roc_auc_score(y[both], scores[both]), abs=1e-12
    )


def test_planted_miscalibration_is_found_in_the_shifted_group_only() -> None:
    sens, y, scores = _case(1)
    result = score_metrics(_ctx(sens, y, scores))
    calibrated, shifted = _row(result, "ece", "a", "x"), _row(result, "ece", "a", "y")
    assert calibrated.ci_high < 0.05
    assert shifted.ci_low > 0.15
    assert _row(result, "ece_gap", "a").ci_low > 0.1
    # The reliability diagram of the shifted group sits above the diagonal in every bin.
    predicted = {
        r.feature: r.value for r in result.metrics if r.metric == "reliability_predicted" and r.group == "y"
    }
    observed = {
        r.feature: r.value for r in result.metrics if r.metric == "reliability_observed" and r.group == "y"
    }
    assert set(predicted) == set(observed) and len(predicted) >= 5
    assert all(predicted[b] > observed[b] for b in predicted if predicted[b] > 0.3)


def test_ece_equals_the_textbook_definition() -> None:
    sens, y, scores = _case(2, n=3000)
    result = score_metrics(_ctx(sens, y, scores, calibration_bins=10))
    mask = (sens["b"] == "p").to_numpy()
    s, t = scores[mask], y[mask]
    bins = np.clip((s * 10).astype(int), 0, 9)
    expected = sum(
        abs(s[bins == k].mean() - t[bins == k].mean()) * (bins == k).sum() for k in np.unique(bins)
    ) / len(s)
    assert _row(result, "ece", "b", "p").value == pytest.approx(expected, abs=1e-12)


def test_a_group_with_one_label_value_has_no_auc_and_says_why() -> None:
    sens, y, scores = _case(3, n=2000)
    y[(sens["b"] == "q").to_numpy()] = 0
    result = score_metrics(_ctx(sens, y, scores))
    assert _row(result, "roc_auc", "b", "q").value is None
    assert any("only one label value" in m for m in result.messages)
