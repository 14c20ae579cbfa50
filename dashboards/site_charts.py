"""Geometry of the oversight site's trend charts: one metric across versions, its interval a band.

Pure arithmetic; the template draws the SVG. Coordinates are rounded to one decimal so that the
same numbers always give the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Okabe & Ito's colour-blind-safe palette (blue, bluish green, vermillion, orange, reddish purple).
OKABE_ITO = ("#0072B2", "#009E73", "#D55E00", "#E69F00", "#CC79A7")

WIDTH, HEIGHT = 420, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 44
INSET = 20  # the first and last version sit this far inside the plot, off the axis
STEPS = (0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class Value:
    """One version's value of a metric and its interval (None when withheld or not measured)."""

    version: int
    value: float | None
    low: float | None = None
    high: float | None = None
    flagged: bool = False  # the monitor found a regression in this version


@dataclass(frozen=True)
class Point:
    """A plotted version: its position, its interval's ends on screen, and what it says."""

    version: int
    value: float
    x: str
    y: str
    y_low: str | None
    y_high: str | None
    flagged: bool


@dataclass(frozen=True)
class Tick:
    """An axis tick: where it sits and its label."""

    at: str
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw one line chart with an interval band."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    points: list[Point]
    lines: list[str]  # polyline point lists, one per run of consecutive plotted versions
    bands: list[str]  # polygon point lists of the intervals, one per run with intervals
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    colour: str


def _c(v: float) -> str:
    return f"{v:.1f}"


def round_axis(lo: float, hi: float) -> tuple[float, float, float]:
    """Return the range from `lo` to `hi` widened to round ends, and a round tick step (≤ 5 steps)."""
    step = next((s for s in STEPS if (hi - lo) / s <= 5), STEPS[-1] * math.ceil((hi - lo) / 5))
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    if hi <= lo:
        hi = lo + step
    return lo, hi, step


def _domain(values: list[Value]) -> tuple[float, float, float]:
    """Return a rounded y range covering every value and interval, and its tick step."""
    seen = [x for v in values for x in (v.value, v.low, v.high) if x is not None]
    if not seen:
        return 0.0, 1.0, 0.25
    lo, hi = min(seen), max(seen)
    span = max(hi - lo, 0.02)
    lo, hi = lo - span * 0.1, hi + span * 0.1
    if min(seen) >= 0:
        lo = max(lo, 0.0)
    return round_axis(lo, hi)


def decimals(step: float) -> int:
    """Return how many decimals label ticks `step` apart exactly (0.025 → 3)."""
    text = f"{step:g}"
    return len(text.split(".")[1]) if "." in text else 0


def line_chart(values: list[Value], colour: str) -> Chart:
    """Return the geometry of a chart of `values` (oldest version first) in `colour`."""
    values = sorted(values, key=lambda v: v.version)
    lo, hi, step = _domain(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(i: int) -> float:
        if len(values) == 1:
            return LEFT + plot_w / 2
        return LEFT + INSET + (plot_w - 2 * INSET) * i / (len(values) - 1)

    def y_of(v: float) -> float:
        return TOP + plot_h * (hi - v) / (hi - lo)

    points: list[Point] = []
    runs: list[list[tuple[float, Value]]] = [[]]
    for i, v in enumerate(values):
        if v.value is None:
            runs.append([])
            continue
        x = x_of(i)
        runs[-1].append((x, v))
        has_ci = v.low is not None and v.high is not None
        points.append(
            Point(
                version=v.version,
                value=v.value,
                x=_c(x),
                y=_c(y_of(v.value)),
                y_low=_c(y_of(v.low)) if has_ci and v.low is not None else None,
                y_high=_c(y_of(v.high)) if has_ci and v.high is not None else None,
                flagged=v.flagged,
            )
        )
    lines, bands = [], []
    for run in runs:
        if len(run) >= 2:
            lines.append(" ".join(f"{_c(x)},{_c(y_of(v.value or 0.0))}" for x, v in run))
        with_ci = [(x, v) for x, v in run if v.low is not None and v.high is not None]
        if len(with_ci) >= 2 and len(with_ci) == len(run):
            upper = [f"{_c(x)},{_c(y_of(v.high or 0.0))}" for x, v in run]
            lower = [f"{_c(x)},{_c(y_of(v.low or 0.0))}" for x, v in reversed(run)]
            bands.append(" ".join(upper + lower))
    digits = decimals(step)
    count = round((hi - lo) / step)
    y_ticks = [Tick(_c(y_of(lo + k * step)), f"{lo + k * step:.{digits}f}") for k in range(count + 1)]
    x_ticks = [Tick(_c(x_of(i)), f"v{v.version}") for i, v in enumerate(values)]
    return Chart(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, points, lines, bands, x_ticks, y_ticks, colour)
