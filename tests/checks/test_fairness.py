"""Fairness numbers: equal to fairlearn's MetricFrame, with intervals and small-group handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score
from synthetic import make_profile

from assay.checks.context import (
    AuditContext,
    CheckSettings,
    ServiceProfile,
)
from assay.checks.fairness import group_metrics
from assay.checks.results import Status


def _profile(attrs: list[str], reference: dict[str, str] | None = None) -> ServiceProfile:
    return make_profile(*attrs, reference=reference)


def _random_case(seed: int, n: int = 5000):
    rng = np.random.default_rng(seed)
    sens = pd.DataFrame(
        {
            "a": rng.choice(["x", "y"], n, p=[0.7, 0.3]),
            "b": rng.choice(["p", "q", "r"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    y = (rng.random(n) < 0.3).astype(int)
    pred = (rng.random(n) < np.where(sens["a"] == "y", 0.45, 0.25)).astype(int)
    return sens, y, pred


DENOMINATOR = {
    "selection_rate": lambda y, d: np.ones_like(y, dtype=bool),
    "tpr": lambda y, d: y == 1,
    "fpr": lambda y, d: y == 0,
    "ppv": lambda y, d: d == 1,
}


def _rows(result, metric, attr):
    return {r.group: r for r in result.metrics if r.metric == metric and r.attribute == attr}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_rates_equal_fairlearn_metricframe(seed: int) -> None:
    sens, y, pred = _random_case(seed)
    ctx = AuditContext(
        profile=_profile(["a", "b"]),
        data=sens,
        labels=y,
        decisions=pred,
        sensitive=sens,
        settings=CheckSettings(n_boot=200),
        seed=seed,
    )
    result = group_metrics(ctx)
    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "ppv": lambda t, p: precision_score(t, p, zero_division=0),
    }
    for attr in ("a", "b"):
        frame = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=sens[attr])
        for metric in metrics:
            ours = _rows(result, metric, attr)
            for group, expected in frame.by_group[metric].items():
                assert ours[group].value == pytest.approx(expected, abs=1e-9)
                # n is the denominator the rate rests on, not the group's size
                in_group = (sens[attr] == group).to_numpy()
                assert ours[group].n == int(DENOMINATOR[metric](y, pred)[in_group].sum())
        eod = _rows(result, "equalized_odds_difference", attr)[None].value
        assert eod == pytest.approx(
            equalized_odds_difference(y, pred, sensitive_features=sens[attr]), abs=1e-9
        )
        dpd = _rows(result, "demographic_parity_difference", attr)[None].value
        assert dpd == pytest.approx(
            demographic_parity_difference(y, pred, sensitive_features=sens[attr]), abs=1e-9
        )


def test_ratio_is_to_the_named_reference_group_with_an_interval_around_it() -> None:
    sens, y, pred = _random_case(3, n=20000)
    ctx = AuditContext(
        profile=_profile(["a", "b"], {"a": "x"}),
        data=sens,
        labels=y,
        decisions=pred,
        sensitive=sens,
        settings=CheckSettings(n_boot=500),
    )
    result = group_metrics(ctx)
    ratio = _rows(result, "selection_rate_ratio", "a")
    assert set(ratio) == {"y"}  # the reference group is not compared with itself
    expected = pred[sens["a"] == "y"].mean() / pred[sens["a"] == "x"].mean()
    assert ratio["y"].value == pytest.approx(expected, abs=1e-12)
    assert ratio["y"].ci_low < expected < ratio["y"].ci_high
    assert ratio["y"].ci_low > 1.5  # planted 0.45 / 0.25 = 1.8
    # b and the intersection have no named reference: the largest group is used
    assert result.details["reference_groups"] == {"a": "x", "b": "p", "a×b": "x×p"}


def test_small_group_is_reported_with_its_size_and_makes_the_check_inconclusive() -> None:
    sens, y, pred = _random_case(4, n=3000)
    sens.loc[:9, "b"] = "tiny"
    ctx = AuditContext(
        profile=_profile(["a", "b"]),
        data=sens,
        labels=y,
        decisions=pred,
        sensitive=sens,
        settings=CheckSettings(n_boot=100, min_group_size=30),
    )
    result = group_metrics(ctx)
    assert result.status == Status.INCONCLUSIVE
    assert _rows(result, "selection_rate", "b")["tiny"].n == 10
    assert "b=tiny (n=10)" in result.messages[0]


def test_same_seed_gives_the_same_intervals() -> None:
    sens, y, pred = _random_case(5)
    ctx = AuditContext(
        profile=_profile(["a"]), data=sens, labels=y, decisions=pred, sensitive=sens[["a"]], seed=11
    )
    assert group_metrics(ctx).metrics == group_metrics(ctx).metrics


def test_absent_reference_group_falls_back_to_the_largest_and_says_so() -> None:
    sens, y, pred = _random_case(6)
    ctx = AuditContext(
        profile=_profile(["a"], {"a": "nobody"}),
        data=sens,
        labels=y,
        decisions=pred,
        sensitive=sens[["a"]],
        settings=CheckSettings(n_boot=100),
    )
    result = group_metrics(ctx)
    assert result.details["reference_groups"] == {"a": "x"}
    assert any("a=nobody is absent" in m for m in result.messages)
