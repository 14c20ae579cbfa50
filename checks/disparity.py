"""One definition of every group rate and every comparison between groups, for the audit and the ranking.

A group's rate rests on its denominator (negatives for the false-positive rate, positives for the
true-positive rate, the selected for precision), and the minimum evidence applies to it. Groups
are compared two ways:
- each group against the reference group: the difference and the ratio of their rates, with MOVER
  intervals simultaneous over the grouping's comparisons (`compare_to_reference`);
- a summary across all groups (the largest gap, the smallest min/max ratio): from simultaneous
  pairwise intervals, Bonferroni over the pairs (`summarize`). Its end on the breach side comes
  from the pairs of groups with enough evidence, its other end from the pairs of every group, so
  a breach that large groups prove is never hidden by a small group, and a small group keeps the
  summary undecided only when its interval reaches beyond what the large groups show.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np

from assay.checks.intervals import combine, compare_interval, each_confidence, rated
from assay.checks.results import Basis, Count, MetricRow, Pair, Span
from assay.checks.stats import FN, TN, rate_parts, safe_div

Kind = Literal["difference", "ratio"]

GROUP_RATES = ("selection_rate", "favourable_rate", "tpr", "fnr", "fpr", "tnr", "ppv", "npv", "accuracy")
# Rates compared with the reference group, each as a difference and a ratio.
COMPARED = ("selection_rate", "favourable_rate", "tpr", "fpr", "fnr", "ppv")


@dataclass(frozen=True)
class Summary:
    """A summary across groups: the largest gap (difference) or smallest min/max ratio of some rates."""

    kind: Kind
    rates: tuple[str, ...]


def summaries(favourable: bool) -> dict[str, Summary]:
    """Return every summary metric by name; equal opportunity compares the favourable outcome's rate."""
    out = {f"{rate}_gap": Summary("difference", (rate,)) for rate in GROUP_RATES}
    out.update(
        demographic_parity_difference=Summary("difference", ("selection_rate",)),
        demographic_parity_ratio=Summary("ratio", ("selection_rate",)),
        equalized_odds_difference=Summary("difference", ("tpr", "fpr")),
        equalized_odds_ratio=Summary("ratio", ("tpr", "fpr")),
        equal_opportunity_difference=Summary("difference", ("tpr",) if favourable else ("tnr",)),
        predictive_parity_difference=Summary("difference", ("ppv",)),
        four_fifths_ratio=Summary("ratio", ("favourable_rate",)),
    )
    return out


SUMMARY_NAMES = tuple(summaries(True))


