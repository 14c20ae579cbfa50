"""Bias in the data itself: representation, label bias, missingness by group, proxies of attributes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from assay.checks.context import AuditContext, SensitiveAttribute
from assay.checks.disparity import Summary, compare_to_reference, summarize
from assay.checks.fairness import reference_index
from assay.checks.intervals import rate_interval
from assay.checks.phrase import N_, Phrase, joined, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status
from assay.checks.stats import (
    CellCounts,
    holm,
    rate_parts,
    safe_div,
    two_proportion_pvalues,
)

REPRESENTATION = "data.representation"
LABEL_BIAS = "data.label_bias"
MISSING = "data.missing_by_group"
PROXIES = "data.proxies"

# A numeric feature with more distinct values than this is cut into this many quantile bins.
MAX_BINS = 20
# Categories rarer than this share of rows are pooled, so a handful of rows cannot look like a proxy.
RARE_SHARE = 0.001
# Pseudo-rows at the overall group rate added to every bin's encoding, so an empty bin gets the prior.
ENCODING_PRIOR_ROWS = 1.0

REPRESENTATION_METRICS = ("share", "reference_share", "representation_ratio", "representation_p_value")
LABEL_BIAS_METRICS = (
    "base_rate",
    "base_rate_difference",
    "base_rate_ratio",
    "base_rate_p_value",
    "base_rate_gap",
)
MISSING_METRICS = ("missing_share", "missing_share_gap", "missing_share_p_value")
PROXY_METRICS = ("proxy_nmi", "proxy_auc")


# --- shared helpers ------------------------------------------------------------------------------


def _profile_attribute(ctx: AuditContext, name: str) -> SensitiveAttribute | None:
    """Return the profile's attribute called `name`, or None when the profile does not declare it."""
    return next((a for a in ctx.profile.sensitive_attributes if a.name == name), None)


def _plain_columns(ctx: AuditContext) -> list[str]:
    """Return the data's columns other than the id, the label, the sensitive and free-text columns."""
    skip = {ctx.profile.id_column, ctx.profile.label.column} | ctx.profile.sensitive_columns()
    return [c for c in ctx.data.columns if c not in skip and c not in ctx.profile.free_text]


def _small(name: str, labels: list[str], sizes: np.ndarray, minimum: int) -> list[str]:
    """Return `name=group (n=…)` for every group smaller than `minimum`."""
    return [f"{name}={g} (n={int(n)})" for g, n in zip(labels, sizes, strict=True) if n < minimum]


def _small_message(small: list[str], minimum: int, consequence: Phrase) -> Phrase:
    """Return the message naming the groups below the minimum size."""
    return phrase(
        N_("groups below the minimum size of {minimum}: {groups}; {consequence}"),
        minimum=str(minimum),
        groups=", ".join(small),
        consequence=consequence,
    )


def _not_assessed(check_id: str, title: str, reason: Phrase) -> CheckResult:
    """Return a not-assessed result with its one-sentence reason."""
    return CheckResult.of(
        check_id=check_id,
        title=title,
        status=Status.NOT_ASSESSED,
        phrases=[phrase(N_("not assessed: {reason}"), reason=reason)],
    )


# --- data.representation -------------------------------------------------------------------------

REPRESENTATION_TITLE = "Representation of groups against the reference population"


