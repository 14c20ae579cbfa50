"""Geometry of the report's fairness charts: each group's rate with its interval, per sensitive
attribute, from the published rows (small groups stay suppressed). The template draws the SVG."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel

from assay.checks.stats import CROSS

# The error rates and selection rate the fairness clauses compare, in the order they are drawn.
CHARTED = ("selection_rate", "fpr", "fnr")
# Okabe–Ito: told apart with every common colour-vision deficiency, one per charted metric.
COLOURS = {"selection_rate": "#0072B2", "fpr": "#D55E00", "fnr": "#009E73"}
WIDTH, LABEL_W, ROW_H, TOP, BOTTOM = 640, 170, 22, 8, 30
STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25)


class Point(BaseModel):
    """One group's value and interval, placed on the chart."""

    group: str
    n: int | None
    value: float | None
    low: float | None
    high: float | None
    suppressed: bool
    y: float
    x: float | None = None
    x_low: float | None = None
    x_high: float | None = None


class Chart(BaseModel):
    """One metric across the groups of one attribute."""

    attribute: str
    metric: str
    colour: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    axis_y: float
    ticks: list[tuple[float, str]]
    points: list[Point]


def _x(value: float, top: float) -> float:
    return round(LABEL_W + (WIDTH - LABEL_W - 20) * value / top, 1)


def fairness_charts(published_rows: list[dict[str, Any]]) -> list[Chart]:
    """Return a chart per (single attribute, charted metric), groups in the rows' order."""
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in published_rows:
        if row["check_id"] != "fairness.group_metrics" or row["metric"] not in CHARTED:
            continue
        if row["group"] is None or row["attribute"] is None or CROSS in row["attribute"]:
            continue
        by_key.setdefault((row["attribute"], row["metric"]), []).append(row)
    charts = []
    order = sorted(by_key, key=lambda key: (key[0], CHARTED.index(key[1])))
    for attribute, metric in order:
        rows = by_key[(attribute, metric)]
        highest = min(1.0, max([r["ci_high"] or r["value"] or 0.0 for r in rows] + [0.01]))
        # The axis ends on a round number with at most five round steps: 0.05, 0.1, 0.2, 0.25...
        step = next(st for st in STEPS if math.ceil(highest / st - 1e-9) <= 5)
        steps = max(1, math.ceil(highest / step - 1e-9))
        top = step * steps
        points = []
        for i, row in enumerate(rows):
            point = Point(
                group=str(row["group"]),
                n=row["n"],
                value=row["value"],
                low=row["ci_low"],
                high=row["ci_high"],
                suppressed=bool(row["suppressed"]) or row["value"] is None,
                y=TOP + ROW_H * i + ROW_H / 2,
            )
            if not point.suppressed:
                point.x = _x(float(row["value"]), top)
                point.x_low = _x(float(row["ci_low"] if row["ci_low"] is not None else row["value"]), top)
                point.x_high = _x(float(row["ci_high"] if row["ci_high"] is not None else row["value"]), top)
            points.append(point)
        axis_y = TOP + ROW_H * len(rows)
        ticks = [(_x(step * k, top), f"{step * k:.2f}") for k in range(steps + 1)]
        charts.append(
            Chart(
                attribute=attribute,
                metric=metric,
                colour=COLOURS[metric],
                width=WIDTH,
                height=int(axis_y + BOTTOM),
                plot_left=LABEL_W,
                plot_right=WIDTH - 20,
                axis_y=axis_y,
                ticks=ticks,
                points=points,
            )
        )
    return charts
