"""The comparison with the previous audit calls a regression only when the whole interval of the
change is worse than the tolerance, in the direction that is worse for that metric."""

from __future__ import annotations

import math

import pytest

from assay.checks.regression import Watch, compare
from assay.checks.results import MetricRow

GAP = Watch(check="fairness.group_metrics", metric="fpr_gap", worse="up", tolerance=0.02)
AUC = Watch(check="performance.classification", metric="roc_auc", worse="down", tolerance=0.03)


def _row(metric: str, value: float | None, half: float, attribute: str | None = None) -> MetricRow:
    check = "performance.classification" if metric == "roc_auc" else "fairness.group_metrics"
    low = None if value is None else value - half
    high = None if value is None else value + half
    return MetricRow(
        check_id=check, metric=metric, attribute=attribute, value=value, ci_low=low, ci_high=high
    )


@pytest.mark.parametrize(
    ("before", "after", "half", "real", "regression"),
    [
        (0.05, 0.06, 0.01, False, False),  # within noise
        (0.05, 0.07, 0.005, True, False),  # real, but the interval reaches below the tolerance
        (0.05, 0.12, 0.01, True, True),  # [0.056, 0.084] worse than 0.02 throughout
        (0.12, 0.05, 0.01, True, False),  # a real improvement is no regression
    ],
)
def test_fairness_gap_regressions(before, after, half, real, regression) -> None:
    (change,) = compare([_row("fpr_gap", before, half, "sex")], [_row("fpr_gap", after, half, "sex")], [GAP])
    assert change.change == pytest.approx(after - before)
    assert change.ci_high - change.ci_low == pytest.approx(2 * (2 * half**2) ** 0.5)
    assert (change.real, change.regression) == (real, regression)


def test_a_falling_auc_is_the_regression_and_unwatched_or_new_rows_are_left_out() -> None:
    before = [_row("roc_auc", 0.80, 0.005), _row("fpr_gap", 0.05, 0.01, "sex"), _row("tpr", 0.7, 0.01)]
    after = [_row("roc_auc", 0.70, 0.005), _row("fpr_gap", 0.05, 0.01, "age"), _row("tpr", 0.5, 0.01)]
    (change,) = compare(before, after, [GAP, AUC])
    assert change.metric == "roc_auc" and change.regression and change.change == pytest.approx(-0.10)
    undefined = compare([_row("roc_auc", None, 0)], [_row("roc_auc", 0.7, 0.01)], [AUC])
    assert undefined == []


def test_a_widening_gap_is_judged_on_the_pair_that_sets_it_not_on_the_summarys_envelope() -> None:
    """Caught by the scheduled monitor: older applicants' TPR fell from 0.47 to 0.29 between windows.

    The summary's own interval holds over every pair of four groups at once (for verdicts) and
    would hide that change; the change is of the gap, as precise as the two groups setting it.
    """
    import numpy as np

    from assay.checks.disparity import summaries, summarize

    def eod(tpr: list[float], positives: list[int]) -> MetricRow:
        counts = np.array(
            [[3000, 300, p - round(p * t), round(p * t)] for t, p in zip(tpr, positives, strict=True)]
        )
        ages = ["19-34", "35-49", "50-64", "65+"]
        summary = summaries(True)["equalized_odds_difference"]
        found = summarize("equalized_odds_difference", summary, counts.astype(float), ages, True, 0.95, 30)
        return MetricRow(check_id="fairness.group_metrics", metric="equalized_odds_difference",
                         attribute="age_band", value=found.value, ci_low=found.ci_low,
                         ci_high=found.ci_high, n=found.n, basis=found.basis)  # fmt: skip

    before = eod([0.44, 0.44, 0.48, 0.47], [580, 1271, 1524, 951])
    after = eod([0.42, 0.39, 0.41, 0.29], [625, 1460, 1531, 2604])
    watch = Watch(
        check="fairness.group_metrics", metric="equalized_odds_difference", worse="up", tolerance=0.03
    )
    (change,) = compare([before], [after], [watch])
    assert change.change > 0.08 and change.regression
    envelope = math.hypot((before.ci_high - before.ci_low) / 2, (after.ci_high - after.ci_low) / 2)
    assert change.change - envelope < 0.03  # the envelopes alone would have missed it