@register(REPRESENTATION, REPRESENTATION_TITLE, (Need.SENSITIVE,), REPRESENTATION_METRICS)
def representation(ctx: AuditContext) -> CheckResult:
    """Compare each group's share of the data with its share of the profile's reference population."""
    assert ctx.sensitive is not None
    settings = ctx.settings
    declared = [a for a in ctx.profile.sensitive_attributes if a.population_shares]
    if not declared:
        return _not_assessed(
            REPRESENTATION,
            REPRESENTATION_TITLE,
            phrase(
                N_("the service profile gives no reference population shares for any sensitive attribute")
            ),
        )
    assessed = [a for a in declared if a.name in ctx.sensitive.columns]
    if not assessed:
        return _not_assessed(
            REPRESENTATION,
            REPRESENTATION_TITLE,
            phrase(N_("no attribute with reference population shares is among the audit's sensitive data")),
        )
    rows: list[MetricRow] = []
    notes: list[Phrase] = []
    small: list[str] = []
    per_attribute: dict[str, Any] = {}
    without = [c for c in ctx.sensitive.columns if c not in {a.name for a in assessed}]
    if without:
        notes.append(
            phrase(
                N_("not assessed for {attributes}: the profile gives no population shares"),
                attributes=", ".join(without),
            )
        )
    for attr in assessed:
        shares: dict[str, float] = dict(attr.population_shares or {})
        observed = ctx.sensitive[attr.name].value_counts()
        uncovered = {str(g): int(n) for g, n in observed.items() if g not in shares}
        absent = [g for g in shares if g not in observed.index]
        if uncovered:
            listed = ", ".join(f"{g} (n={n})" for g, n in uncovered.items())
            notes.append(
                phrase(
                    N_(
                        "{attribute}: groups without a reference share are left out of the comparison: "
                        "{groups}"
                    ),
                    attribute=attr.name,
                    groups=listed,
                )
            )
        if absent:
            notes.append(
                phrase(
                    N_("{attribute}: reference groups absent from the data: {groups}"),
                    attribute=attr.name,
                    groups=", ".join(absent),
                )
            )
        groups = list(shares)
        counts = np.array([int(observed.get(g, 0)) for g in groups])
        reference = np.array([shares[g] for g in groups]) / sum(shares.values())
        # Shares are of the rows the reference population describes, so unknown groups do not dilute them.
        total = int(counts.sum())
        share = safe_div(counts, total)
        low, high = rate_interval(counts, np.full(len(groups), total), settings.confidence)
        for g, group in enumerate(groups):
            common = {"check_id": REPRESENTATION, "attribute": attr.name, "group": group, "n": int(counts[g])}
            rows += [
                MetricRow(metric="share", value=share[g], ci_low=low[g], ci_high=high[g], **common),
                MetricRow(metric="reference_share", value=reference[g], **common),
                MetricRow(
                    metric="representation_ratio",
                    value=safe_div(share[g], reference[g]),
                    ci_low=safe_div(low[g], reference[g]),
                    ci_high=safe_div(high[g], reference[g]),
                    **common,
                ),
            ]
        p_value, statistic = np.nan, np.nan
        if total > 0 and len(groups) > 1:
            test = stats.chisquare(counts, f_exp=reference * total)
            p_value, statistic = float(test.pvalue), float(test.statistic)
        rows.append(
            MetricRow(
                check_id=REPRESENTATION,
                metric="representation_p_value",
                attribute=attr.name,
                value=p_value,
                n=total,
            )
        )
        present = counts > 0
        small += _small(
            attr.name,
            [g for g, p in zip(groups, present, strict=True) if p],
            counts[present],
            settings.min_group_size,
        )
        per_attribute[attr.name] = {
            "reference_shares": shares,
            "rows_compared": total,
            "groups_without_reference_share": uncovered,
            "reference_groups_absent": absent,
            "chi_square": statistic,
            "degrees_of_freedom": len(groups) - 1,
        }
    messages = list(notes)
    if small:
        messages.append(
            _small_message(small, settings.min_group_size, phrase(N_("their shares are inconclusive")))
        )
    return CheckResult.of(
        check_id=REPRESENTATION,
        title=REPRESENTATION_TITLE,
        status=Status.INCONCLUSIVE if small else Status.PASSED,
        metrics=rows,
        phrases=messages,
        details={
            "attributes": per_attribute,
            "confidence": settings.confidence,
            "interval_method": "Clopper-Pearson interval of the share; the ratio's bounds are its bounds "
            "over the reference share",
            "test": "chi-square goodness of fit of the observed counts to the reference shares",
        },
    )


# --- data.label_bias -----------------------------------------------------------------------------

LABEL_BIAS_TITLE = "Base rates of the label by group"


