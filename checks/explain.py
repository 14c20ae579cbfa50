"""Global explanation of the candidate's scores: SHAP importance overall and per group, reliance on
sensitive inputs and their proxies, fidelity and stability, on a stratified sample grown to a tolerance."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.checks import attribution as at
from assay.checks.context import AuditContext, ModelAccess
from assay.checks.explainers import (
    Attribution,
    Explainer,
    additivity_tolerance,
    attribute_rows,
    choose_explainer,
    concat,
)
from assay.checks.phrase import N_, Phrase, fields, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status
from assay.checks.stats import percentile_ci

CHECK_ID = "explain.global_importance"
TITLE = "Global explanation (SHAP)"
METRICS = (
    "importance",
    "importance_share",
    "sensitive_share",
    "proxy_share",
    "group_rank_correlation",
    "additivity_error",
    "ranking_stability",
    "importance_halfwidth",
)
TOP = 10  # the tolerance applies to the top features' importance
QUICK_BOOT = 200  # replicates while the sample grows; the final intervals use the policy's n_boot
PERMUTATION_FIRST_ROWS = 500
DEPENDENCE_FEATURES = 5
DEPENDENCE_BINS = 10


@dataclass(frozen=True)
class Explained:
    """SHAP values on a stratified draw, and how the draw grew."""

    draw: at.Draw
    att: Attribution
    rounds: list[dict[str, float]]
    tolerance_met: bool
    stopped_by: str  # tolerance | census | rows | time
    row_budget: int


def strata_of(ctx: AuditContext) -> np.ndarray:
    """Return each row's stratum: the cross of its sensitive groups and its decision."""
    assert ctx.sensitive is not None
    frame = ctx.sensitive.copy()
    if ctx.decisions is not None:
        frame["__decision__"] = np.asarray(ctx.decisions)
    return frame.groupby(list(frame.columns), sort=True).ngroup().to_numpy()


