"""The engine on real published data: ProPublica's COMPAS two-year file (6,172 defendants).

ProPublica published the false-positive rate of the "medium or high risk" score as 0.4234 for
African-American and 0.2201 for Caucasian defendants (1,514 and 1,281 who did not reoffend within
two years). The file also holds an 11-person Native American group and a 31-person Asian one:
before this engine, any such small group made every summary across race "inconclusive".
"""

from __future__ import annotations

import pytest
from realdata import compas
from synthetic import make_profile

from assay.checks.context import AuditContext, CheckSettings
from assay.checks.fairness import group_metrics
from assay.checks.policy import Evidence, VerdictStatus, judge_evidence
from assay.checks.results import CheckResult


@pytest.fixture(scope="module")
def result() -> CheckResult:
    """Return the group metrics of COMPAS's risk label by race and sex, as the audit computes them."""
    data = compas()
    sensitive = data[["race", "sex"]]
    profile = make_profile("race", "sex", favourable=False, reference={"race": "Caucasian"})
    ctx = AuditContext(
        profile=profile,
        data=sensitive,
        settings=CheckSettings(intersections="pairs"),
        labels=data["two_year_recid"].to_numpy(),
        decisions=data["high_risk"].to_numpy(),
        sensitive=sensitive,
    )
    return group_metrics(ctx)


def _row(result: CheckResult, metric: str, group: str | None, attribute: str = "race"):
    (row,) = [r for r in result.rows(metric) if r.attribute == attribute and r.group == group]
    return row


def test_group_error_rates_are_propublicas_and_rest_on_their_denominators(result: CheckResult) -> None:
    published = {"African-American": (0.4234, 1514), "Caucasian": (0.2201, 1281)}
    for race, (fpr, negatives) in published.items():
        row = _row(result, "fpr", race)
        assert round(row.value, 4) == fpr and row.n == negatives
        assert row.ci_low < fpr < row.ci_high
    assert _row(result, "selection_rate", "Native American").n == 11  # the group's size
    assert _row(result, "fpr", "Native American").n == 6  # its people who did not reoffend


def test_equalized_odds_fails_on_the_large_groups_beside_an_eleven_person_group(result: CheckResult) -> None:
    evidence = Evidence(
        basis="agency", check="fairness.group_metrics", metric="equalized_odds_difference", max=0.10
    )
    status, reasons, _ = judge_evidence(evidence, result, min_group_size=30)
    assert status == VerdictStatus.FAIL
    (reason,) = [str(r) for r in reasons]
    assert "equalized_odds_difference[race]" in reason and "decided by African-American against" in reason
    row = _row(result, "equalized_odds_difference", None)
    assert row.ci_low > 0.10  # proven on the groups with enough evidence...
    small = {c.group: c.n for c in row.basis.small}
    assert small == {"Native American": 5, "Asian": 8}  # ...which are listed, with what they rest on


def test_the_race_gap_in_false_positives_is_decided_and_a_tiny_comparison_is_not(result: CheckResult) -> None:
    evidence = Evidence(basis="agency", check="fairness.group_metrics", metric="fpr_ratio", min=0.8, max=1.25)
    aa = _row(result, "fpr_ratio", "African-American")
    assert aa.ci_low > 1.25  # 1.92 times as often, simultaneously over the five comparisons
    status, reasons, _ = judge_evidence(evidence, result, min_group_size=30)
    assert status == VerdictStatus.FAIL
    native = _row(result, "fpr_ratio", "Native American")
    assert native.basis.small and native.n == 6
    assert any("fpr_ratio[race=African-American]" in str(r) for r in reasons)