@register(LABEL_BIAS, LABEL_BIAS_TITLE, (Need.LABELS, Need.SENSITIVE), LABEL_BIAS_METRICS)
def label_bias(ctx: AuditContext) -> CheckResult:
    """Measure each group's share of positive labels and its gap to the reference group."""
    assert ctx.labels is not None and ctx.sensitive is not None
    if len(ctx.labels) == 0:
        return _not_assessed(LABEL_BIAS, LABEL_BIAS_TITLE, phrase(N_("the data has no rows")))
    settings = ctx.settings
    # Decisions are all zero, so the cells are TN (label 0) and FN (label 1) and base_rate is the label rate.
    cells = CellCounts(np.asarray(ctx.labels, dtype=np.int64) * 2, ctx.sensitive)
    rows: list[MetricRow] = []
    notes: list[Phrase] = []
    small: list[str] = []
    significant: list[dict[str, Any]] = []
    references: dict[str, str] = {}
    gap = Summary("difference", ("base_rate",))
    for grouping in cells.groupings(settings.intersections):
        counts = cells.aggregate(cells.counts, grouping)  # (G, 4)
        k, n = rate_parts(counts, "base_rate")
        ref, note = reference_index(ctx, grouping, n, references)
        references[grouping.name] = grouping.labels[ref]
        if note:
            notes.append(note)
        rate = safe_div(k, n)
        low, high = rate_interval(k, n, settings.confidence)
        compared = {
            kind: compare_to_reference(
                kind, "base_rate", k, n, n, grouping.labels, ref, settings.confidence, settings.min_group_size
            )
            for kind in ("difference", "ratio")
        }
        others = np.array([g for g in range(len(grouping.labels)) if g != ref], dtype=int)
        raw, _ = two_proportion_pvalues(
            k[others], n[others], np.full(len(others), k[ref]), np.full(len(others), n[ref])
        )
        adjusted = np.full(len(grouping.labels), np.nan)
        adjusted[others] = holm(raw)
        for g, group in enumerate(grouping.labels):
            where = {"attribute": grouping.name, "group": group}
            common = {"check_id": LABEL_BIAS, **where}
            rows.append(
                MetricRow(
                    metric="base_rate", value=rate[g], ci_low=low[g], ci_high=high[g], n=int(n[g]), **common
                )
            )
            if g == ref:
                continue  # a group compared with itself says nothing
            rows += [compared[kind][g].row(LABEL_BIAS, f"base_rate_{kind}", **where) for kind in compared]
            rows.append(
                MetricRow(metric="base_rate_p_value", value=adjusted[g], n=int(min(n[g], n[ref])), **common)
            )
            if adjusted[g] < settings.significance:
                significant.append(
                    {
                        "attribute": grouping.name,
                        "group": group,
                        "reference": grouping.labels[ref],
                        "base_rate": float(rate[g]),
                        "reference_base_rate": float(rate[ref]),
                        "p_value": float(adjusted[g]),
                        "n": int(n[g]),
                    }
                )
        found = summarize(
            "base_rate_gap", gap, counts, grouping.labels, True, settings.confidence, settings.min_group_size
        )
        rows.append(found.row(LABEL_BIAS, "base_rate_gap", attribute=grouping.name))
        small += _small(grouping.name, grouping.labels, n, settings.min_group_size)
    messages = list(notes)
    if significant:
        listed = [
            phrase(
                N_("{attribute}={group} ({rate} vs {reference_rate} for {reference}, Holm p={p})"),
                attribute=str(s["attribute"]),
                group=str(s["group"]),
                rate=f"{s['base_rate']:.3f}",
                reference_rate=f"{s['reference_base_rate']:.3f}",
                reference=str(s["reference"]),
                p=f"{s['p_value']:.2g}",
            )
            if s["n"] >= settings.disclosure_min
            else phrase(
                N_("{attribute}={group} (numbers withheld: a group below {minimum})"),
                attribute=str(s["attribute"]),
                group=str(s["group"]),
                minimum=str(settings.disclosure_min),
            )
            for s in significant
        ]
        messages.append(
            phrase(
                N_("base rate differs significantly from the reference group: {groups}"),
                groups=joined(listed),
            )
        )
    if small:
        messages.append(
            _small_message(
                small, settings.min_group_size, phrase(N_("no breach is decided on their evidence alone"))
            )
        )
    return CheckResult.of(
        check_id=LABEL_BIAS,
        title=LABEL_BIAS_TITLE,
        status=Status.INCONCLUSIVE if small else Status.PASSED,
        metrics=rows,
        phrases=messages,
        details={
            "reference_groups": references,
            "significant": significant,
            "significance": settings.significance,
            "intersections": settings.intersections,
            "confidence": settings.confidence,
            "interval_method": "Clopper-Pearson interval of the base rate; MOVER for differences and ratios "
            "to the reference; simultaneous pairwise MOVER intervals (Bonferroni) for the gap",
            "test": "two-proportion chi-square test against the reference group (Fisher's exact test "
            "where an expected count is below 5), Holm-adjusted across the groups of each attribute",
        },
    )


