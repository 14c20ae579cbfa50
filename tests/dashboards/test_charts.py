"""The report's fairness charts: each group's rate and interval placed on a round axis, small
groups never drawn, intersections left to the tables."""

from __future__ import annotations

from typing import Any

import pytest

from assay.dashboards.charts import COLOURS, fairness_charts


def _row(
    attribute: str, group: str | None, value: float | None, metric: str = "fpr", **kw: Any
) -> dict[str, Any]:
    low, high = (None, None) if value is None else (value - 0.02, value + 0.02)
    return {"check_id": "fairness.group_metrics", "metric": metric, "attribute": attribute, "group": group,
            "value": value, "ci_low": low, "ci_high": high, "n": 500,
            "suppressed": value is None}  # fmt: skip


def test_points_sit_on_a_round_axis_in_proportion_to_their_values() -> None:
    [chart] = fairness_charts([_row("sex", "female", 0.12), _row("sex", "male", 0.30)])
    assert [label for _, label in chart.ticks] == ["0.0", "0.1", "0.2", "0.3", "0.4"]
    female, male = chart.points
    span = chart.plot_right - chart.plot_left
    assert female.x == pytest.approx(chart.plot_left + span * 0.12 / 0.40, abs=0.1)
    assert male.x == pytest.approx(chart.plot_left + span * 0.30 / 0.40, abs=0.1)
    assert female.x_low < female.x < female.x_high and female.y < male.y
    assert chart.colour == COLOURS["fpr"]


def test_small_groups_are_not_drawn_and_intersections_and_summaries_are_left_out() -> None:
    rows = [
        _row("nationality", "korean", 0.10),
        _row("nationality", "stateless", None),  # suppressed: below the disclosure minimum
        _row("sex×nationality", "female×korean", 0.11),
        _row("nationality", None, 0.05, metric="fpr_gap"),
        _row("nationality", "korean", 0.2, metric="tpr"),  # not a charted rate
        _row("nationality", "korean", 0.3, metric="selection_rate"),
    ]
    charts = fairness_charts(rows)
    assert [(c.attribute, c.metric) for c in charts] == [
        ("nationality", "selection_rate"),
        ("nationality", "fpr"),
    ]
    korean, stateless = charts[1].points
    assert korean.x is not None and stateless.suppressed and stateless.x is None and stateless.value is None


def test_the_report_draws_them_with_a_text_alternative() -> None:
    from test_report_i18n import _record  # a hand-built record the report can render

    from assay.checks.results import CheckResult, MetricRow, Status
    from assay.dashboards.report import render_report

    metrics = [
        MetricRow(check_id="fairness.group_metrics", metric="fpr", attribute="sex", group=group, value=value,
                  ci_low=value - 0.01, ci_high=value + 0.01, n=n)
        for group, value, n in (("female", 0.1234, 900), ("male", 0.2345, 800), ("other", 0.5, 4))
    ]  # fmt: skip
    result = CheckResult(check_id="fairness.group_metrics", title="Group metrics", status=Status.PASSED,
                         metrics=metrics)  # fmt: skip
    record = _record().model_copy(update={"results": [result]})
    html = render_report(record, lang="en")
    assert html.count('<svg role="img"') == 1
    assert '<title id="chart1-t">false-positive rate: sex</title>' in html
    desc = html[html.index('<desc id="chart1-d">') : html.index("</desc>")]
    assert "female: 0.123 [0.113, 0.133]" in desc and "male: 0.234" in desc
    assert "other: suppressed" in desc and "0.500" not in html  # a group of 4, below the minimum of 10
    assert html.count("<circle") == 2
    assert "suppressed (n &lt; 10)" in html
    korean = render_report(record)
    assert "오탐률" in korean and "other: 비공개" in korean
