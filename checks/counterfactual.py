"""Counterfactual flip test: does changing only a sensitive input change the candidate's decision?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.checks.attribution import StratifiedSampler
from assay.checks.context import MISSING_GROUP, AuditContext, SensitiveAttribute
from assay.checks.intervals import rate_interval
from assay.checks.phrase import N_, Phrase, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status

CHECK_ID = "fairness.counterfactual_flip"
TITLE = "Counterfactual flip test of sensitive inputs"
METRICS = ("flip_rate",)

# The group name ServiceProfile.sensitive_frame gives to empty or out-of-range values.
MISSING = MISSING_GROUP
# A threshold used when the decisions bound it on one side only (all 0 or all 1).
FALLBACK_THRESHOLD = 0.5


@dataclass(frozen=True)
class Threshold:
    """The score threshold decisions are taken at, how it was found, and how well it fits."""

    value: float
    source: str  # "audit context", "inferred" or "fallback"
    agreement: float  # share of known decisions that `scores >= value` reproduces
    low: float = -np.inf  # every threshold in (low, high] reproduces the decisions equally well
    high: float = np.inf


def _round_number_in(low: float, high: float) -> float:
    """Return the number with the fewest decimals in (low, high], the one nearest the middle."""
    middle = (low + high) / 2.0
    for decimals in range(16):
        scale = 10.0**decimals
        first, last = np.floor(low * scale) + 1, np.floor(high * scale)
        if first <= last:
            candidate = round(float(np.clip(np.round(middle * scale), first, last)) / scale, decimals)
            if low < candidate <= high:
                return candidate
    return high


def infer_threshold(scores: np.ndarray, decisions: np.ndarray) -> Threshold:
    """Return the threshold for which `scores >= threshold` best reproduces `decisions`."""
    s = np.asarray(scores, dtype=float)
    d = np.asarray(decisions).astype(bool)
    finite = np.isfinite(s)
    s, d = s[finite], d[finite]
    if len(s) == 0:
        return Threshold(FALLBACK_THRESHOLD, "fallback", float("nan"))
    levels, level_of = np.unique(s, return_inverse=True)
    ones = np.bincount(level_of, weights=d.astype(float), minlength=len(levels))
    zeros = np.bincount(level_of, minlength=len(levels)) - ones
    # Errors of the threshold levels[i]: selected rows below it plus unselected rows at or above it;
    # the last entry is a threshold above every score.
    errors = np.r_[np.r_[0.0, np.cumsum(ones)[:-1]] + np.cumsum(zeros[::-1])[::-1], ones.sum()]
    best = int(np.argmin(errors))
    low = levels[best - 1] if best > 0 else -np.inf
    high = levels[best] if best < len(levels) else np.inf
    agreement = 1.0 - float(errors[best]) / len(s)
    low, high = float(low), float(high)
    if np.isfinite(low) and np.isfinite(high):
        # Any threshold in (low, high] gives the same decisions; a vendor's is usually a round number.
        return Threshold(_round_number_in(low, high), "inferred", agreement, low, high)
    if low < FALLBACK_THRESHOLD <= high:
        return Threshold(FALLBACK_THRESHOLD, "fallback", agreement, low, high)
    bound = high if np.isfinite(high) else float(np.nextafter(low, np.inf))
    return Threshold(bound, "fallback", agreement, low, high)


def _threshold(ctx: AuditContext, sample_scores: np.ndarray, sample_decisions: np.ndarray) -> Threshold:
    """Return the audit's threshold if it has one, else one inferred from scores and decisions."""
    scores = ctx.scores if ctx.scores is not None else sample_scores
    decisions = ctx.decisions if ctx.scores is not None else sample_decisions
    if ctx.threshold is not None:
        known = float(ctx.threshold)
        agreement = float(np.mean((np.asarray(scores) >= known) == np.asarray(decisions).astype(bool)))
        return Threshold(known, "audit context", agreement, known, known)
    # Predictions files and older callers come without one; the decisions still pin it down.
    return infer_threshold(scores, decisions)