# --- data.missing_by_group -----------------------------------------------------------------------

MISSING_TITLE = "Missing values by group"


def _independence_pvalue(k: np.ndarray, n: np.ndarray) -> float:
    """Return the p-value that the missing share is the same in every group (k missing of n)."""
    if len(n) < 2 or k.sum() in (0, n.sum()):
        return 1.0 if len(n) >= 2 else float("nan")
    if len(n) == 2:  # Fisher's exact test takes over from chi-square when counts are small
        return float(two_proportion_pvalues(k[0], n[0], k[1], n[1])[0][0])
    table = np.stack([k, n - k], axis=1)
    return float(stats.chi2_contingency(table, correction=False).pvalue)


@register(MISSING, MISSING_TITLE, (Need.SENSITIVE,), MISSING_METRICS)
def missing_by_group(ctx: AuditContext) -> CheckResult:
    """Measure each feature's share of missing values per group and test whether it differs."""
    assert ctx.sensitive is not None
    settings = ctx.settings
    features = _plain_columns(ctx)
    if not features:
        return _not_assessed(
            MISSING,
            MISSING_TITLE,
            phrase(N_("the data has no columns besides the id, label and sensitive columns")),
        )
    n_rows = len(ctx.data)
    missing_counts = ctx.data[features].isna().sum()
    gap = Summary("difference", ("base_rate",))
    # CellCounts factorises the groups once per feature, and categories factorise far faster than strings.
    sensitive = ctx.sensitive.astype("category")
    rows: list[MetricRow] = []
    tests: list[dict[str, Any]] = []
    small: dict[str, None] = {}  # ordered set: every feature meets the same groups
    for feature in features:
        if missing_counts[feature] == 0:
            low, high = rate_interval(0, n_rows, settings.confidence)
            rows.append(
                MetricRow(
                    check_id=MISSING,
                    metric="missing_share",
                    feature=feature,
                    value=0.0,
                    ci_low=low,
                    ci_high=high,
                    n=n_rows,
                )
            )
            continue
        missing = ctx.data[feature].isna().to_numpy()
        # Missing rows are coded as label 1 with decision 0, so base_rate is the missing share.
        cells = CellCounts(missing.astype(np.int64) * 2, sensitive)
        for grouping in cells.groupings("none"):
            counts = cells.aggregate(cells.counts, grouping)
            k, n = rate_parts(counts, "base_rate")
            share = safe_div(k, n)
            low, high = rate_interval(k, n, settings.confidence)
            for g, group in enumerate(grouping.labels):
                rows.append(
                    MetricRow(
                        check_id=MISSING,
                        metric="missing_share",
                        attribute=grouping.name,
                        group=group,
                        feature=feature,
                        value=share[g],
                        ci_low=low[g],
                        ci_high=high[g],
                        n=int(n[g]),
                    )
                )
            found = summarize(
                "missing_share_gap",
                gap,
                counts,
                grouping.labels,
                True,
                settings.confidence,
                settings.min_group_size,
            )
            rows.append(found.row(MISSING, "missing_share_gap", attribute=grouping.name, feature=feature))
            tests.append(
                {"feature": feature, "attribute": grouping.name, "p_value": _independence_pvalue(k, n)}
            )
            small.update(dict.fromkeys(_small(grouping.name, grouping.labels, n, settings.min_group_size)))
    adjusted = holm(np.array([t["p_value"] for t in tests], dtype=float))
    for t, p in zip(tests, adjusted, strict=True):
        t["p_value_holm"] = float(p)
        rows.append(
            MetricRow(
                check_id=MISSING,
                metric="missing_share_p_value",
                attribute=t["attribute"],
                feature=t["feature"],
                value=p,
                n=n_rows,
            )
        )
    flagged = [t for t in tests if t["p_value_holm"] < settings.significance]
    messages: list[Phrase] = []
    if flagged:
        listed = [
            phrase(
                N_("{feature} by {attribute} (Holm p={p})"),
                feature=str(t["feature"]),
                attribute=str(t["attribute"]),
                p=f"{t['p_value_holm']:.2g}",
            )
            for t in flagged
        ]
        messages.append(
            phrase(
                N_("missingness differs significantly between groups: {features}"), features=joined(listed)
            )
        )
    elif tests:
        messages.append(phrase(N_("no feature's missingness differs significantly between groups")))
    else:
        messages.append(phrase(N_("no feature has missing values")))
    if small:
        messages.append(
            _small_message(
                list(small), settings.min_group_size, phrase(N_("their missing shares are inconclusive"))
            )
        )
    return CheckResult.of(
        check_id=MISSING,
        title=MISSING_TITLE,
        status=Status.INCONCLUSIVE if small else Status.PASSED,
        metrics=rows,
        phrases=messages,
        details={
            "features": features,
            "features_with_missing": [f for f in features if missing_counts[f] > 0],
            "tests": tests,
            "flagged": [{"feature": t["feature"], "attribute": t["attribute"]} for t in flagged],
            "significance": settings.significance,
            "confidence": settings.confidence,
            "interval_method": "Clopper-Pearson interval of the missing share; simultaneous pairwise MOVER "
            "intervals (Bonferroni) for the gap",
            "test": "chi-square test of independence of missingness and group (Fisher's exact test for "
            "two groups with an expected count below 5), Holm-adjusted across features × attributes",
        },
    )


