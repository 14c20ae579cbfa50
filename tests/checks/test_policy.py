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


LAW = EV.model_copy(update={"basis": "law", "cite": "Art 99(1)"})


def test_an_agency_threshold_is_never_said_to_be_the_law() -> None:
    """Failing, passing and undecided reasons name the agency as the one who set the number."""
    failed = str(judge_row(_row(1.6, 1.4, 1.8), EV, min_group_size=30)[1])
    assert failed.endswith("does not meet the agency's threshold for selection_rate_ratio ([0.8, 1.25])")
    passed = str(judge_row(_row(1.0, 0.9, 1.1), EV, min_group_size=30)[1])
    assert "meets the agency's threshold for selection_rate_ratio ([0.8, 1.25])" in passed
    undecided = str(judge_row(_row(1.2, 1.1, 1.3), EV, min_group_size=30)[1])
    assert "the interval straddles the agency's threshold for selection_rate_ratio ([0.8, 1.25])" in undecided
    for reason in (failed, passed, undecided):
        assert "outside" not in reason and "breach" not in reason and "Art" not in reason


def test_a_law_threshold_names_the_text_that_sets_it() -> None:
    failed = str(judge_row(_row(1.6, 1.4, 1.8), LAW, min_group_size=30)[1])
    assert failed.endswith(
        "does not meet the threshold Art 99(1) sets for selection_rate_ratio ([0.8, 1.25])"
    )
    assert "agency" not in failed


def test_a_passing_evidence_item_says_every_value_meets_the_agencys_threshold() -> None:
    from assay.checks.policy import judge_evidence
    from assay.checks.results import CheckResult, Status

    result = CheckResult(check_id=EV.check, title="t", status=Status.PASSED, metrics=[_row(1.0, 0.9, 1.1)])
    status, reasons, _ = judge_evidence(EV, result, 30)
    assert status == VerdictStatus.PASS
    assert str(reasons[0]) == (
        "fairness.group_metrics selection_rate_ratio: all 1 values meet "
        "the agency's threshold for selection_rate_ratio ([0.8, 1.25])"
    )


def _failed(*items: tuple[str, str | None]) -> Verdict:
    """Return a failed clause whose failing evidence items are (check, basis) pairs."""
    evidence = [
        EvidenceVerdict(
            check=check,
            metric=f"m{i}",
            bounds="≤ 1",
            verdict=VerdictStatus.FAIL,
            reasons=[],
            basis=basis,
            cite="Art 99(1)" if basis == "law" else None,
        )
        for i, (check, basis) in enumerate(items)
    ]
    return Verdict(
        clause_id="KR-X-1", title={"ko": "가", "en": "a"}, source="s", verified=True,
        severity="gate", verdict=VerdictStatus.FAIL, evidence=evidence,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([("c", "agency"), ("c", "agency")], "fails the agency's thresholds under KR-X-1 (m0, m1)"),
        ([("c", "agency"), ("c", "law")], "fails KR-X-1 (m0, m1)"),
        ([("c", "agency"), ("checklist", None)], "fails KR-X-1 (m0, m1)"),
        ([("c", None)], "fails the pack's thresholds under KR-X-1 (m0)"),
    ],
)
def test_a_clause_failed_only_on_agency_thresholds_is_not_said_to_be_breached(items, expected) -> None:
    assert str(_failed(*items).finding()) == expected


def test_a_clause_that_did_not_fail_has_no_finding() -> None:
    assert _verdict("gate", VerdictStatus.PASS).finding() is None


def test_the_engine_records_whose_each_threshold_is() -> None:
    from assay.checks.policy import Clause, PolicyPack, evaluate
    from assay.checks.results import CheckResult, Status

    clause = Clause(id="KR-X-1", title={"ko": "가", "en": "a"}, source="s", verified=True, evidence=[EV, LAW])
    pack = PolicyPack(id="p", version="1", title={"ko": "가", "en": "a"}, jurisdiction="KR", clauses=[clause])
    result = CheckResult(check_id=EV.check, title="t", status=Status.PASSED, metrics=[_row(1.6, 1.4, 1.8)])
    (verdict,) = evaluate(pack, {EV.check: result})
    assert [(e.basis, e.cite) for e in verdict.evidence] == [("agency", None), ("law", "Art 99(1)")]
    assert str(verdict.finding()) == "fails KR-X-1 (selection_rate_ratio)"