def _capped_sample(groups: pd.DataFrame, cap: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return at most `cap` row positions (one per cell if cells outnumber it), and their weights."""
    if len(groups) <= cap:
        return np.arange(len(groups)), np.ones(len(groups))
    sizes = groups.groupby(list(groups.columns), sort=True).size().to_numpy()
    # The largest per-cell quota whose sample fits the cap: small cells are taken whole.
    lo, hi = 1, int(sizes.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if np.minimum(sizes, mid).sum() <= cap:
            lo = mid
        else:
            hi = mid - 1
    draw = StratifiedSampler(groups.groupby(list(groups.columns), sort=True).ngroup().to_numpy(), seed).draw(
        0, lo
    )
    return draw.positions, draw.weights


def _alternatives(attr: SensitiveAttribute, column: pd.Series, groups: pd.Series) -> dict[str, Any]:
    """Return the value that stands for each group: the category itself, or a bin's lower median."""
    codes, names = pd.factorize(groups, sort=True)
    values_all = column.to_numpy()
    present = column.notna().to_numpy()
    out: dict[str, Any] = {}
    for code, group in enumerate(names):
        if attr.bins is not None and group == MISSING:
            continue  # empty or out-of-range values are not a value anyone could be moved to
        values = values_all[(codes == code) & present]
        if len(values) == 0:
            continue
        if attr.bins is not None:
            # An observed value (not an average between two), so the column keeps its type.
            out[str(group)] = np.sort(values)[(len(values) - 1) // 2]
        else:
            out[str(group)] = pd.Series(values).mode().iloc[0]
    return out


def _plain(value: Any) -> Any:
    """Return a JSON-friendly Python scalar."""
    return value.item() if isinstance(value, np.generic) else value


def _weighted_rate(flags: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Return the weighted share of true flags and Kish's effective sample size."""
    total = weights.sum()
    if total == 0:
        return float("nan"), 0.0
    return float(np.dot(flags, weights) / total), float(total**2 / np.dot(weights, weights))


def _transitions(
    attr: str, target: str, names: list[str], source: np.ndarray, weights: np.ndarray, change: np.ndarray
) -> list[dict[str, Any]]:
    """Return, per source group moved to `target`, the share of flipped and the selection shift."""
    mass = np.bincount(source, weights=weights, minlength=len(names))
    flips = np.bincount(source, weights=weights * (change != 0), minlength=len(names))
    shift = np.bincount(source, weights=weights * change, minlength=len(names))
    return [
        {
            "attribute": attr,
            "from": names[code],
            "to": target,
            "flip_share": float(flips[code] / mass[code]),
            "selection_change": float(shift[code] / mass[code]),
        }
        for code in np.flatnonzero(mass > 0)
    ]


def _not_input(attr: SensitiveAttribute, n_rows: int) -> tuple[MetricRow, Phrase]:
    """Return the zero flip rate of an attribute the candidate never sees, and the reason."""
    row = MetricRow(
        check_id=CHECK_ID, metric="flip_rate", attribute=attr.name, feature=attr.column, value=0.0, n=n_rows
    )
    return row, phrase(
        N_(
            "{attribute} ({column}) is not an input of the candidate: its decision cannot depend "
            "on it directly (flip rate 0); dependence through proxies is covered by data.proxies"
        ),
        attribute=attr.name,
        column=attr.column,
    )


@register(CHECK_ID, TITLE, (Need.MODEL_ACCESS, Need.DECISIONS, Need.SENSITIVE), METRICS)
def counterfactual_flip(ctx: AuditContext) -> CheckResult:
    """Measure how often changing only a sensitive input changes the candidate's decision."""
    assert ctx.model is not None and ctx.decisions is not None and ctx.sensitive is not None
    settings = ctx.settings
    features = list(ctx.model.features)
    declared = {a.name: a for a in ctx.profile.sensitive_attributes}
    attrs = [declared[name] for name in ctx.sensitive.columns if name in declared]
    inputs = [a for a in attrs if a.column in features]
    n_rows = len(ctx.data)
    rows: list[MetricRow] = []
    messages: list[Phrase] = [
        phrase(
            N_(
                "{attribute} is not declared in the service profile, so its data column is unknown; "
                "not tested"
            ),
            attribute=str(name),
        )
        for name in ctx.sensitive.columns
        if name not in declared
    ]
    for attr in attrs:
        if attr not in inputs:
            row, message = _not_input(attr, n_rows)
            rows.append(row)
            messages.append(message)
    details: dict[str, Any] = {
        "inputs": [a.name for a in inputs],
        "not_inputs": [a.name for a in attrs if a not in inputs],
        "sample_rows": 0,
    }
    if not inputs:
        return CheckResult.of(
            check_id=CHECK_ID,
            title=TITLE,
            status=Status.PASSED,
            metrics=rows,
            phrases=messages,
            details=details,
        )

    idx, weights = _capped_sample(ctx.sensitive[[a.name for a in inputs]], settings.flip_rows, ctx.seed)
    sample = ctx.data.iloc[idx][features].reset_index(drop=True)
    alternatives = {a.name: _alternatives(a, ctx.data[a.column], ctx.sensitive[a.name]) for a in inputs}
    coded = {a.name: pd.factorize(ctx.sensitive[a.name], sort=True) for a in inputs}
    group_of = {name: codes[idx] for name, (codes, _) in coded.items()}
    names_of = {name: [str(u) for u in uniques] for name, (_, uniques) in coded.items()}

    # Every counterfactual row of every attribute goes to the model in one call: a call's overhead
    # (thread start-up, an endpoint's round trip) can cost more than the rows themselves.
    blocks: list[pd.DataFrame] = []
    moves: list[tuple[SensitiveAttribute, str, np.ndarray]] = []
    for attr in inputs:
        for target, value in alternatives[attr.name].items():
            moved = np.flatnonzero(group_of[attr.name] != names_of[attr.name].index(target))
            block = sample.iloc[moved].copy()
            block[attr.column] = value
            blocks.append(block)
            moves.append((attr, target, moved))
    reuse = ctx.scores is not None and len(ctx.scores) == n_rows
    if not reuse:
        blocks.insert(0, sample)
    scored = (
        np.asarray(ctx.model.predict_scores(pd.concat(blocks, ignore_index=True)), dtype=float)
        if blocks
        else np.array([])
    )
    if reuse:
        assert ctx.scores is not None
        original_scores, alt_scores = np.asarray(ctx.scores, dtype=float)[idx], scored
    else:
        original_scores, alt_scores = scored[: len(sample)], scored[len(sample) :]
    threshold = _threshold(ctx, original_scores, ctx.decisions[idx])
    # Both sides of a comparison use the same rule, so a decision taken otherwise is never a flip.
    original = (original_scores >= threshold.value).astype(float)
    alt_decisions = (alt_scores >= threshold.value).astype(float)

    # A counterfactual score strictly inside (low, high) is decided by where in that gap the true
    # threshold lies, which the decisions cannot tell.
    ambiguous = int(np.sum((alt_scores > threshold.low) & (alt_scores < threshold.high)))
    flipped = {a.name: np.zeros(len(idx)) for a in inputs}
    transitions: list[dict[str, Any]] = []
    offset = 0
    for attr, target, moved in moves:
        change = alt_decisions[offset : offset + len(moved)] - original[moved]
        offset += len(moved)
        flipped[attr.name][moved[change != 0]] = 1.0
        transitions += _transitions(
            attr.name, target, names_of[attr.name], group_of[attr.name][moved], weights[moved], change
        )

    small: list[str] = []
    for attr in inputs:
        flags, codes, names = flipped[attr.name], group_of[attr.name], names_of[attr.name]
        rate, n_eff = _weighted_rate(flags, weights)
        low, high = rate_interval(rate * n_eff, n_eff, settings.confidence)
        common = {"check_id": CHECK_ID, "metric": "flip_rate", "attribute": attr.name, "feature": attr.column}
        rows.append(MetricRow(value=rate, ci_low=low, ci_high=high, n=len(idx), **common))
        by_group: dict[str, float] = {}
        hidden: set[str] = set()  # groups below the disclosure minimum: their rates are not said
        for code in np.unique(codes):
            member = codes == code
            g_rate, g_eff = _weighted_rate(flags[member], weights[member])
            g_low, g_high = rate_interval(g_rate * g_eff, g_eff, settings.confidence)
            n_group = int(member.sum())
            group = names[code]
            rows.append(
                MetricRow(group=group, value=g_rate, ci_low=g_low, ci_high=g_high, n=n_group, **common)
            )
            by_group[group] = g_rate
            if n_group < settings.disclosure_min:
                hidden.add(group)
            if n_group < settings.min_group_size:
                small.append(f"{attr.name}={group} (n={n_group})")
        messages.append(
            _input_message(
                attr,
                rate,
                (float(low), float(high)),
                {g: r for g, r in by_group.items() if g not in hidden},
                [t for t in transitions if t["attribute"] == attr.name and t["from"] not in hidden],
                settings.confidence,
            )
        )
    if threshold.source == "fallback":
        messages.append(
            phrase(
                N_(
                    "the decisions do not bound the threshold on both sides; assumed {threshold}, "
                    "so flips are inconclusive"
                ),
                threshold=f"{threshold.value:g}",
            )
        )
    elif threshold.agreement < 1.0:
        fit = {"threshold": f"{threshold.value:g}", "share": f"{threshold.agreement:.2%}"}
        if threshold.source == "audit context":
            messages.append(
                phrase(
                    N_(
                        "the audit's threshold {threshold} reproduces {share} of the decisions; decisions "
                        "were re-derived from scores on both sides of each comparison"
                    ),
                    **fit,
                )
            )
        else:
            messages.append(
                phrase(
                    N_(
                        "no single threshold reproduces every decision; the best, {threshold}, reproduces "
                        "{share} of the decisions; decisions were re-derived from scores on both sides of "
                        "each comparison"
                    ),
                    **fit,
                )
            )
    if ambiguous:
        messages.append(
            phrase(
                N_(
                    "{count} of {total} counterfactual scores fall between the highest unselected "
                    "and the lowest selected score ({low}–{high}); their decisions "
                    "assume a threshold of {threshold}"
                ),
                count=str(ambiguous),
                total=str(len(alt_scores)),
                low=f"{threshold.low:.6g}",
                high=f"{threshold.high:.6g}",
                threshold=f"{threshold.value:g}",
            )
        )
    if small:
        messages.append(
            phrase(
                N_(
                    "groups below the minimum size of {minimum} in the sample: "
                    "{groups}; their flip rates are inconclusive"
                ),
                minimum=str(settings.min_group_size),
                groups=", ".join(small),
            )
        )
    details.update(
        {
            "sample_rows": len(idx),
            "rows": n_rows,
            "scored_rows": len(scored),
            "sampling": "stratified per cross of the input attributes' groups, capped at flip_rows; "
            "weights (cell size / sample size) make rates population estimates",
            "interval_method": "Clopper-Pearson interval at Kish's effective size of the weighted sample",
            "alternatives": {
                name: {g: _plain(v) for g, v in values.items()} for name, values in alternatives.items()
            },
            "alternative_rule": "categorical: each other observed category; binned numeric: the lower "
            "median of each other bin's observed values",
            "threshold": threshold.value,
            "threshold_source": threshold.source,
            "threshold_agreement": threshold.agreement if np.isfinite(threshold.agreement) else None,
            "threshold_interval": [v if np.isfinite(v) else None for v in (threshold.low, threshold.high)],
            "ambiguous_rows": ambiguous,
            "transitions": transitions,
            "seed": ctx.seed,
            "confidence": settings.confidence,
        }
    )
    inconclusive = bool(small) or threshold.source == "fallback"
    return CheckResult.of(
        check_id=CHECK_ID,
        title=TITLE,
        status=Status.INCONCLUSIVE if inconclusive else Status.PASSED,
        metrics=rows,
        phrases=messages,
        details=details,
    )


def _input_message(
    attr: SensitiveAttribute,
    rate: float,
    interval: tuple[float, float],
    by_group: dict[str, float],
    transitions: list[dict[str, Any]],
    confidence: float,
) -> Phrase:
    """Return the sentence on an input attribute: its flip rate, its worst group, its largest shift.

    `by_group` and `transitions` hold only the groups whose numbers may be published.
    """
    text = phrase(
        N_(
            "{attribute} ({column}) is an input: changing only it changes {rate} of decisions "
            "({confidence} CI {low}–{high})"
        ),
        attribute=attr.name,
        column=attr.column,
        rate=f"{rate:.1%}",
        confidence=f"{confidence:.0%}",
        low=f"{interval[0]:.1%}",
        high=f"{interval[1]:.1%}",
    )
    if by_group:
        worst = max(by_group, key=lambda g: by_group[g])
        text = phrase(
            N_("{sentence}; most for {attribute}={group} ({rate})"),
            sentence=text,
            attribute=attr.name,
            group=str(worst),
            rate=f"{by_group[worst]:.1%}",
        )
    mine = [t for t in transitions if t["attribute"] == attr.name]
    if rate > 0 and mine:
        big = max(mine, key=lambda t: abs(t["selection_change"]))
        move = {
            "sentence": text,
            "source": str(big["from"]),
            "target": str(big["to"]),
            "points": f"{abs(big['selection_change']) * 100:.1f}",
        }
        if big["selection_change"] > 0:
            text = phrase(
                N_(
                    "{sentence}; moving {source} to {target} raises their selection rate by {points} "
                    "percentage points"
                ),
                **move,
            )
        else:
            text = phrase(
                N_(
                    "{sentence}; moving {source} to {target} lowers their selection rate by {points} "
                    "percentage points"
                ),
                **move,
            )
    return text
