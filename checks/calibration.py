"""Per-group quality of the candidate's scores: ROC AUC and calibration (ECE, reliability bins).

Intervals come from a multinomial bootstrap of counts per (finest sensitive cell × label × score
bin): for statistics computed from binned scores this is exactly a row bootstrap of the whole
holdout, at a cost that does not grow with the number of rows.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from assay.checks.context import AuditContext
from assay.checks.performance import auc_from_bins
from assay.checks.phrase import N_, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status
from assay.checks.stats import CellCounts, Grouping, percentile_ci, safe_div, spread

CHECK_ID = "fairness.score_metrics"
TITLE = "Score quality by group (ROC AUC, calibration)"
METRICS = (
    "roc_auc",
    "ece",
    "roc_auc_gap",
    "ece_gap",
    "reliability_predicted",
    "reliability_observed",
)
# Quantile bins used only for the AUC's bootstrap spread; the point estimate is exact.
AUC_BINS = 20


def _fine_bins(scores: np.ndarray, calibration_bins: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Return each score's fine bin, each fine bin's calibration bin, and the number of fine bins.

    Fine bins refine both the calibration bins and the AUC's quantile bins.
    """
    cal_edges = np.linspace(0.0, 1.0, calibration_bins + 1)
    q_edges = np.quantile(scores, np.linspace(0.0, 1.0, AUC_BINS + 1))
    edges = np.unique(np.concatenate([cal_edges, q_edges]))
    k = len(edges) - 1
    fine = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, k - 1)
    cal_of_fine = np.clip(np.searchsorted(cal_edges, edges[:-1], side="right") - 1, 0, calibration_bins - 1)
    return fine, cal_of_fine, k


def _by_calibration_bin(values: np.ndarray, cal_of_fine: np.ndarray, n_bins: int) -> np.ndarray:
    """Sum the last axis (fine bins) into calibration bins."""
    out = np.zeros((*values.shape[:-1], n_bins))
    for c in range(n_bins):
        out[..., c] = values[..., cal_of_fine == c].sum(axis=-1)
    return out


def _ece(pos: np.ndarray, total: np.ndarray, score_sum: np.ndarray) -> np.ndarray:
    """Return the expected calibration error from per-bin positives, rows and score sums."""
    return safe_div(np.abs(score_sum - pos).sum(axis=-1), total.sum(axis=-1))


def _bin_label(c: int, n_bins: int) -> str:
    return f"[{c / n_bins:.2f}, {(c + 1) / n_bins:.2f}{']' if c == n_bins - 1 else ')'}"


@register(CHECK_ID, TITLE, (Need.LABELS, Need.SCORES, Need.SENSITIVE), METRICS)
def score_metrics(ctx: AuditContext) -> CheckResult:
    """Measure ROC AUC and calibration of the scores in every group, and the gaps between groups."""
    assert ctx.labels is not None and ctx.scores is not None and ctx.sensitive is not None
    settings = ctx.settings
    labels = ctx.labels.astype(np.int64)
    scores = np.asarray(ctx.scores, dtype=float)
    n_cal = settings.calibration_bins
    fine, cal_of_fine, k = _fine_bins(scores, n_cal)
    cells = CellCounts(labels * k + fine, ctx.sensitive, n_codes=2 * k)
    mean_score = safe_div(cells.sums(scores), cells.counts)  # per (cell, label, fine bin)
    mean_score = np.nan_to_num(mean_score)
    boot = cells.bootstrap(settings.n_boot, np.random.default_rng(ctx.seed + 2))
    boot_sums = boot * mean_score  # score sums per replicate, shared by every grouping
    rows: list[MetricRow] = []
    for grouping in cells.groupings(settings.intersections):
        rows += _grouping_rows(
            ctx, grouping, cells, boot, boot_sums, mean_score, cal_of_fine, k, labels, scores
        )
    undefined = phrase(
        N_(
            "ROC AUC is undefined in a group with only one label value; such groups are reported "
            "without a value"
        )
    )
    return CheckResult.of(
        check_id=CHECK_ID,
        title=TITLE,
        status=Status.PASSED,
        metrics=rows,
        phrases=[undefined] if any(r.metric == "roc_auc" and r.value is None for r in rows) else [],
        details={
            "calibration_bins": n_cal,
            "n_boot": settings.n_boot,
            "confidence": settings.confidence,
            "interval_method": "percentile bootstrap of multinomial counts per (sensitive cell, "
            f"label, score bin); the AUC's spread uses {AUC_BINS} quantile bins of the score and is "
            "centred on the exact AUC",
        },
    )