def explain_sample(ctx: AuditContext, explainer: Explainer, strata: np.ndarray) -> Explained:
    """Explain a stratified draw that doubles until the top importances meet the tolerance or a budget.

    The time budget is checked before each doubling, from the rows per second seen so far, so a
    slow model stops early with the precision it reached rather than running for hours.
    """
    s = ctx.settings
    started = time.perf_counter()
    budget = s.explain_permutation_rows if explainer.kind == "permutation" else s.explain_row_budget
    n_strata = int(strata.max()) + 1 if len(strata) else 1
    floor = max(1, min(s.explain_rows_per_cell, budget // n_strata))
    sampler = at.StratifiedSampler(strata, ctx.seed)
    total = min(s.explain_rows, budget)
    if explainer.kind == "permutation":
        # A slow model's first round alone could overrun the time budget, which is checked
        # between rounds: the permutation explainer starts smaller and doubles sooner.
        total = min(total, PERMUTATION_FIRST_ROWS)
    done = np.empty(0, dtype=np.int64)
    parts: list[Attribution] = []
    rounds: list[dict[str, float]] = []
    while True:
        draw = sampler.draw(total, floor)
        new = np.setdiff1d(draw.positions, done, assume_unique=True)
        frame = ctx.data.iloc[new]
        parts.append(attribute_rows(explainer, frame, s.explain_chunk_rows, ctx.workers, ctx.chunk_map))
        done = np.concatenate([done, new])
        # Draws are nested, so the rows explained so far are exactly this draw's rows.
        joined, order = concat(parts), np.argsort(done, kind="stable")
        att = Attribution(joined.values[order], joined.base, joined.output[order])
        halfwidth = at.top_halfwidth(np.abs(att.values), draw, QUICK_BOOT, s.confidence, TOP, ctx.seed)
        rounds.append({"rows": len(draw), "halfwidth": round(halfwidth, 6)})
        met = halfwidth <= s.explain_tolerance
        grown = min(total * 2, budget)
        elapsed = time.perf_counter() - started
        stop = _stop_reason(met, bool(draw.census.all()), len(draw), budget)
        if stop is None and elapsed * grown / len(draw) > s.explain_seconds:
            stop = "time"  # the next round, at the rows per second seen so far, would overrun
        if stop is not None:
            return Explained(draw, att, rounds, met, stop, budget)
        total = grown


def _stop_reason(met: bool, census: bool, rows: int, budget: int) -> str | None:
    """Return why the draw stops growing (tolerance, census, rows), or None to grow it."""
    if met:
        return "tolerance"
    if census:
        return "census"
    return "rows" if rows >= budget else None


def flagged_proxies(ctx: AuditContext) -> dict[str, list[dict[str, Any]]]:
    """Return the inputs the proxy check flags, each with the attributes it reveals."""
    from assay.checks.bias import proxies

    found: dict[str, list[dict[str, Any]]] = {}
    for item in proxies(ctx).details.get("flagged", []):
        found.setdefault(item["feature"], []).append(item)
    return found


def _ci_rows(
    metric: str,
    point: np.ndarray,
    reps: np.ndarray,
    features: list[str],
    confidence: float,
    **common: Any,
) -> list[MetricRow]:
    low, high = percentile_ci(reps, confidence)
    return [
        MetricRow(metric=metric, feature=f, value=point[j], ci_low=low[j], ci_high=high[j], **common)
        for j, f in enumerate(features)
    ]


def _reliance_rows(
    metric: str,
    cols: np.ndarray,
    features: list[str],
    point: np.ndarray,
    reps: np.ndarray,
    confidence: float,
    **common: Any,
) -> list[MetricRow]:
    """Return the summed share of some inputs, then each one's share, with bootstrap intervals."""
    rows = []
    for picked, feature in [(cols, None), *((np.array([j]), features[j]) for j in cols)]:
        low, high = percentile_ci(reps[:, picked].sum(axis=1, keepdims=True), confidence)
        rows.append(
            MetricRow(
                metric=metric,
                feature=feature,
                value=float(point[picked].sum()),
                ci_low=low[0],
                ci_high=high[0],
                **common,
            )
        )
    return rows


def attribution_evidence(
    ctx: AuditContext, check_id: str, features: list[str], explained: Explained
) -> tuple[list[MetricRow], dict[str, Any], list[Phrase]]:
    """Return the metric rows, details and messages (as phrases) that summarise SHAP values on a draw."""
    assert ctx.sensitive is not None
    s = ctx.settings
    draw, att = explained.draw, explained.att
    absval = np.abs(att.values)
    n = len(draw)
    groups = ctx.sensitive.iloc[draw.positions]
    masks = [np.ones(n, dtype=bool)]
    keys: list[tuple[str, str]] = []
    for attr in groups.columns:
        for group in sorted(groups[attr].unique()):
            masks.append((groups[attr] == group).to_numpy())
            keys.append((attr, str(group)))
    reps = at.replicate_means(absval, draw, masks, s.n_boot, ctx.seed)
    share_reps = [at.shares(r) for r in reps]
    point = [at.weighted_mean(absval[m], draw.weights[m]) for m in masks]
    share_point = [at.shares(p) for p in point]

    sensitive_cols = ctx.profile.sensitive_columns()
    sens = np.array([j for j, f in enumerate(features) if f in sensitive_cols], dtype=np.int64)
    proxies = flagged_proxies(ctx)
    prox = np.array(
        [j for j, f in enumerate(features) if f in proxies and f not in sensitive_cols], dtype=np.int64
    )
    rows: list[MetricRow] = []
    base = {"check_id": check_id, "n": n}
    rows += _ci_rows("importance", point[0], reps[0], features, s.confidence, **base)
    rows += _ci_rows("importance_share", share_point[0], share_reps[0], features, s.confidence, **base)
    for metric, cols in (("sensitive_share", sens), ("proxy_share", prox)):
        rows += _reliance_rows(metric, cols, features, share_point[0], share_reps[0], s.confidence, **base)
    group_tops: dict[str, dict[str, list[str]]] = {}
    for i, (attr, group) in enumerate(keys, start=1):
        common = {"check_id": check_id, "attribute": attr, "group": group, "n": int(masks[i].sum())}
        rows += _ci_rows("importance_share", share_point[i], share_reps[i], features, s.confidence, **common)
        for metric, cols in (("sensitive_share", sens), ("proxy_share", prox)):
            rows += _reliance_rows(
                metric, cols, features, share_point[i], share_reps[i], s.confidence, **common
            )
        rows.append(
            MetricRow(
                metric="group_rank_correlation",
                value=at.rank_correlation(point[i], point[0]),
                **common,
            )
        )
        group_tops.setdefault(attr, {})[group] = [features[j] for j in np.argsort(-point[i])[:5]]
    leaders = np.argsort(-point[0])[:TOP]
    halfwidth = at.largest_halfwidth(share_reps[0], point[0], s.confidence, TOP)
    stability = at.split_halves_stability(absval, draw)
    # Adjacent top inputs whose difference in share the sample cannot tell from zero.
    unresolved = []
    for a, b in itertools.pairwise(leaders):
        d_low, d_high = percentile_ci(share_reps[0][:, [a]] - share_reps[0][:, [b]], s.confidence)
        if d_low[0] <= 0.0 <= d_high[0]:
            unresolved.append([features[a], features[b]])
    rows += [
        MetricRow(metric="additivity_error", value=att.additivity_error(), **base),
        MetricRow(metric="ranking_stability", value=stability, **base),
        MetricRow(metric="importance_halfwidth", value=halfwidth, **base),
    ]
    ranking = [features[j] for j in np.argsort(-point[0])]
    sample = ctx.data.iloc[draw.positions]
    dependence = {
        features[j]: at.dependence(
            sample[features[j]].reset_index(drop=True),
            att.values[:, j],
            draw.weights,
            DEPENDENCE_BINS,
            s.disclosure_min,
        )
        for j in leaders[:DEPENDENCE_FEATURES]
    }
    proxy_list = [
        {**item, "importance_share": float(share_point[0][features.index(f)])}
        for f in (features[j] for j in prox)
        for item in proxies[f]
    ]
    details = {
        "ranking": ranking,
        "unresolved_pairs": unresolved,
        "group_rankings": group_tops,
        "sensitive_inputs": [features[j] for j in sens],
        "proxies": proxy_list,
        "dependence": dependence,
        "sample": {
            "rows": n,
            "strata": "cross of the sensitive groups × the candidate's decision",
            "rows_per_stratum_at_least": min(s.explain_rows_per_cell, n),
            "rounds": explained.rounds,
            "tolerance": s.explain_tolerance,
            "tolerance_met": explained.tolerance_met,
            "stopped_by": explained.stopped_by,
            "row_budget": explained.row_budget,
            "time_budget_seconds": s.explain_seconds,
            "seed": ctx.seed,
            "weights": "stratum size / rows drawn from it, so weighted means estimate the population's",
        },
        "intervals": f"stratified bootstrap ({s.n_boot} replicates, {s.confidence:.0%} percentile)",
    }
    messages = [phrase(N_("top inputs: {features}"), features=", ".join(ranking[:5]))]
    if len(sens):
        messages.append(
            phrase(
                N_("sensitive inputs take {share} of the attribution"),
                share=f"{share_point[0][sens].sum():.1%}",
            )
        )
    if len(prox):
        listed = ", ".join(
            f"{p['feature']} → {p['attribute']} (AUC {p['proxy_auc']:.2f}): {p['importance_share']:.1%}"
            for p in proxy_list
        )
        messages.append(
            phrase(
                N_("proxies of sensitive attributes take {share} of the attribution: {proxies}"),
                share=f"{share_point[0][prox].sum():.1%}",
                proxies=listed,
            )
        )
    if unresolved:
        messages.append(
            phrase(
                N_(
                    "the sample cannot order these neighbours in the ranking (their difference's interval "
                    "holds zero): {pairs}"
                ),
                pairs="; ".join(f"{a} / {b}" for a, b in unresolved),
            )
        )
    # The precision reached is always said, and why the sample stopped growing when it missed.
    stop = "met" if explained.tolerance_met else explained.stopped_by
    precision = {
        "met": N_("every top-{top} share is known to ± {halfwidth} (tolerance ± {tolerance})"),
        "rows": N_(
            "the row budget ran out before every top-{top} share was known to ± {tolerance} "
            "(largest half-width {halfwidth})"
        ),
        "time": N_(
            "the time budget of {seconds} s ran out before every top-{top} share was known to "
            "± {tolerance} (largest half-width {halfwidth})"
        ),
        "census": N_(
            "every row is explained, and the top-{top} shares are known to ± {halfwidth}, not ± {tolerance}"
        ),
    }[stop]
    said = {
        "top": str(TOP),
        "tolerance": f"{s.explain_tolerance}",
        "halfwidth": f"{halfwidth:.3f}",
        "seconds": f"{s.explain_seconds:g}",
    }
    messages.append(phrase(precision, **{k: v for k, v in said.items() if k in fields(precision)}))
    return rows, details, messages


def explain_model(ctx: AuditContext, model: ModelAccess, check_id: str, title: str) -> CheckResult:
    """Explain a model's scores on the audit's data; the shared body of the explanation checks."""
    s = ctx.settings
    chosen = choose_explainer(model, ctx.data, ctx.seed, s.explain_background_rows, s.explain_max_evals)
    explained = explain_sample(ctx, chosen, strata_of(ctx))
    rows, details, messages = attribution_evidence(ctx, check_id, list(model.features), explained)
    details = {
        "explainer": {
            "name": chosen.name,
            "kind": chosen.kind,
            "note": chosen.note,
            "fallback": chosen.fallback,
            # how far the values may miss the model's output (1e-6; XGBoost's float32 rounding)
            "additivity_tolerance": additivity_tolerance(chosen, explained.att),
        },
        "output_scale": chosen.scale,
        "base_value": explained.att.base,
        **details,
    }
    head = phrase(
        N_("{explainer} on {rows} rows drawn per sensitive group × decision (seed {seed})"),
        explainer=chosen.name,
        rows=str(len(explained.draw)),
        seed=str(ctx.seed),
    )
    if chosen.fallback:
        why = phrase(N_("no exact explainer for this model: {reason}"), reason=chosen.fallback)
        messages = [why, *messages]
    return CheckResult.of(
        check_id=check_id,
        title=title,
        status=Status.PASSED,
        metrics=rows,
        phrases=[head, *messages],
        details=details,
    )


@register(CHECK_ID, TITLE, (Need.MODEL_ACCESS, Need.SENSITIVE), METRICS)
def global_importance(ctx: AuditContext) -> CheckResult:
    """Measure each input's share of the attribution, overall and per group, and how far it can be trusted."""
    assert ctx.model is not None
    return explain_model(ctx, ctx.model, CHECK_ID, TITLE)
