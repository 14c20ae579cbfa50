"""Holdout performance of the candidate: accuracy, balanced accuracy, ROC AUC, Brier score."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from assay.checks.context import AuditContext
from assay.checks.phrase import N_, Phrase, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status
from assay.checks.stats import CellCounts, confusion_codes, percentile_ci, rates

CHECK_ID = "performance.classification"


def _count_metrics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Return accuracy and balanced accuracy from counts shaped (..., 4)."""
    r = rates(counts)
    return {"accuracy": r["accuracy"], "balanced_accuracy": (r["tpr"] + 1.0 - r["fpr"]) / 2.0}


def auc_from_bins(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Return ROC AUC from positive and negative counts per score bin (ascending), over axis -1."""
    neg_below = np.cumsum(neg, axis=-1) - neg
    pairs = pos.sum(axis=-1) * neg.sum(axis=-1)
    return (pos * (neg_below + 0.5 * neg)).sum(axis=-1) / pairs


def _auc_interval(
    labels: np.ndarray, scores: np.ndarray, auc: float, ctx: AuditContext
) -> tuple[float, float, int]:
    """Return a stratified row-bootstrap interval for ROC AUC on a capped, seeded sample.

    Each replicate redraws positives and negatives separately, so the class balance is fixed,
    and the AUC is computed from counts per distinct score.
    """
    rng = np.random.default_rng(ctx.seed + 1)
    pos = np.flatnonzero(labels == 1)
    neg = np.flatnonzero(labels == 0)
    cap = ctx.settings.auc_boot_rows
    if len(labels) > cap:  # keep the class balance of the full set in the sample
        k_pos = max(1, round(cap * len(pos) / len(labels)))
        pos = rng.choice(pos, k_pos, replace=False)
        neg = rng.choice(neg, cap - k_pos, replace=False)
    _, bins = np.unique(scores[np.concatenate([pos, neg])], return_inverse=True)
    n_bins = int(bins.max()) + 1
    pos_bin, neg_bin = bins[: len(pos)], bins[len(pos) :]
    reps = np.empty(ctx.settings.n_boot)
    for b in range(len(reps)):
        reps[b] = auc_from_bins(
            np.bincount(pos_bin[rng.integers(0, len(pos_bin), len(pos_bin))], minlength=n_bins),
            np.bincount(neg_bin[rng.integers(0, len(neg_bin), len(neg_bin))], minlength=n_bins),
        )
    low, high = percentile_ci(reps, ctx.settings.confidence)
    # Centre the sample's spread on the full-data AUC (the sample's own AUC differs a little);
    # the width stays that of the smaller sample, which errs on the cautious side.
    sample_auc = auc_from_bins(np.bincount(pos_bin, minlength=n_bins), np.bincount(neg_bin, minlength=n_bins))
    shift = auc - sample_auc
    return float(low + shift), float(high + shift), len(pos) + len(neg)


@register(
    CHECK_ID,
    "Holdout performance",
    (Need.LABELS, Need.DECISIONS),
    ("accuracy", "balanced_accuracy", "roc_auc", "brier_score"),
)
def classification(ctx: AuditContext) -> CheckResult:
    """Measure how well the candidate's decisions and scores match the holdout labels."""
    assert ctx.labels is not None and ctx.decisions is not None
    labels = ctx.labels
    n = len(labels)
    messages: list[Phrase] = []
    if labels.min() == labels.max():
        return CheckResult.of(
            check_id=CHECK_ID,
            title="Holdout performance",
            status=Status.INCONCLUSIVE,
            phrases=[phrase(N_("the evaluation set has only one label value; performance is undefined"))],
        )
    cells = CellCounts(confusion_codes(labels, ctx.decisions), ctx.data.iloc[:, :0])
    point = _count_metrics(cells.counts[0])
    reps = _count_metrics(cells.bootstrap(ctx.settings.n_boot, np.random.default_rng(ctx.seed)))
    rows = []
    for metric, value in point.items():
        low, high = percentile_ci(reps[metric][:, 0], ctx.settings.confidence)
        rows.append(
            MetricRow(
                check_id=CHECK_ID,
                metric=metric,
                value=value,
                ci_low=low,
                ci_high=high,
                n=n,
            )
        )
    if ctx.scores is not None:
        scores = ctx.scores
        auc = roc_auc_score(labels, scores)
        low, high, n_sample = _auc_interval(labels, scores, auc, ctx)
        rows.append(
            MetricRow(
                check_id=CHECK_ID,
                metric="roc_auc",
                value=auc,
                ci_low=low,
                ci_high=high,
                n=n,
            )
        )
        sq = (scores - labels) ** 2
        half = stats.norm.ppf(0.5 + ctx.settings.confidence / 2) * sq.std(ddof=1) / np.sqrt(n)
        brier = float(sq.mean())
        rows.append(
            MetricRow(
                check_id=CHECK_ID,
                metric="brier_score",
                value=brier,
                ci_low=brier - half,
                ci_high=brier + half,
                n=n,
            )
        )
        messages.append(
            phrase(
                N_(
                    "ROC AUC interval from a stratified bootstrap of {rows} rows; "
                    "Brier interval from the normal approximation"
                ),
                rows=str(n_sample),
            )
        )
    else:
        messages.append(phrase(N_("no scores from the candidate: ROC AUC and Brier score not assessed")))
    return CheckResult.of(
        check_id=CHECK_ID,
        title="Holdout performance",
        status=Status.PASSED,
        metrics=rows,
        phrases=messages,
    )
