"""Group fairness of the candidate's decisions: per-group rates, disparities, intervals and tests.

Every number comes from confusion counts per finest cross of the sensitive attributes, so one
multinomial bootstrap of those counts serves every attribute and intersection at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.checks.context import AuditContext
from assay.checks.phrase import N_, Phrase, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status
from assay.checks.stats import (
    CROSS,
    FN,
    TN,
    CellCounts,
    Grouping,
    basic_ci,
    confusion_codes,
    holm,
    min_over_max,
    percentile_ci,
    rate_parts,
    safe_div,
    spread,
    two_proportion_pvalues,
    wilson_interval,
)

CHECK_ID = "fairness.group_metrics"
TITLE = "Group fairness of decisions"
# favourable_rate is the share receiving the favourable outcome the service profile names: the
# positive decision when it is a benefit, the negative one when it is a burden (e.g. a review).
GROUP_RATES = ("selection_rate", "favourable_rate", "tpr", "fnr", "fpr", "tnr", "ppv", "npv", "accuracy")
COMPARED = ("selection_rate", "favourable_rate", "tpr", "fpr", "fnr", "ppv")
TESTED = ("selection_rate", "fpr", "fnr")
SUMMARIES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "predictive_parity_difference",
    "four_fifths_ratio",
)
METRICS = (
    *GROUP_RATES,
    *(f"{r}_difference" for r in COMPARED),
    *(f"{r}_ratio" for r in COMPARED),
    *(f"{r}_p_value" for r in TESTED),
    *(f"{r}_gap" for r in GROUP_RATES),
    *SUMMARIES,
)
MAX_LISTED = 12


def _parts(counts: np.ndarray, name: str, favourable: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return numerator and denominator of a group rate, resolving the favourable outcome."""
    if name == "favourable_rate":
        if favourable:
            return rate_parts(counts, "selection_rate")
        return counts[..., [TN, FN]].sum(axis=-1), counts.sum(axis=-1)
    return rate_parts(counts, name)


def attribute_metrics(counts: np.ndarray, ref: int, favourable: bool) -> dict[str, np.ndarray]:
    """Return every metric of one grouping from counts shaped (..., groups, 4)."""
    r = {name: safe_div(*_parts(counts, name, favourable)) for name in GROUP_RATES}
    out = dict(r)
    for name in COMPARED:
        out[f"{name}_difference"] = r[name] - r[name][..., ref : ref + 1]
        out[f"{name}_ratio"] = safe_div(r[name], r[name][..., ref : ref + 1])
    for name in GROUP_RATES:
        out[f"{name}_gap"] = spread(r[name])
    out["demographic_parity_difference"] = out["selection_rate_gap"]
    out["demographic_parity_ratio"] = min_over_max(r["selection_rate"])
    out["equalized_odds_difference"] = np.fmax(out["tpr_gap"], out["fpr_gap"])
    out["equalized_odds_ratio"] = np.fmin(min_over_max(r["tpr"]), min_over_max(r["fpr"]))
    # Equal opportunity compares the favourable outcome among those who deserve it.
    out["equal_opportunity_difference"] = out["tpr_gap"] if favourable else out["tnr_gap"]
    out["predictive_parity_difference"] = out["ppv_gap"]
    out["four_fifths_ratio"] = min_over_max(r["favourable_rate"])
    return out


def reference_index(
    ctx: AuditContext, grouping: Grouping, sizes: np.ndarray, chosen: dict[str, str]
) -> tuple[int, Phrase | None]:
    """Return the index of the grouping's reference group and a note when a named one is absent.

    A single attribute's reference is the profile's, else its largest group; an intersection's is
    the cross of the references `chosen` for its attributes, else its largest group.
    """
    if grouping.is_intersection:
        if all(a in chosen for a in grouping.attributes):
            wanted = CROSS.join(chosen[a] for a in grouping.attributes)
            if wanted in grouping.labels and sizes[grouping.labels.index(wanted)] > 0:
                return grouping.labels.index(wanted), None
        return int(np.argmax(sizes)), None
    named = ctx.profile.attribute(grouping.name).reference_group
    if named is None:
        return int(np.argmax(sizes)), None
    if named in grouping.labels and sizes[grouping.labels.index(named)] > 0:
        return grouping.labels.index(named), None
    note = phrase(
        N_("reference group {attribute}={group} is absent; used the largest group instead"),
        attribute=grouping.name,
        group=str(named),
    )
    return int(np.argmax(sizes)), note


def _extremes(point: dict[str, np.ndarray], labels: list[str], favourable: bool) -> dict[str, Any]:
    """Name the best and worst group for the outcome and for each kind of error."""
    out: dict[str, Any] = {}
    # Higher is better for the favourable rate; lower is better for error rates.
    for name, higher_is_better in (("favourable_rate", True), ("fpr", False), ("fnr", False)):
        values = point[name]
        if np.all(np.isnan(values)):
            continue
        best = np.nanargmax(values) if higher_is_better else np.nanargmin(values)
        worst = np.nanargmin(values) if higher_is_better else np.nanargmax(values)
        out[name] = {"best": labels[best], "worst": labels[worst]}
    out["harmful_error"] = "fnr" if favourable else "fpr"
    return out


