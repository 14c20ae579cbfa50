"""Judging one metric row against a range, and saying what an undecided row lacks.

A row is judged by two intervals: the one resting only on evidence that reaches the minimum
(`decisive`, which alone may prove a breach) and the one every group's evidence allows (`every`,
which must lie within the range for a pass). A row without enough evidence can still pass when
no value its interval allows would breach; it never fails on thin evidence alone.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

from assay.checks.intervals import detectable, growth_to_settle
from assay.checks.results import MetricRow, Pair, Span

Cause = Literal["straddles", "thin", "small_groups", "undefined"]
Bounds = tuple[float | None, float | None]  # (min, max) of the allowed range


class Shortfall(BaseModel):
    """Why one row of an inconclusive verdict is undecided, and roughly what would settle it."""

    where: str
    # straddles: the interval crosses a limit; thin: the row rests on less than the minimum
    # evidence; small_groups: only groups with too little evidence could still breach the limit.
    cause: Cause
    groups: list[str] = Field(default_factory=list)  # the groups whose evidence falls short
    # At the evaluation set's sizes, a true value beyond this is proven beyond the limit with 80% power.
    detectable: float | None = None
    # About how many more people in each group would settle it at the observed effect (empty: at the
    # observed effect no number would, since the estimate sits at the limit).
    more: dict[str, int] = Field(default_factory=dict)


def _ends(low: float | None, high: float | None, value: float | None) -> tuple[float, float]:
    """Return an interval's ends, a missing end being unbounded when the other exists."""
    if low is None and high is None:
        return (math.nan, math.nan) if value is None else (value, value)
    return (-math.inf if low is None else low), (math.inf if high is None else high)


def intervals(row: MetricRow, minimum: int) -> tuple[tuple[float, float] | None, tuple[float, float]]:
    """Return the interval that may decide a breach (None: too little evidence) and the one every
    group's evidence allows.

    A comparison keeps its interval when its value is undefined: a ratio to a reference rate of 0
    has no value, yet its interval can lie wholly above a maximum.
    """
    basis = row.basis
    if basis is None:
        ci = _ends(row.ci_low, row.ci_high, row.value)
        return (ci if row.n is None or row.n >= minimum else None), ci
    if basis.pair is not None:  # the row's interval over every comparison, the pair's over decisive ones
        every = _ends(row.ci_low, row.ci_high, row.value)
        return (None if basis.small else _ends(basis.pair.low, basis.pair.high, row.value)), every
    assert basis.every is not None
    every = _ends(basis.every.low, basis.every.high, row.value)
    decisive = basis.decisive
    return (None if decisive is None else _ends(decisive.low, decisive.high, row.value)), every


def within(interval: tuple[float, float], bounds: Bounds) -> bool:
    """Say whether the whole interval lies in the allowed range."""
    low, high = bounds
    return (low is None or interval[0] >= low) and (high is None or interval[1] <= high)


def beyond(interval: tuple[float, float], bounds: Bounds) -> bool:
    """Say whether the whole interval lies outside the allowed range."""
    low, high = bounds
    return (low is not None and interval[1] < low) or (high is not None and interval[0] > high)


def shortfall(row: MetricRow, where: str, bounds: Bounds, minimum: int) -> Shortfall:
    """Return why an inconclusive row is undecided and what would settle it."""
    if row.value is None and row.basis is None:
        return Shortfall(where=where, cause="undefined")
    decisive, every = intervals(row, minimum)
    basis = row.basis
    if basis is None:
        return _plain(row, where, bounds, decisive, every, minimum)
    if basis.pair is not None:
        pair = basis.pair
        grow = tuple(side.n < minimum for side in (pair.first, pair.second))
        if not any(grow):  # enough evidence on both sides: the smaller one grows
            grow = (pair.first.n <= pair.second.n, pair.second.n < pair.first.n)
        cause: Cause = "thin" if basis.small else "straddles"
        found = _settle(pair, basis.kind, bounds, grow, minimum, symmetric=False)
        return Shortfall(
            where=where, cause=cause, groups=[c.group for c in basis.small] or _names(pair), **found
        )
    small = [f"{c.group} (n={c.n})" for c in basis.small]
    if decisive is None:
        return Shortfall(where=where, cause="thin", groups=small)
    if within(decisive, bounds):  # only groups with too little evidence keep it open
        pair = _binding(basis.every, bounds)
        found = _settle(pair, basis.kind, bounds, _short_sides(pair, minimum), minimum, symmetric=True)
        return Shortfall(where=where, cause="small_groups", groups=small, **found)
    pair = _binding(
        basis.decisive, bounds, breach=row.value is not None and not within((row.value,) * 2, bounds)
    )
    found = _settle(pair, basis.kind, bounds, _smaller_side(pair), minimum, symmetric=True)
    return Shortfall(where=where, cause="straddles", groups=_names(pair), **found)