# --- data.proxies --------------------------------------------------------------------------------

PROXIES_TITLE = "Features that act as proxies of sensitive attributes"


def discretise(column: pd.Series, max_bins: int = MAX_BINS, rare_share: float = RARE_SHARE) -> np.ndarray:
    """Return a bin code (0..bins-1) per row: quantile bins or categories, rare ones pooled, missing apart."""
    missing = column.isna().to_numpy()
    dated = pd.api.types.is_datetime64_any_dtype(column)
    numeric = dated or (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column))
    if numeric and column.nunique(dropna=True) > max_bins:
        if dated:  # dates are ordered like numbers, so they get quantile bins too
            x = (column - column.min()).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)
        else:
            x = column.to_numpy(dtype=float, na_value=np.nan)
        edges = np.unique(np.nanquantile(x, np.linspace(0.0, 1.0, max_bins + 1)[1:-1]))
        codes = np.searchsorted(edges, x, side="right").astype(np.int64)
    else:
        codes, uniques = pd.factorize(column, sort=True)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        rare = counts < rare_share * len(column)
        if rare.any():
            remap = np.where(rare, len(uniques), np.arange(len(uniques)))
            codes = np.where(codes >= 0, remap[np.maximum(codes, 0)], -1)
    codes = np.where(missing, -1, codes)
    return pd.factorize(codes, sort=True)[0].astype(np.int64)


