"""Geometry of the report's fairness charts: each group's rate with its interval, per sensitive
attribute, from the published rows (small groups stay suppressed). The template draws the SVG."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from assay.checks.stats import CROSS
from assay.dashboards.site_charts import OKABE_ITO, decimals, round_axis

# The error rates and selection rate the fairness clauses compare, in the order they are drawn.
CHARTED = ("selection_rate", "fpr", "fnr")
# Okabe–Ito: told apart with every common colour-vision deficiency, one per charted metric.
COLOURS = {"selection_rate": OKABE_ITO[0], "fpr": OKABE_ITO[2], "fnr": OKABE_ITO[1]}
WIDTH, LABEL_W, ROW_H, TOP, BOTTOM = 640, 170, 22, 8, 30


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
        _, top, step = round_axis(0.0, highest)
        steps = round(top / step)
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
        ticks = [(_x(step * k, top), f"{step * k:.{decimals(step)}f}") for k in range(steps + 1)]
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
