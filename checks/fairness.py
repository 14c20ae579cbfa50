"""Group fairness of the candidate's decisions: per-group rates, disparities, bootstrap intervals."""

from __future__ import annotations

import warnings

import numpy as np

from assay.checks.context import AuditContext
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status
from assay.checks.stats import CellCounts, confusion_codes, percentile_ci, rates, safe_div

CHECK_ID = "fairness.group_metrics"
GROUP_RATES = ("selection_rate", "tpr", "fpr", "ppv")
METRICS = (
    *GROUP_RATES,
    "selection_rate_difference",
    "selection_rate_ratio",
    "demographic_parity_difference",
    "equalized_odds_difference",
)


def _spread(values: np.ndarray) -> np.ndarray:
    """Return max minus min over the group axis (-1), ignoring groups where a rate is undefined."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(values, axis=-1) - np.nanmin(values, axis=-1)


def _attribute_metrics(group_counts: np.ndarray, ref: int) -> dict[str, np.ndarray]:
    """Return every metric of one attribute from counts shaped (..., groups, 4)."""
    r = rates(group_counts)
    sel = r["selection_rate"]
    out = {name: r[name] for name in GROUP_RATES}
    out["selection_rate_difference"] = sel - sel[..., ref : ref + 1]
    out["selection_rate_ratio"] = safe_div(sel, sel[..., ref : ref + 1])
    out["demographic_parity_difference"] = _spread(sel)
    out["equalized_odds_difference"] = np.fmax(_spread(r["tpr"]), _spread(r["fpr"]))
    return out


@register(
    CHECK_ID,
    "Group fairness of decisions",
    (Need.LABELS, Need.DECISIONS, Need.SENSITIVE),
    METRICS,
)
def group_metrics(ctx: AuditContext) -> CheckResult:
    """Measure selection rate, TPR, FPR and PPV per group, and the gaps between groups."""
    assert ctx.labels is not None and ctx.decisions is not None and ctx.sensitive is not None
    settings = ctx.settings
    cells = CellCounts(confusion_codes(ctx.labels, ctx.decisions), ctx.sensitive)
    boot = cells.bootstrap(settings.n_boot, np.random.default_rng(ctx.seed))
    rows: list[MetricRow] = []
    references: dict[str, str] = {}
    small: list[str] = []
    notes: list[str] = []
    for attr in cells.attributes:
        groups = cells.groups[attr]
        member = cells.membership(attr)
        point_counts = member @ cells.counts  # (G, 4)
        sizes = point_counts.sum(axis=1).astype(int)
        ref = _reference_index(ctx, attr, groups, sizes)
        references[attr] = groups[ref]
        named = ctx.profile.attribute(attr).reference_group
        if named is not None and named != groups[ref]:
            notes.append(f"reference group {attr}={named} is absent; used the largest group instead")
        point = _attribute_metrics(point_counts, ref)
        reps = _attribute_metrics(np.einsum("gc,bcf->bgf", member, boot), ref)
        for metric, values in point.items():
            low, high = percentile_ci(reps[metric], settings.confidence)
            if values.ndim == 0:  # one number for the attribute, as good as its smallest group
                rows.append(
                    MetricRow(
                        check_id=CHECK_ID,
                        metric=metric,
                        attribute=attr,
                        value=values,
                        ci_low=low,
                        ci_high=high,
                        n=int(sizes.min()),
                    )
                )
                continue
            for g, group in enumerate(groups):
                if metric.startswith("selection_rate_") and g == ref:
                    continue  # a group compared with itself says nothing
                rows.append(
                    MetricRow(
                        check_id=CHECK_ID,
                        metric=metric,
                        attribute=attr,
                        group=group,
                        value=values[g],
                        ci_low=low[g],
                        ci_high=high[g],
                        n=int(sizes[g]),
                    )
                )
        small += [
            f"{attr}={g} (n={n})" for g, n in zip(groups, sizes, strict=True) if n < settings.min_group_size
        ]
    messages = list(notes)
    if small:
        messages.append(
            f"groups below the minimum size of {settings.min_group_size}: {', '.join(small)}; "
            "their comparisons are inconclusive"
        )
    return CheckResult(
        check_id=CHECK_ID,
        title="Group fairness of decisions",
        status=Status.INCONCLUSIVE if small else Status.PASSED,
        metrics=rows,
        messages=messages,
        details={
            "reference_groups": references,
            "n_boot": settings.n_boot,
            "confidence": settings.confidence,
            "interval_method": "percentile bootstrap of multinomial confusion-cell counts",
            "positive_decision_is_favourable": ctx.profile.positive_decision_is_favourable,
        },
    )


def _reference_index(ctx: AuditContext, attr: str, groups: list[str], sizes: np.ndarray) -> int:
    """Return the index of the profile's reference group, or of the largest group."""
    named = ctx.profile.attribute(attr).reference_group
    if named is not None and named in groups:
        return groups.index(named)
    return int(np.argmax(sizes))