def _nmi(table: np.ndarray) -> float:
    """Return sklearn's normalized mutual information (arithmetic mean) from a contingency table."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    rows, cols = table.shape
    # sklearn calls two constant labellings a perfect match (1.0); a constant reveals nothing, so 0.
    if rows <= 1 or cols <= 1:
        return 0.0
    p = table / table.sum()
    pr, pc = p.sum(axis=1), p.sum(axis=0)
    nz = p > 0
    mi = float(np.sum(p[nz] * np.log(p[nz] / np.outer(pr, pc)[nz])))
    if mi <= 0.0:
        return 0.0
    entropy_r, entropy_c = -np.sum(pr * np.log(pr)), -np.sum(pc * np.log(pc))
    return float(mi / ((entropy_r + entropy_c) / 2.0))


def _auc_from_counts(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """Return the ROC AUC of units that share a score, from their positive and negative counts."""
    values, unit = np.unique(score, return_inverse=True)
    p = np.bincount(unit, weights=pos, minlength=len(values))
    q = np.bincount(unit, weights=neg, minlength=len(values))
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    below = np.cumsum(q) - q
    return float((np.sum(p * below) + 0.5 * np.sum(p * q)) / (p.sum() * q.sum()))


def _proxy_aucs(
    bins: np.ndarray, n_bins: int, groups: np.ndarray, n_groups: int, fold: np.ndarray
) -> np.ndarray:
    """Return, per group, the one-vs-rest AUC of each bin's group rate learned on the other fold."""
    table = np.bincount((fold * n_bins + bins) * n_groups + groups, minlength=2 * n_bins * n_groups)
    table = table.reshape(2, n_bins, n_groups).astype(float)
    in_bin = table.sum(axis=2, keepdims=True)
    prior = table.sum(axis=(0, 1)) / table.sum()
    encoding = (table + ENCODING_PRIOR_ROWS * prior) / (in_bin + ENCODING_PRIOR_ROWS)
    # Rows of fold k are scored by the rates of fold 1-k: cross-fitting keeps noise from looking like signal.
    score = encoding[::-1]
    aucs = np.full(n_groups, np.nan)
    for g in range(n_groups):
        pos = table[:, :, g]
        aucs[g] = _auc_from_counts(score[:, :, g].ravel(), pos.ravel(), (in_bin[:, :, 0] - pos).ravel())
    return aucs


def _auc_interval(auc: float, n_pos: int, n_neg: int, confidence: float) -> tuple[float, float]:
    """Return the Hanley–McNeil normal interval of an AUC from its numbers of positives and negatives."""
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    half = stats.norm.ppf(0.5 + confidence / 2.0) * np.sqrt(max(var, 0.0))
    return max(auc - half, 0.0), min(auc + half, 1.0)


