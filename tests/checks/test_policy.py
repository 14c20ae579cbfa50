"""Verdict engine: interval rules, minimum group size, recommendation and pack validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assay.checks.policy import (
    Evidence,
    EvidenceVerdict,
    Recommendation,
    Verdict,
    VerdictStatus,
    judge_row,
    recommend,
)
from assay.checks.results import MetricRow

EV = Evidence(
    basis="agency", check="fairness.group_metrics", metric="selection_rate_ratio", min=0.8, max=1.25
)


def _row(value, low=None, high=None, n=1000):
    return MetricRow(
        check_id=EV.check, metric=EV.metric, attribute="a", group="g", value=value,
        ci_low=low, ci_high=high, n=n,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (_row(1.0, 0.9, 1.1), VerdictStatus.PASS),
        (_row(1.6, 1.4, 1.8), VerdictStatus.FAIL),
        (_row(0.5, 0.4, 0.7), VerdictStatus.FAIL),
        (_row(1.2, 1.1, 1.3), VerdictStatus.INCONCLUSIVE),
        # Too little evidence never decides a breach, but an interval inside the range passes.
        (_row(1.6, 1.4, 1.8, n=12), VerdictStatus.INCONCLUSIVE),
        (_row(1.0, 0.9, 1.1, n=12), VerdictStatus.PASS),
        (_row(None), VerdictStatus.INCONCLUSIVE),
        (_row(1.3), VerdictStatus.FAIL),
    ],
)
def test_interval_rule(row: MetricRow, expected: VerdictStatus) -> None:
    status, reason, _ = judge_row(row, EV, min_group_size=30)
    assert status == expected
    assert "selection_rate_ratio[a=g]" in str(reason)


def test_small_group_reason_names_its_size() -> None:
    _, reason, short = judge_row(_row(1.6, 1.4, 1.8, n=12), EV, min_group_size=30)
    assert "n=12" in str(reason) and "30" in str(reason)
    assert short is not None and short.cause == "thin"
    assert short.more == {"g": 18}  # from 12 to the minimum of 30


def _verdict(severity: str, status: VerdictStatus) -> Verdict:
    return Verdict(
        clause_id="KR-X-1",
        title={"ko": "가", "en": "a"},
        source="s",
        verified=True,
        severity=severity,
        verdict=status,
        evidence=[EvidenceVerdict(check="c", metric="m", bounds="≤ 1", verdict=status, reasons=[])],
    )


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([("gate", "pass"), ("advisory", "pass")], Recommendation.ELIGIBLE),
        ([("gate", "pass"), ("advisory", "fail")], Recommendation.ELIGIBLE_WITH_CONDITIONS),
        (
            [("gate", "pass"), ("gate", "needs_attestation")],
            Recommendation.ELIGIBLE_WITH_CONDITIONS,
        ),
        ([("gate", "inconclusive"), ("gate", "pass")], Recommendation.INCONCLUSIVE),
        ([("gate", "not_assessed")], Recommendation.INCONCLUSIVE),
        ([("gate", "fail"), ("gate", "inconclusive")], Recommendation.NOT_ELIGIBLE),
    ],
)
def test_recommendation_follows_from_verdicts(verdicts, expected) -> None:
    assert recommend([_verdict(s, VerdictStatus(v)) for s, v in verdicts]) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"check": "fairness.nope", "metric": "x", "basis": "agency", "max": 1}, "unknown check id"),
        (
            {"check": "fairness.group_metrics", "metric": "nope", "basis": "agency", "max": 1},
            "reports no metric",
        ),
        (
            {"check": "fairness.group_metrics", "metric": "tpr", "basis": "agency", "min": 2, "max": 1},
            "impossible",
        ),
        ({"check": "fairness.group_metrics", "metric": "tpr", "basis": "agency"}, "needs a 'min' or a 'max'"),
        ({"check": "fairness.group_metrics", "metric": "tpr", "max": 0.5}, "basis"),
        ({"check": "fairness.group_metrics", "metric": "tpr", "basis": "law", "max": 0.5}, "needs 'cite'"),
        (
            {"check": "fairness.group_metrics", "metric": "tpr", "basis": "statute", "max": 0.5},
            "'law' or 'agency'",
        ),
        (
            {"check": "fairness.group_metrics", "metric": "tpr", "basis": "agency", "min": float("nan")},
            "finite number",
        ),
        (
            {"check": "fairness.group_metrics", "metric": "tpr", "basis": "agency", "max": float("-inf")},
            "finite number",
        ),
    ],
)
def test_bad_evidence_is_refused(kwargs, message) -> None:
    with pytest.raises(ValidationError, match=message):
        Evidence(**kwargs)


def test_evidence_scope_picks_single_attributes_or_intersections() -> None:
    from assay.checks.policy import judge_evidence
    from assay.checks.results import CheckResult, Status

    def row(attribute: str, group: str, value: float) -> MetricRow:
        return MetricRow(
            check_id=EV.check, metric=EV.metric, attribute=attribute, group=group,
            value=value, ci_low=value - 0.01, ci_high=value + 0.01, n=500,
        )  # fmt: skip

    result = CheckResult(
        check_id=EV.check,
        title="t",
        status=Status.PASSED,
        metrics=[row("sex", "f", 1.0), row("sex×age", "f×65+", 2.0)],
    )
    single = judge_evidence(EV, result, 30)
    crossed = judge_evidence(EV.model_copy(update={"groups": "intersections"}), result, 30)
    both = judge_evidence(EV.model_copy(update={"groups": "all"}), result, 30)
    named = judge_evidence(EV.model_copy(update={"attribute": "sex×age"}), result, 30)
    assert single[0] == VerdictStatus.PASS
    assert crossed[0] == both[0] == named[0] == VerdictStatus.FAIL
    assert "sex×age=f×65+" in str(crossed[1][0])
