"""Paired-bootstrap ranking: right point values, pairing that sees small real differences, and
probabilities that say 'no idea' when candidates are alike."""

from __future__ import annotations

import numpy as np
import pytest

from assay.checks.ranking import RankMetric, rank


def _data(n: int = 20_000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, n), (rng.random(n) < 0.25).astype(int)


def _fpr_gap(groups: np.ndarray, labels: np.ndarray, decisions: np.ndarray) -> float:
    rates = [decisions[(groups == g) & (labels == 0)].mean() for g in np.unique(groups)]
    return float(max(rates) - min(rates))


def test_point_values_are_the_metric_on_the_rows() -> None:
    groups, labels = _data()
    rng = np.random.default_rng(2)
    decisions = np.stack(
        [(rng.random(labels.size) < 0.2 + 0.05 * i * (groups == 2)).astype(int) for i in range(3)]
    )
    ranking = rank(RankMetric(metric="fpr_gap"), ["a", "b", "c"], labels, decisions, groups, 3, "g")
    for est, d in zip(ranking.estimates, decisions, strict=True):
        assert est.value == pytest.approx(_fpr_gap(groups, labels, d), abs=1e-12)
        assert est.ci_low <= est.value <= est.ci_high
    assert ranking.order == ["a", "b", "c"]  # the gap grows with i
    acc = rank(RankMetric(metric="balanced_accuracy"), ["a", "b", "c"], labels, decisions)
    for est, d in zip(acc.estimates, decisions, strict=True):
        tpr, fpr = d[labels == 1].mean(), d[labels == 0].mean()
        assert est.value == pytest.approx((tpr + 1 - fpr) / 2, abs=1e-12)


def test_pairing_detects_a_small_difference_that_separate_intervals_cannot() -> None:
    groups, labels = _data(40_000)
    rng = np.random.default_rng(3)
    base = (rng.random(labels.size) < 0.3).astype(int)
    better = base.copy()
    # b corrects 60 of a's false positives in group 0 only: a tiny but certain reduction of the gap
    fixable = np.flatnonzero((groups == 0) & (labels == 0) & (base == 1))[:60]
    better[fixable] = 0
    ranking = rank(RankMetric(metric="selection_rate"), ["a", "b"], labels, np.stack([base, better]))
    (a, b) = ranking.estimates
    assert a.ci_low < b.ci_high and b.ci_low < a.ci_high  # the separate intervals overlap
    assert ranking.order == ["b", "a"]
    (pair,) = ranking.pairwise
    assert pair.better == "b" and pair.probability == 1.0
    assert pair.sentence == "b has a smaller selection rate than a with probability 1.00"


def test_alike_candidates_get_a_coin_toss_and_equal_chances_of_being_best() -> None:
    groups, labels = _data()
    rng = np.random.default_rng(4)
    same = (rng.random(labels.size) < 0.3).astype(int)
    ranking = rank(RankMetric(metric="fpr_gap"), ["x", "y"], labels, np.stack([same, same]), groups, 3, "g")
    assert ranking.pairwise[0].probability == 0.5
    assert [e.p_best for e in ranking.estimates] == [0.5, 0.5]


def test_the_replicates_match_a_row_bootstrap() -> None:
    groups, labels = _data(5_000, seed=5)
    rng = np.random.default_rng(6)
    decisions = np.stack([(rng.random(labels.size) < 0.3).astype(int) for _ in range(2)])
    ranking = rank(RankMetric(metric="fpr_gap"), ["a", "b"], labels, decisions, groups, 3, "g", n_boot=4000)
    rows = np.random.default_rng(7)
    boot = []
    for _ in range(1000):
        idx = rows.integers(0, labels.size, labels.size)
        gaps = [_fpr_gap(groups[idx], labels[idx], d[idx]) for d in decisions]
        boot.append(gaps[0] < gaps[1])
    assert ranking.pairwise[0].probability == pytest.approx(
        np.mean(boot) if ranking.order[0] == "a" else 1 - np.mean(boot), abs=0.05
    )


def test_small_groups_are_left_out_and_the_result_is_seeded() -> None:
    groups, labels = _data()
    groups[:10] = 3  # a group of ten rows: its rates are noise
    rng = np.random.default_rng(8)
    decisions = np.stack([(rng.random(labels.size) < 0.3).astype(int) for _ in range(2)])
    decisions[:, :10] = 1
    one = rank(RankMetric(metric="selection_rate_gap"), ["a", "b"], labels, decisions, groups, 4, "g", seed=9)
    kept = groups < 3
    expected = _fpr_gap(groups[kept], np.zeros(kept.sum(), int), decisions[0][kept])
    assert one.estimates[0].value == pytest.approx(expected)
    again = rank(
        RankMetric(metric="selection_rate_gap"), ["a", "b"], labels, decisions, groups, 4, "g", seed=9
    )
    assert one == again


def test_a_gap_is_ranked_on_the_audits_own_value_and_interval() -> None:
    """One definition: the ranking's value and interval are what the candidate's audit reports."""
    import pandas as pd
    from synthetic import make_profile

    from assay.checks.context import AuditContext, CheckSettings
    from assay.checks.fairness import group_metrics

    groups, labels = _data(6_000, seed=11)
    rng = np.random.default_rng(12)
    decisions = np.stack(
        [(rng.random(labels.size) < 0.2 + 0.1 * (groups == 1)).astype(int) for _ in range(2)]
    )
    ranking = rank(
        RankMetric(metric="equalized_odds_difference"), ["a", "b"], labels, decisions, groups, 3, "g"
    )
    sensitive = pd.DataFrame({"g": groups.astype(str)})
    for estimate, d in zip(ranking.estimates, decisions, strict=True):
        ctx = AuditContext(
            profile=make_profile("g", favourable=True), data=sensitive, labels=labels, decisions=d,
            sensitive=sensitive, settings=CheckSettings(intersections="none"),
        )  # fmt: skip
        (row,) = group_metrics(ctx).rows("equalized_odds_difference")
        assert estimate.value == pytest.approx(row.value, abs=1e-12)
        assert (estimate.ci_low, estimate.ci_high) == pytest.approx((row.ci_low, row.ci_high), abs=1e-12)