def _grouping_rows(
    ctx: AuditContext,
    grouping: Grouping,
    point_counts: np.ndarray,
    boot_counts: np.ndarray,
    ref: int,
) -> list[MetricRow]:
    """Return the metric rows of one grouping: rates, comparisons, tests and summaries."""
    settings = ctx.settings
    favourable = ctx.profile.positive_decision_is_favourable
    sizes = point_counts.sum(axis=1).astype(int)
    point = attribute_metrics(point_counts, ref, favourable)
    reps = attribute_metrics(boot_counts, ref, favourable)
    rows: list[MetricRow] = []

    def add(metric: str, value: Any, low: Any, high: Any, n: int, group: str | None = None) -> None:
        rows.append(
            MetricRow(
                check_id=CHECK_ID,
                metric=metric,
                attribute=grouping.name,
                group=group,
                value=value,
                ci_low=low,
                ci_high=high,
                n=n,
            )
        )

    for name in GROUP_RATES:  # single rates: Wilson intervals
        k, n = _parts(point_counts, name, favourable)
        low, high = wilson_interval(k, n, settings.confidence)
        for g, label in enumerate(grouping.labels):
            add(name, point[name][g], low[g], high[g], int(sizes[g]), label)
    compared = [f"{name}_{kind}" for name in COMPARED for kind in ("difference", "ratio")]
    stacked = np.stack([reps[m] for m in compared], axis=-1)  # one sort for all intervals
    lows, highs = percentile_ci(stacked, settings.confidence)
    for j, metric in enumerate(compared):
        for g, label in enumerate(grouping.labels):
            if g != ref:  # a group compared with itself says nothing
                n = int(min(sizes[g], sizes[ref]))
                add(metric, point[metric][g], lows[g, j], highs[g, j], n, label)
    for name in TESTED:
        k, n = _parts(point_counts, name, favourable)
        others = np.arange(len(sizes)) != ref
        p, _ = two_proportion_pvalues(k[others], n[others], k[ref], n[ref])
        adjusted = holm(p)
        for j, g in enumerate(np.flatnonzero(others)):
            n_pair = int(min(sizes[g], sizes[ref]))
            add(f"{name}_p_value", adjusted[j], None, None, n_pair, grouping.labels[g])
    summaries = [f"{name}_gap" for name in GROUP_RATES] + list(SUMMARIES)
    stacked = np.stack([reps[m] for m in summaries], axis=-1)
    # Gaps and min/max ratios lie in [0, 1] and pick extreme groups: basic intervals, not percentile.
    lows, highs = basic_ci(stacked, np.array([point[m] for m in summaries]), settings.confidence)
    for j, metric in enumerate(summaries):
        # A comparison across all groups is as good as its smallest group.
        add(metric, point[metric], lows[j], highs[j], int(sizes.min()))
    return rows


@register(CHECK_ID, TITLE, (Need.LABELS, Need.DECISIONS, Need.SENSITIVE), METRICS)
def group_metrics(ctx: AuditContext) -> CheckResult:
    """Measure decision rates and error rates per group and intersection, and the gaps between them."""
    assert ctx.labels is not None and ctx.decisions is not None and ctx.sensitive is not None
    settings = ctx.settings
    cells = CellCounts(confusion_codes(ctx.labels, ctx.decisions), ctx.sensitive)
    boot = cells.bootstrap(settings.n_boot, np.random.default_rng(ctx.seed))
    rows: list[MetricRow] = []
    references: dict[str, str] = {}
    extremes: dict[str, Any] = {}
    small: list[str] = []
    notes: list[Phrase] = []
    for grouping in cells.groupings(settings.intersections):
        point_counts = cells.aggregate(cells.counts, grouping).astype(float)
        sizes = point_counts.sum(axis=1).astype(int)
        ref, note = reference_index(ctx, grouping, sizes, references)
        if note:
            notes.append(note)
        references[grouping.name] = grouping.labels[ref]
        rows += _grouping_rows(ctx, grouping, point_counts, cells.aggregate(boot, grouping), ref)
        point = attribute_metrics(point_counts, ref, ctx.profile.positive_decision_is_favourable)
        extremes[grouping.name] = _extremes(
            point, grouping.labels, ctx.profile.positive_decision_is_favourable
        )
        small += [
            f"{grouping.name}={g} (n={n})"
            for g, n in zip(grouping.labels, sizes, strict=True)
            if n < settings.min_group_size
        ]
    messages = list(notes)
    if small:
        listed: Phrase | str = ", ".join(small[:MAX_LISTED])
        if len(small) > MAX_LISTED:
            listed = phrase(
                N_("{groups} and {count} more"), groups=listed, count=str(len(small) - MAX_LISTED)
            )
        messages.append(
            phrase(
                N_(
                    "{count} groups below the minimum size of {minimum}: {groups}; "
                    "their comparisons are inconclusive"
                ),
                count=str(len(small)),
                minimum=str(settings.min_group_size),
                groups=listed,
            )
        )
    return CheckResult.of(
        check_id=CHECK_ID,
        title=TITLE,
        status=Status.INCONCLUSIVE if small else Status.PASSED,
        metrics=rows,
        phrases=messages,
        details={
            "reference_groups": references,
            "best_and_worst_groups": extremes,
            "intersections": settings.intersections,
            "n_boot": settings.n_boot,
            "confidence": settings.confidence,
            "interval_method": {
                "group rates": "Wilson score interval",
                "differences, ratios, gaps": "percentile bootstrap of multinomial confusion-cell counts",
            },
            "tests": "two-proportion chi-square (Fisher's exact when an expected count is below 5), "
            "each group against the reference group, Holm-adjusted across the groups of a grouping",
            "positive_decision_is_favourable": ctx.profile.positive_decision_is_favourable,
            "favourable_outcome": "positive decision"
            if ctx.profile.positive_decision_is_favourable
            else "negative decision (the positive decision is a burden)",
        },
    )