def rate_counts(counts: np.ndarray, rate: str, favourable: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return the numerator and denominator of a group rate from confusion counts (..., groups, 4)."""
    if rate == "favourable_rate":
        if favourable:
            return rate_parts(counts, "selection_rate")
        return counts[..., [TN, FN]].sum(axis=-1), counts.sum(axis=-1)
    return rate_parts(counts, rate)


def statistic_interval(kind: Kind, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the interval of the symmetric statistic from the interval of the signed comparison."""
    if kind == "difference":
        lo = np.maximum(np.maximum(low, -high), 0.0)
        return lo, np.maximum(np.abs(low), np.abs(high))
    with np.errstate(divide="ignore"):
        inv_high = np.where(np.isinf(high), 0.0, 1.0 / high)
        inv_low = np.where(low > 0, 1.0 / np.where(low > 0, low, 1.0), np.inf)
    lo = np.fmin(np.fmin(low, inv_low), np.fmin(high, inv_high))
    straddles = (low <= 1.0) & (high >= 1.0)
    hi = np.where(straddles, 1.0, np.fmax(np.fmin(low, inv_low), np.fmin(high, inv_high)))
    return lo, hi


def point_value(kind: Kind, rates: list[np.ndarray], use: list[np.ndarray]) -> np.ndarray:
    """Return a summary's value from each rate's groups (..., groups), over the groups `use` marks.

    A gap is max − min; a ratio is min / max (fairlearn's definitions), then the largest gap or the
    smallest ratio over the rates. NaN when no rate has a defined group.
    """
    parts = []
    for values, mask in zip(rates, use, strict=True):
        masked = np.where(mask & np.isfinite(values), values, np.nan)
        with _quiet():
            top, bottom = np.nanmax(masked, axis=-1), np.nanmin(masked, axis=-1)
        parts.append(top - bottom if kind == "difference" else safe_div(bottom, top))
    stacked = np.stack(parts, axis=-1)
    with _quiet():
        return np.nanmax(stacked, axis=-1) if kind == "difference" else np.nanmin(stacked, axis=-1)


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's warnings about all-NaN slices: an empty comparison is NaN, as it should be."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


@dataclass(frozen=True)
class Compared:
    """A comparison between groups: value, interval, denominator and basis."""

    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    basis: Basis

    def row(self, check_id: str, metric: str, **where: str | None) -> MetricRow:
        """Return it as a metric row of `check_id`, about the attribute, group or feature `where` names."""
        return MetricRow(
            check_id=check_id,
            metric=metric,
            value=self.value,
            ci_low=self.ci_low,
            ci_high=self.ci_high,
            n=self.n,
            basis=self.basis,
            **where,
        )


def _count(label: str, k: float, n: float, size: float) -> Count:
    return Count(group=label, k=round(k), n=int(n), size=int(size))


def compare_to_reference(
    kind: Kind,
    rate: str,
    k: np.ndarray,
    n: np.ndarray,
    sizes: np.ndarray,
    labels: list[str],
    ref: int,
    confidence: float,
    minimum: int,
) -> dict[int, Compared]:
    """Return each group's difference or ratio to the reference group's rate, by group index.

    The intervals hold simultaneously over the grouping's comparisons (Bonferroni): the row's over
    every comparison, and its pair's, which alone may prove a breach, over the comparisons whose
    two groups have enough evidence.
    """
    others = np.array([g for g in range(len(labels)) if g != ref], dtype=int)
    everyone = int((n[others] > 0).sum()) if n[ref] > 0 else 0
    decisive = int((n[others] >= minimum).sum()) if n[ref] >= minimum else 0
    every_level = each_confidence(confidence, everyone)
    decisive_level = each_confidence(confidence, decisive)
    low, high = compare_interval(kind, k[others], n[others], k[ref], n[ref], every_level)
    dec_low, dec_high = compare_interval(kind, k[others], n[others], k[ref], n[ref], decisive_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = safe_div(k, n)
        values = p[others] - p[ref] if kind == "difference" else safe_div(p[others], p[ref])
    reference = _count(labels[ref], k[ref], n[ref], sizes[ref])
    out = {}
    for j, g in enumerate(others):
        first = _count(labels[g], k[g], n[g], sizes[g])
        small = [c for c in (first, reference) if c.n < minimum]
        ends = (low[j], high[j], every_level) if small else (dec_low[j], dec_high[j], decisive_level)
        pair = Pair(rate=rate, first=first, second=reference, low=ends[0], high=ends[1], confidence=ends[2])
        out[int(g)] = Compared(
            value=float(values[j]),
            ci_low=_end(low[j]),
            ci_high=_end(high[j]),
            n=int(min(n[g], n[ref])),
            basis=Basis(kind=kind, minimum=minimum, pair=pair, small=small),
        )
    return out


def _end(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def summarize(
    name: str,
    summary: Summary,
    counts: np.ndarray,
    labels: list[str],
    favourable: bool,
    confidence: float,
    minimum: int,
) -> Compared:
    """Return a summary across groups from confusion counts (groups, 4), with its basis.

    The value is taken over the groups with enough evidence when at least two have it, else over
    every group; `n` is the smallest denominator among the groups it is taken over.
    """
    sizes = counts.sum(axis=-1)
    parts = [rate_counts(counts, rate, favourable) for rate in summary.rates]
    defined = [n > 0 for _, n in parts]
    decisive = [n >= max(minimum, 1) for _, n in parts]
    rates = [safe_div(k, n) for k, n in parts]
    enough = any(mask.sum() >= 2 for mask in decisive)
    use = decisive if enough else defined
    value = float(point_value(summary.kind, rates, use))
    used_n = [n[mask] for (_, n), mask in zip(parts, use, strict=True) if mask.sum() >= (2 if enough else 1)]
    n_used = int(min(x.min() for x in used_n)) if used_n else 0
    every = _span(summary, parts, rates, defined, sizes, labels, confidence)
    decided = _span(summary, parts, rates, decisive, sizes, labels, confidence) if enough else None
    small = []
    for g, label in enumerate(labels):
        short = [(int(n[g]), int(k[g])) for k, n in parts if 0 < n[g] < minimum]
        if short:
            denominator, numerator = min(short)
            small.append(Count(group=label, k=numerator, n=denominator, size=int(sizes[g])))
    basis = Basis(kind=summary.kind, minimum=minimum, decisive=decided, every=every, small=small)
    # The interval shown is the one the natural bound is judged by: a gap breaches upward, so its
    # lower end is the decisive groups'; a min/max ratio breaches downward, so its upper end is.
    if summary.kind == "difference":
        low = decided.low if decided else every.low
        high = every.high
    else:
        low = every.low
        high = decided.high if decided else every.high
    return Compared(value=value, ci_low=low, ci_high=high, n=n_used, basis=basis)


def member_pairs(members: list[np.ndarray]) -> list[tuple[int, int, int]]:
    """Return every (rate, group, group) pair of member groups a summary compares."""
    return [
        (r, i, j) for r, mask in enumerate(members) for i, j in combinations(np.flatnonzero(mask).tolist(), 2)
    ]


@dataclass(frozen=True)
class Ends:
    """A summary's simultaneous interval over some pairs, and where each end comes from."""

    low: np.ndarray
    high: np.ndarray
    low_at: np.ndarray  # index into the pairs of the pair that sets the lower end
    high_at: np.ndarray
    pair_low: np.ndarray  # every pair's own interval of its signed comparison, (..., pairs)
    pair_high: np.ndarray
    level: float  # each pair's confidence


def span_ends(
    kind: Kind, k: np.ndarray, n: np.ndarray, pairs: list[tuple[int, int, int]], confidence: float
) -> Ends:
    """Return a summary's interval over `pairs` from counts shaped (..., rates, groups), simultaneous
    over the pairs (Bonferroni); leading axes (repetitions of a simulation) are kept."""
    level = each_confidence(confidence, len(pairs))
    r_idx, i_idx, j_idx = (np.array(x) for x in zip(*pairs, strict=True))
    first, second = (..., r_idx, i_idx), (..., r_idx, j_idx)
    # Each group's interval once, then every pair from them: the exact intervals cost a beta quantile.
    p, lo_g, hi_g = rated(k, n, level)
    low, high = combine(kind, (p[first], lo_g[first], hi_g[first]), (p[second], lo_g[second], hi_g[second]))
    lo, hi = statistic_interval(kind, low, high)
    # A gap's summary is the largest over pairs; a min/max ratio's the smallest.
    pick = np.nanargmax if kind == "difference" else np.nanargmin
    lo_at, hi_at = pick(lo, axis=-1), pick(hi, axis=-1)
    return Ends(
        low=np.take_along_axis(lo, lo_at[..., None], axis=-1)[..., 0],
        high=np.take_along_axis(hi, hi_at[..., None], axis=-1)[..., 0],
        low_at=lo_at,
        high_at=hi_at,
        pair_low=low,
        pair_high=high,
        level=level,
    )


def _span(
    summary: Summary,
    parts: list[tuple[np.ndarray, np.ndarray]],
    rates: list[np.ndarray],
    members: list[np.ndarray],
    sizes: np.ndarray,
    labels: list[str],
    confidence: float,
) -> Span:
    """Return the summary's simultaneous interval over the pairs of member groups, and its end pairs."""
    pairs = member_pairs(members)
    if not pairs:  # one group (or none): nothing to compare, no gap
        single = float(point_value(summary.kind, rates, members))
        return Span(low=single, high=single, low_pair=None, high_pair=None, pairs=0)
    ks = np.stack([k for k, _ in parts])
    ns = np.stack([n for _, n in parts])
    ends = span_ends(summary.kind, ks, ns, pairs, confidence)

    def pair(at: int) -> Pair:
        r, i, j = pairs[at]
        k, n = parts[r]
        return Pair(
            rate=summary.rates[r],
            first=_count(labels[i], k[i], n[i], sizes[i]),
            second=_count(labels[j], k[j], n[j], sizes[j]),
            confidence=ends.level,
            low=ends.pair_low[at],
            high=ends.pair_high[at],
        )

    low_at, high_at = int(ends.low_at), int(ends.high_at)
    return Span(
        low=ends.low, high=ends.high, low_pair=pair(low_at), high_pair=pair(high_at), pairs=len(pairs)
    )
