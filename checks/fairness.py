"""Group fairness of the candidate's decisions: per-group rates, disparities, intervals and tests.

Every number comes from confusion counts per finest cross of the sensitive attributes, aggregated
to each attribute and intersection. Rates, comparisons with the reference group and summaries
across groups follow one table of definitions (`checks/disparity.py`), shared with the ranking.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.checks.context import AuditContext
from assay.checks.disparity import (
    COMPARED,
    GROUP_RATES,
    SUMMARY_NAMES,
    Compared,
    Summary,
    compare_to_reference,
    rate_counts,
    summaries,
    summarize,
)
from assay.checks.intervals import rate_interval
from assay.checks.phrase import N_, Phrase, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status
from assay.checks.stats import (
    CROSS,
    CellCounts,
    Grouping,
    confusion_codes,
    holm,
    safe_div,
    two_proportion_pvalues,
)

CHECK_ID = "fairness.group_metrics"
TITLE = "Group fairness of decisions"
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
    *SUMMARY_NAMES,
)
MAX_LISTED = 12


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


def _extremes(counts: np.ndarray, labels: list[str], favourable: bool) -> dict[str, Any]:
    """Name the best and worst group for the outcome and for each kind of error."""
    out: dict[str, Any] = {}
    # Higher is better for the favourable rate; lower is better for error rates.
    for name, higher_is_better in (("favourable_rate", True), ("fpr", False), ("fnr", False)):
        values = safe_div(*rate_counts(counts, name, favourable))
        if np.all(np.isnan(values)):
            continue
        best = np.nanargmax(values) if higher_is_better else np.nanargmin(values)
        worst = np.nanargmin(values) if higher_is_better else np.nanargmax(values)
        out[name] = {"best": labels[best], "worst": labels[worst]}
    out["harmful_error"] = "fnr" if favourable else "fpr"
    return out


def _grouping_rows(ctx: AuditContext, grouping: Grouping, counts: np.ndarray, ref: int) -> list[MetricRow]:
    """Return the metric rows of one grouping: rates, comparisons, tests and summaries."""
    settings = ctx.settings
    favourable = ctx.profile.positive_decision_is_favourable
    sizes = counts.sum(axis=1)
    labels = grouping.labels
    rows: list[MetricRow] = []

    for name in GROUP_RATES:
        k, n = rate_counts(counts, name, favourable)
        low, high = rate_interval(k, n, settings.confidence)
        rate = safe_div(k, n)
        for g, label in enumerate(labels):
            rows.append(
                MetricRow(
                    check_id=CHECK_ID,
                    metric=name,
                    attribute=grouping.name,
                    group=label,
                    value=rate[g],
                    ci_low=low[g],
                    ci_high=high[g],
                    n=int(n[g]),
                )
            )
    for name in COMPARED:
        k, n = rate_counts(counts, name, favourable)
        for kind in ("difference", "ratio"):
            found = compare_to_reference(
                kind, name, k, n, sizes, labels, ref, settings.confidence, settings.min_group_size
            )
            for g, result in found.items():
                rows.append(result.row(CHECK_ID, f"{name}_{kind}", attribute=grouping.name, group=labels[g]))
    for name in TESTED:
        k, n = rate_counts(counts, name, favourable)
        others = np.arange(len(labels)) != ref
        p, _ = two_proportion_pvalues(k[others], n[others], k[ref], n[ref])
        adjusted = holm(p)
        for j, g in enumerate(np.flatnonzero(others)):
            rows.append(
                MetricRow(
                    check_id=CHECK_ID,
                    metric=f"{name}_p_value",
                    attribute=grouping.name,
                    group=labels[g],
                    value=adjusted[j],
                    n=int(min(n[g], n[ref])),
                )
            )
    found: dict[Summary, Compared] = {}  # a gap named twice (tpr_gap, equal_opportunity_difference)
    for metric, summary in summaries(favourable).items():
        if summary not in found:
            found[summary] = summarize(
                metric, summary, counts, labels, favourable, settings.confidence, settings.min_group_size
            )
        rows.append(found[summary].row(CHECK_ID, metric, attribute=grouping.name))
    return rows


@register(CHECK_ID, TITLE, (Need.LABELS, Need.DECISIONS, Need.SENSITIVE), METRICS)
def group_metrics(ctx: AuditContext) -> CheckResult:
    """Measure decision rates and error rates per group and intersection, and the gaps between them."""
    assert ctx.labels is not None and ctx.decisions is not None and ctx.sensitive is not None
    settings = ctx.settings
    cells = CellCounts(confusion_codes(ctx.labels, ctx.decisions), ctx.sensitive)
    favourable = ctx.profile.positive_decision_is_favourable
    rows: list[MetricRow] = []
    references: dict[str, str] = {}
    extremes: dict[str, Any] = {}
    small: list[str] = []
    notes: list[Phrase] = []
    for grouping in cells.groupings(settings.intersections):
        counts = cells.aggregate(cells.counts, grouping).astype(float)
        sizes = counts.sum(axis=1).astype(int)
        ref, note = reference_index(ctx, grouping, sizes, references)
        if note:
            notes.append(note)
        references[grouping.name] = grouping.labels[ref]
        rows += _grouping_rows(ctx, grouping, counts, ref)
        extremes[grouping.name] = _extremes(counts, grouping.labels, favourable)
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
                    "no breach is decided on their evidence alone"
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
            "confidence": settings.confidence,
            "minimum_evidence": settings.min_group_size,
            "interval_method": {
                "group rates": "Clopper-Pearson interval; n is the rate's denominator",
                "differences and ratios to the reference": "MOVER from the two groups' Clopper-Pearson "
                "intervals (Newcombe; Donner & Zou for ratios), simultaneous over the grouping's "
                "comparisons (Bonferroni)",
                "summaries across groups": "simultaneous pairwise MOVER intervals, Bonferroni over the "
                "pairs; the breach side from the groups whose denominator reaches the minimum evidence",
            },
            "tests": "two-proportion chi-square (Fisher's exact when an expected count is below 5), "
            "each group against the reference group, Holm-adjusted across the groups of a grouping",
            "positive_decision_is_favourable": ctx.profile.positive_decision_is_favourable,
            "favourable_outcome": "positive decision"
            if ctx.profile.positive_decision_is_favourable
            else "negative decision (the positive decision is a burden)",
        },
    )
