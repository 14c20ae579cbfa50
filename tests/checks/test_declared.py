"""performance.declared: the vendor's declared accuracy levels against the measured intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from synthetic import make_profile

from assay.checks.context import DECLARABLE_METRICS, AuditContext, CheckSettings, DeclaredLevel
from assay.checks.declared import CHECK_ID, declared
from assay.checks.performance import classification
from assay.checks.policy import Evidence, VerdictStatus, judge_evidence
from assay.checks.registry import get_check, run_check
from assay.checks.results import Status


def _ctx(n: int, *levels: tuple[str, float], seed: int = 0, scores: bool = True) -> AuditContext:
    """Return an audit of `n` rows whose scores carry signal (ROC AUC about 0.9), with claims `levels`."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(int)
    s = np.clip(0.35 * labels + 0.65 * rng.random(n), 0, 1)
    return AuditContext(
        profile=make_profile("sex"),
        data=pd.DataFrame({"sex": rng.choice(["f", "m"], n)}),
        settings=CheckSettings(n_boot=300),
        labels=labels,
        scores=s if scores else None,
        decisions=(s >= 0.5).astype(int),
        declared=tuple(DeclaredLevel(metric=m, value=v) for m, v in levels),
    )


def _row(result, metric: str, of: str):
    return next(r for r in result.metrics if r.metric == metric and r.feature == of)


def _verdict(result) -> VerdictStatus:
    ev = Evidence(check=CHECK_ID, metric="declared_shortfall", max=0, basis="agency")
    return judge_evidence(ev, result, min_group_size=30)[0]


def test_a_claim_the_data_refutes_fails() -> None:
    result = declared(_ctx(3000, ("roc_auc", 0.95)))
    measured = _row(result, "measured_value", "roc_auc")
    assert measured.ci_high < 0.95
    assert result.status == Status.FAILED
    assert _row(result, "declared_shortfall", "roc_auc").value == pytest.approx(0.95 - measured.ci_high)
    assert _row(result, "declared_value", "roc_auc").value == 0.95
    assert result.messages[0].startswith("roc_auc: declared 0.95, measured ")
    assert result.messages[0].endswith("at 95%: the agency's data refutes the declared level")
    assert _verdict(result) == VerdictStatus.FAIL


def test_a_claim_inside_the_interval_passes() -> None:
    ctx = _ctx(3000)
    point = next(r for r in classification(ctx).metrics if r.metric == "balanced_accuracy").value
    result = declared(_ctx(3000, ("balanced_accuracy", round(point, 3))))
    measured = _row(result, "measured_value", "balanced_accuracy")
    assert measured.ci_low <= round(point, 3) <= measured.ci_high
    assert result.status == Status.PASSED
    assert _row(result, "declared_shortfall", "balanced_accuracy").value <= 0
    assert "consistent with the declared level" in result.messages[0]
    assert _verdict(result) == VerdictStatus.PASS


def test_an_under_claim_passes_and_says_so() -> None:
    result = declared(_ctx(3000, ("accuracy", 0.5)))
    assert _row(result, "measured_value", "accuracy").ci_low > 0.5
    assert result.status == Status.PASSED
    assert "under-claimed" in result.messages[0]
    assert _verdict(result) == VerdictStatus.PASS


def test_nothing_declared_is_not_assessed_with_the_reason() -> None:
    result = run_check(get_check(CHECK_ID), _ctx(500))
    assert result.status == Status.NOT_ASSESSED
    assert result.messages == ["not assessed: the vendor declared no accuracy levels"]
    assert _verdict(result) == VerdictStatus.NOT_ASSESSED


def test_a_tiny_sample_cannot_refute_a_claim_its_wide_interval_holds() -> None:
    # 40 rows measure roc_auc around 0.85 with an interval wide enough to hold a claim of 0.93;
    # the same claim on 3,000 rows is refuted.
    small = declared(_ctx(40, ("roc_auc", 0.93), seed=3))
    measured = _row(small, "measured_value", "roc_auc")
    assert measured.value < 0.93 <= measured.ci_high
    assert small.status == Status.PASSED
    assert _verdict(small) == VerdictStatus.PASS
    assert declared(_ctx(3000, ("roc_auc", 0.93), seed=3)).status == Status.FAILED


def test_the_measured_interval_is_the_one_performance_reports() -> None:
    ctx = _ctx(2000, ("accuracy", 0.7), ("roc_auc", 0.8))
    reported = {r.metric: r for r in classification(ctx).metrics}
    result = declared(ctx)
    for metric in ("accuracy", "roc_auc"):
        measured = _row(result, "measured_value", metric)
        assert (measured.value, measured.ci_low, measured.ci_high, measured.n) == (
            reported[metric].value,
            reported[metric].ci_low,
            reported[metric].ci_high,
            reported[metric].n,
        )


def test_a_brier_score_is_a_ceiling() -> None:
    # Brier: lower is better, so a declared 0.05 is refuted by a measured interval wholly above it.
    refuted = declared(_ctx(3000, ("brier_score", 0.05)))
    assert _row(refuted, "measured_value", "brier_score").ci_low > 0.05
    assert refuted.status == Status.FAILED
    assert declared(_ctx(3000, ("brier_score", 0.5))).status == Status.PASSED


def test_a_score_metric_without_scores_is_undecided_not_passed() -> None:
    result = declared(_ctx(1000, ("roc_auc", 0.8), ("accuracy", 0.6), scores=False))
    assert result.status == Status.INCONCLUSIVE
    assert _row(result, "declared_shortfall", "roc_auc").value is None
    assert "roc_auc: declared 0.8, not measured: no scores from the candidate" in result.messages[0]
    assert _verdict(result) == VerdictStatus.INCONCLUSIVE


def test_declarable_metrics_are_those_performance_reports() -> None:
    assert set(DECLARABLE_METRICS) <= set(get_check("performance.classification").metrics)