def _grouping_rows(
    ctx: AuditContext,
    grouping: Grouping,
    cells: CellCounts,
    boot: np.ndarray,
    boot_sums: np.ndarray,
    mean_score: np.ndarray,
    cal_of_fine: np.ndarray,
    k: int,
    labels: np.ndarray,
    scores: np.ndarray,
) -> list[MetricRow]:
    """Return the AUC, ECE and reliability rows of one grouping."""
    confidence = ctx.settings.confidence
    point = cells.aggregate(cells.counts.astype(float), grouping)  # (G, 2k)
    score_sums = cells.aggregate(cells.counts * mean_score, grouping)
    reps = cells.aggregate(boot, grouping)  # (B, G, 2k)
    rep_sums = cells.aggregate(boot_sums, grouping)
    sizes = point.sum(axis=1).astype(int)

    def auc_binned(c: np.ndarray) -> np.ndarray:
        return auc_from_bins(c[..., k:], c[..., :k])

    n_cal = ctx.settings.calibration_bins

    def ece(c: np.ndarray, sums: np.ndarray) -> np.ndarray:
        pos = _by_calibration_bin(c[..., k:], cal_of_fine, n_cal)
        total = _by_calibration_bin(c[..., k:] + c[..., :k], cal_of_fine, n_cal)
        s = _by_calibration_bin(sums[..., k:] + sums[..., :k], cal_of_fine, n_cal)
        return _ece(pos, total, s)

    with np.errstate(invalid="ignore", divide="ignore"):
        auc_point_binned, auc_reps = auc_binned(point), auc_binned(reps)
        ece_point, ece_reps = ece(point, score_sums), ece(reps, rep_sums)
    exact = _exact_auc(cells.row_groups(grouping), len(grouping.labels), labels, scores)
    auc_low, auc_high = percentile_ci(auc_reps, confidence)
    shift = exact - auc_point_binned
    auc_low, auc_high = auc_low + shift, auc_high + shift
    ece_low, ece_high = percentile_ci(ece_reps, confidence)
    rows = []
    for g, label in enumerate(grouping.labels):
        for metric, value, low, high in (
            ("roc_auc", exact[g], auc_low[g], auc_high[g]),
            ("ece", ece_point[g], ece_low[g], ece_high[g]),
        ):
            rows.append(
                MetricRow(
                    check_id=CHECK_ID,
                    metric=metric,
                    attribute=grouping.name,
                    group=label,
                    value=value,
                    ci_low=low,
                    ci_high=high,
                    n=int(sizes[g]),
                )
            )
    for metric, point_values, rep_values in (
        ("roc_auc_gap", exact, auc_reps + shift),
        ("ece_gap", ece_point, ece_reps),
    ):
        low, high = percentile_ci(spread(rep_values), confidence)
        rows.append(
            MetricRow(
                check_id=CHECK_ID,
                metric=metric,
                attribute=grouping.name,
                value=spread(point_values),
                ci_low=low,
                ci_high=high,
                n=int(sizes.min()),
            )
        )
    if not grouping.is_intersection:
        rows += _reliability_rows(grouping, point, score_sums, cal_of_fine, k, ctx.settings.calibration_bins)
    return rows


def _exact_auc(row_group: np.ndarray, n_groups: int, labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Return each group's exact ROC AUC (NaN where the group has one label value only).

    The Mann-Whitney form with tie-averaged ranks equals sklearn's roc_auc_score.
    """
    order = np.argsort(row_group, kind="stable")
    bounds = np.searchsorted(row_group[order], np.arange(n_groups + 1))
    out = np.full(n_groups, np.nan)
    for g in range(n_groups):
        rows = order[bounds[g] : bounds[g + 1]]
        y = labels[rows]
        n_pos = int(y.sum())
        n_neg = len(y) - n_pos
        if n_pos and n_neg:
            ranks = rankdata(scores[rows])
            out[g] = (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return out


def _reliability_rows(
    grouping: Grouping,
    point: np.ndarray,
    score_sums: np.ndarray,
    cal_of_fine: np.ndarray,
    k: int,
    n_bins: int,
) -> list[MetricRow]:
    """Return each group's reliability diagram: mean score and observed rate per calibration bin."""
    pos = _by_calibration_bin(point[:, k:], cal_of_fine, n_bins)
    total = _by_calibration_bin(point[:, k:] + point[:, :k], cal_of_fine, n_bins)
    sums = _by_calibration_bin(score_sums[:, k:] + score_sums[:, :k], cal_of_fine, n_bins)
    rows = []
    for g, label in enumerate(grouping.labels):
        for c in range(n_bins):
            if total[g, c] == 0:
                continue
            for metric, value in (
                ("reliability_predicted", sums[g, c] / total[g, c]),
                ("reliability_observed", pos[g, c] / total[g, c]),
            ):
                rows.append(
                    MetricRow(
                        check_id=CHECK_ID,
                        metric=metric,
                        attribute=grouping.name,
                        group=label,
                        feature=_bin_label(c, n_bins),
                        value=value,
                        n=int(total[g, c]),
                    )
                )
    return rows