def _names(pair: Pair | None) -> list[str]:
    return [] if pair is None else [pair.first.group, pair.second.group]


def _binding(span: Span | None, bounds: Bounds, breach: bool = False) -> Pair | None:
    """Return the pair that keeps a summary open: when its estimate is within the range, the pair
    whose interval reaches furthest beyond the limit; when it is beyond, the pair nearest to
    proving it (for a maximum, the largest lower end)."""
    if span is None:
        return None
    above = bounds[1] is not None  # a gap breaches upward, a min/max ratio downward
    return span.low_pair if above == breach else span.high_pair


def _short_sides(pair: Pair | None, minimum: int) -> tuple[bool, bool]:
    if pair is None:
        return (False, False)
    return (pair.first.n < minimum, pair.second.n < minimum)


def _smaller_side(pair: Pair | None) -> tuple[bool, bool]:
    if pair is None:
        return (False, False)
    return (pair.first.n <= pair.second.n, pair.second.n < pair.first.n)


def _limits(kind: str, signed: float, bounds: Bounds, symmetric: bool) -> list[tuple[float, bool]]:
    """Return the range's limits in the pair's own orientation, each with its breach side (True: above).

    A summary judges |difference| or min(ratio, 1/ratio), so its limits are mirrored to the side
    the pair's comparison lies on.
    """
    low, high = bounds
    plain = [(b, above) for b, above in ((low, False), (high, True)) if b is not None]
    if not symmetric:
        return plain
    if kind == "difference":
        return [(b, above) if signed >= 0 else (-b, not above) for b, above in plain]
    return [(1.0 / b, not above) if signed >= 1 else (b, above) for b, above in plain if b > 0]


def _settle(
    pair: Pair | None, kind: str, bounds: Bounds, grow: tuple[bool, bool], minimum: int, symmetric: bool
) -> dict:
    """Return `detectable` and `more` for a comparison of two groups at their observed rates."""
    if pair is None or pair.low is None or not any(grow):
        return {}
    low, high = pair.low, math.inf if pair.high is None else pair.high
    first, second = (pair.first.k, pair.first.n), (pair.second.k, pair.second.n)
    p1, p2 = first[0] / max(first[1], 1), second[0] / max(second[1], 1)
    signed = p1 - p2 if kind == "difference" else (p1 / p2 if p2 > 0 else math.inf)
    limits = _limits(kind, signed, bounds, symmetric)
    crossed = [(b, above) for b, above in limits if low <= b <= high] or limits
    if not crossed:
        return {}
    more: dict[str, int] = {}
    factors = [growth_to_settle(kind, first, second, pair.confidence, b, grow) for b, _ in crossed]
    if all(f is not None for f in factors):
        factor = max(f for f in factors if f is not None)
        for side, grows in zip((pair.first, pair.second), grow, strict=True):
            # Reaching the minimum evidence is needed too; people come in the group's proportions.
            needed = max(factor, minimum / side.n if side.n else math.inf)
            if grows and math.isfinite(needed):
                more[side.group] = math.ceil(side.size * (needed - 1.0))
    limit, above = min(crossed, key=lambda item: abs(item[0] - signed))
    found = detectable(kind, low, high, pair.confidence, limit, above)
    if symmetric:  # back from the pair's orientation to the summary's |difference| or min/max ratio
        found = abs(found) if kind == "difference" else (1.0 / found if signed >= 1 and found else found)
    return {"more": more, "detectable": found if math.isfinite(found) else None}


def _plain(
    row: MetricRow,
    where: str,
    bounds: Bounds,
    decisive: tuple[float, float] | None,
    every: tuple[float, float],
    minimum: int,
) -> Shortfall:
    """Return the shortfall of a row without a basis, scaling its interval's width as 1/sqrt(n)."""
    assert row.value is not None
    n = row.n or 0
    cause: Cause = "thin" if decisive is None else "straddles"
    if n == 0:
        return Shortfall(where=where, cause=cause)
    factor = minimum / n if decisive is None else 1.0
    limits = [b for b in bounds if b is not None and every[0] <= b <= every[1]]
    if limits:  # also narrow the interval until it clears the limit it crosses
        limit = min(limits, key=lambda b: abs(b - row.value))
        distance = abs(row.value - limit)
        half = (every[1] - every[0]) / 2
        factor = max(factor, (half / distance) ** 2 if distance > 0 else math.inf)
    who = row.group or ""  # "": the evaluation set as a whole
    more = {who: math.ceil(n * (factor - 1.0))} if math.isfinite(factor) and factor > 1 else {}
    return Shortfall(where=where, cause=cause, more=more)
