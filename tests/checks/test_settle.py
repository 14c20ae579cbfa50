"""Judging rows and saying what an undecided one lacks: who decides, who is short, how many more."""

from __future__ import annotations

import numpy as np

from assay.checks.disparity import compare_to_reference, summaries, summarize
from assay.checks.policy import Evidence, VerdictStatus, judge_row
from assay.checks.results import MetricRow

GAP = Evidence(basis="agency", check="fairness.group_metrics", metric="fpr_gap", max=0.10)
RATIO = Evidence(
    basis="agency", check="fairness.group_metrics", metric="selection_rate_ratio", min=0.8, max=1.25
)


def _counts(groups: dict[str, tuple[int, int]]) -> tuple[np.ndarray, list[str]]:
    """Return confusion counts (TN, FP, FN, TP) of groups given as (negatives, false positives)."""
    rows = [[neg - fp, fp, 0, 0] for neg, fp in groups.values()]
    return np.array(rows, dtype=float), list(groups)


def _gap_row(groups: dict[str, tuple[int, int]]) -> MetricRow:
    counts, labels = _counts(groups)
    found = summarize("fpr_gap", summaries(True)["fpr_gap"], counts, labels, True, 0.95, 30)
    return MetricRow(
        check_id=GAP.check, metric=GAP.metric, attribute="g", value=found.value,
        ci_low=found.ci_low, ci_high=found.ci_high, n=found.n, basis=found.basis,
    )  # fmt: skip


def test_a_small_group_that_could_breach_is_named_with_what_it_rests_on() -> None:
    row = _gap_row({"a": (3000, 300), "b": (2000, 210), "tiny": (12, 3)})
    status, reason, short = judge_row(row, GAP, min_group_size=30)
    assert status == VerdictStatus.INCONCLUSIVE and short is not None
    assert short.cause == "small_groups" and short.groups == ["tiny (n=12)"]
    assert set(short.more) == {"tiny"} and short.more["tiny"] >= 18  # at least up to the minimum
    assert "groups with too little evidence could still miss it: tiny (n=12)" in str(reason)


def test_a_gap_above_the_limit_but_not_proven_names_the_pair_and_grows_the_smaller_group() -> None:
    row = _gap_row({"a": (3000, 300), "b": (60, 14), "c": (2000, 200)})  # b: 0.23 against 0.10
    status, reason, short = judge_row(row, GAP, min_group_size=30)
    assert row.value > 0.10 and status == VerdictStatus.INCONCLUSIVE
    assert short.cause == "straddles" and "b" in short.groups
    assert set(short.more) == {"b"} and short.detectable is not None and short.detectable > 0.10
    assert "the interval straddles the agency's threshold for fpr_gap (≤ 0.1)" in str(reason)


def test_more_evidence_settles_the_same_effect() -> None:
    """What `more` promises: the same rates on that many more people give a decided verdict."""
    row = _gap_row({"a": (3000, 300), "b": (60, 14), "c": (2000, 200)})
    _, _, short = judge_row(row, GAP, min_group_size=30)
    grown = 60 + round(short.more["b"] * 60 / 60)  # b's people are all negatives here
    decided = _gap_row({"a": (3000, 300), "b": (grown, round(14 * grown / 60)), "c": (2000, 200)})
    assert judge_row(decided, GAP, min_group_size=30)[0] == VerdictStatus.FAIL


def test_a_ratio_to_a_reference_rate_of_zero_has_no_value_but_can_still_fail() -> None:
    k, n = np.array([0.0, 40.0]), np.array([2000.0, 200.0])  # the reference never selects anyone
    found = compare_to_reference("ratio", "selection_rate", k, n, n, ["ref", "other"], 0, 0.95, 30)[1]
    row = MetricRow(check_id=RATIO.check, metric=RATIO.metric, attribute="g", group="other",
                    value=found.value, ci_low=found.ci_low, ci_high=found.ci_high, n=found.n,
                    basis=found.basis)  # fmt: skip
    assert row.value is None and row.ci_high is None and row.ci_low > 1.25
    status, reason, _ = judge_row(row, RATIO, min_group_size=30)
    assert status == VerdictStatus.FAIL
    assert "undefined [" in str(reason)
    assert ", ∞] does not meet the agency's threshold for selection_rate_ratio ([0.8, 1.25])" in str(reason)


def test_a_row_without_a_basis_below_the_minimum_needs_the_minimum() -> None:
    row = MetricRow(
        check_id="x", metric="m", attribute="a", group="g", value=0.5, ci_low=0.2, ci_high=0.8, n=12
    )
    assert (
        judge_row(row, Evidence(basis="agency", check=GAP.check, metric="tpr", max=0.9), 30)[0]
        == VerdictStatus.PASS
    )
    status, _, short = judge_row(row, Evidence(basis="agency", check=GAP.check, metric="tpr", max=0.1), 30)
    assert status == VerdictStatus.INCONCLUSIVE and short.cause == "thin" and short.more == {"g": 18}