@register(PROXIES, PROXIES_TITLE, (Need.SENSITIVE,), PROXY_METRICS)
def proxies(ctx: AuditContext) -> CheckResult:
    """Measure how much each candidate feature alone reveals of each sensitive attribute."""
    assert ctx.sensitive is not None
    settings = ctx.settings
    notes: list[Phrase] = []
    if ctx.model is not None:
        skip = {ctx.profile.id_column, ctx.profile.label.column} | ctx.profile.sensitive_columns()
        direct = [f for f in ctx.model.features if f in ctx.profile.sensitive_columns()]
        absent = [f for f in ctx.model.features if f not in ctx.data.columns]
        features = [f for f in ctx.model.features if f not in skip and f in ctx.data.columns]
        if direct:
            notes.append(
                phrase(
                    N_("the model uses sensitive columns directly: {columns} (not assessed as proxies)"),
                    columns=", ".join(direct),
                )
            )
        if absent:
            notes.append(
                phrase(
                    N_("model features absent from the data are not assessed: {features}"),
                    features=", ".join(absent),
                )
            )
        source = phrase(N_("the model's input features"))
    else:
        features = _plain_columns(ctx)
        source = phrase(N_("every column except the id, label, sensitive and free-text columns"))
    if not features:
        return _not_assessed(
            PROXIES, PROXIES_TITLE, phrase(N_("there is no candidate feature ({source})"), source=source)
        )
    n_rows = len(ctx.data)
    if n_rows == 0:
        return _not_assessed(PROXIES, PROXIES_TITLE, phrase(N_("the data has no rows")))
    rng = np.random.default_rng(ctx.seed)
    fold = np.zeros(n_rows, dtype=np.int64)
    fold[rng.permutation(n_rows)[: n_rows // 2]] = 1
    attributes: dict[str, tuple[np.ndarray, list[str], np.ndarray]] = {}
    small: list[str] = []
    for attr in ctx.sensitive.columns:
        codes, uniques = pd.factorize(ctx.sensitive[attr], sort=True)
        labels = [str(x) for x in uniques]
        sizes = np.bincount(codes, minlength=len(labels))
        attributes[attr] = (codes.astype(np.int64), labels, sizes)
        small += _small(attr, labels, sizes, settings.min_group_size)
    rows: list[MetricRow] = []
    ranked: list[dict[str, Any]] = []
    for feature in features:
        bins = discretise(ctx.data[feature])
        n_bins = int(bins.max()) + 1
        for attr, (groups, labels, sizes) in attributes.items():
            table = np.bincount(bins * len(labels) + groups, minlength=n_bins * len(labels))
            nmi = _nmi(table.reshape(n_bins, len(labels)))
            aucs = _proxy_aucs(bins, n_bins, groups, len(labels), fold)
            # A group below the minimum size is too noisy to speak for the attribute unless all are.
            big = sizes >= settings.min_group_size
            usable = np.where(big, aucs, np.nan) if big.any() else aucs
            best = int(np.nanargmax(usable)) if np.isfinite(usable).any() else None
            auc, group, low, high = float("nan"), None, None, None
            if best is not None:
                auc, group = float(usable[best]), labels[best]
                low, high = _auc_interval(
                    auc, int(sizes[best]), n_rows - int(sizes[best]), settings.confidence
                )
            flagged = bool(auc >= settings.proxy_auc or nmi >= settings.proxy_nmi)
            common = {"check_id": PROXIES, "attribute": attr, "feature": feature, "n": n_rows}
            rows += [
                MetricRow(metric="proxy_nmi", value=nmi, **common),
                MetricRow(metric="proxy_auc", value=auc, ci_low=low, ci_high=high, group=group, **common),
            ]
            ranked.append(
                {
                    "feature": feature,
                    "attribute": attr,
                    "proxy_auc": auc,
                    "group": group,
                    "proxy_nmi": nmi,
                    "bins": n_bins,
                    "auc_by_group": {g: float(a) for g, a in zip(labels, aucs, strict=True)},
                    "flagged": flagged,
                }
            )
    ranked.sort(key=lambda r: (-np.nan_to_num(r["proxy_auc"], nan=0.0), -r["proxy_nmi"]))
    flagged_list = [
        {k: r[k] for k in ("feature", "attribute", "group", "proxy_auc", "proxy_nmi")}
        for r in ranked
        if r["flagged"]
    ]
    messages = list(notes)
    if flagged_list:
        listed = [
            phrase(
                N_("{feature} → {attribute} (AUC {auc} for {group}, NMI {nmi})"),
                feature=str(r["feature"]),
                attribute=str(r["attribute"]),
                auc=f"{r['proxy_auc']:.2f}",
                group=str(r["group"]),
                nmi=f"{r['proxy_nmi']:.3f}",
            )
            for r in flagged_list
        ]
        messages.append(phrase(N_("proxies of sensitive attributes: {proxies}"), proxies=joined(listed)))
    else:
        messages.append(
            phrase(
                N_("no feature is a proxy of a sensitive attribute (AUC ≥ {auc} or NMI ≥ {nmi})"),
                auc=f"{settings.proxy_auc}",
                nmi=f"{settings.proxy_nmi}",
            )
        )
    if small:
        messages.append(
            _small_message(
                small, settings.min_group_size, phrase(N_("their proxy AUCs are inconclusive and not used"))
            )
        )
    return CheckResult.of(
        check_id=PROXIES,
        title=PROXIES_TITLE,
        status=Status.INCONCLUSIVE if small else Status.PASSED,
        metrics=rows,
        phrases=messages,
        details={
            "candidates": str(source),
            "ranked": ranked,
            "flagged": flagged_list,
            "thresholds": {"proxy_auc": settings.proxy_auc, "proxy_nmi": settings.proxy_nmi},
            "method": f"features cut into up to {MAX_BINS} quantile bins (numbers) or categories (rarer "
            f"than {RARE_SHARE:.1%} pooled; missing its own bin); NMI is sklearn's normalized mutual "
            "information; AUC is the largest one-vs-rest ROC AUC over groups of each bin's group rate, "
            "cross-fitted on two seeded folds, with a Hanley–McNeil interval",
        },
    )
