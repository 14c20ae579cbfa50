"""Names from vendors and agencies' data cannot run in what Assay publishes: no formula in
metrics.csv, no HTML, link or extra table column in monitor.md and the Prefect artifacts."""

from __future__ import annotations

import csv
import io

import pytest
from markdown_it import MarkdownIt

from assay.checks.drift import FeatureDrift
from assay.checks.monitoring import GroupShift, Monitoring, MonitorReport, flag_drift
from assay.checks.phrase import Text
from assay.checks.policy import Verdict, VerdictStatus
from assay.checks.regression import MetricChange
from assay.checks.results import CheckResult, MetricRow, Status
from assay.dashboards.artifacts import render_monitor_markdown, verdict_rows
from assay.dashboards.escape import markdown_text, spreadsheet_cell
from assay.flows.audit import metrics_csv
from assay.ledger.record import AuditRecord, Fingerprints, Subject

FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd", "-2+3", "\tx", "\rx=1"]
VENDOR = "<img src=x onerror=alert(1)>|x"
GROUP = "a|b"
LINK = "[click](javascript:alert(1))"
MARKDOWN = MarkdownIt("commonmark").enable("table")


def _record(groups: list[str], values: list[float]) -> AuditRecord:
    rows = [
        MetricRow(check_id="c", metric="tpr", attribute="=attr", group=g, value=v, ci_low=v - 0.1,
                  ci_high=v + 0.1, n=500)
        for g, v in zip(groups, values, strict=True)
    ]  # fmt: skip
    changes = [
        MetricChange(check_id="fairness.group_metrics", metric="fpr_gap", attribute=GROUP, group=None,
                     feature=None, n=800, before=0.05, after=0.14, change=0.09, ci_low=0.07, ci_high=0.11,
                     real=True, regression=True),
    ]  # fmt: skip
    drift = flag_drift(
        [FeatureDrift(feature=LINK, kind="categorical", psi=0.3, test="chi2", statistic=9.0, p_value=1e-9,
                      n_reference=900, n_current=900)],
        Monitoring(),
    )  # fmt: skip
    shifts = [
        GroupShift(attribute="nationality", group=GROUP, n_before=500, n_after=600, share_before=0.1,
                   share_after=0.12, change=0.02, p_value=0.3, shifted=False),
        GroupShift(attribute="nationality", group="line\nbreak", n_before=500, n_after=600, share_before=0.1,
                   share_after=0.12, change=0.02, p_value=0.3, shifted=False),
    ]  # fmt: skip
    report = MonitorReport(
        run_key="k", previous_audit_id="s.c.v1", window="w|<b>.csv", window_sha256="cd" * 32,
        reference="prev.csv", reference_status="found", settings=Monitoring(), changes=changes,
        drift=drift, group_shift=shifts,
    )  # fmt: skip
    verdict = Verdict(
        clause_id="X-1", title=Text(ko="t", en=f"{VENDOR} {LINK}"), source="s", verified=True,
        severity="gate", verdict=VerdictStatus.PASS, evidence=[],
    )  # fmt: skip
    return AuditRecord(
        audit_id="s.c.v2", version=2, created_at="2026-11-22T00:00:00+00:00",
        subject=Subject(service="s", candidate="c", vendor=VENDOR, model=LINK, model_version="`1`*"),
        service={}, candidate={}, policy={"id": "p", "version": "1", "parameters": {"disclosure_min": 10}},
        evaluation={},
        inputs=Fingerprints(data_sha256="0", model_sha256="0", policy_sha256="0", profile_sha256="0",
                            contract_sha256=None, code_version="0", libraries={}, seed=0),
        results=[CheckResult(check_id="c", title="c", status=Status.PASSED, metrics=rows)],
        verdicts=[verdict], command="assay monitor", monitoring=report,
    )  # fmt: skip


@pytest.mark.parametrize("text", FORMULAS)
def test_a_text_cell_starting_like_a_formula_gets_a_quote(text: str) -> None:
    assert spreadsheet_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["female", "65+", "a-b", "", -0.12, 0.5, 3, True])
def test_other_cells_and_numbers_are_left_as_they_are(value: object) -> None:
    assert spreadsheet_cell(value) == value


def test_metrics_csv_neutralises_formula_names_and_keeps_negative_numbers() -> None:
    record = _record(FORMULAS, [-0.12, 0.3, 0.4, 0.5, 0.6, 0.7])
    table = list(csv.DictReader(io.StringIO(metrics_csv(record).decode(), newline="")))
    assert [r["group"] for r in table] == ["'" + g for g in FORMULAS]
    assert {r["attribute"] for r in table} == {"'=attr"}
    # Numbers are numbers: a negative value is written as it is, not as text.
    assert table[0]["value"] == "-0.12"
    assert table[0]["ci_low"] == "-0.22"
    assert len(table) == len(FORMULAS)  # a carriage return inside a name does not start a row


def test_markdown_text_leaves_ordinary_names_alone() -> None:
    assert markdown_text("fairness.group_metrics") == "fairness.group_metrics"
    assert markdown_text("65+") == "65+"
    assert markdown_text(0.25) == "0.25"


def _tables(html: str) -> list[list[int]]:
    """Return the number of cells of every row of every table in rendered HTML."""
    tables = []
    for table in html.split("<table>")[1:]:
        body = table.split("</table>")[0]
        tables.append([row.count("<td>") + row.count("<th>") for row in body.split("<tr>")[1:]])
    return tables


def test_monitor_markdown_keeps_hostile_names_as_text() -> None:
    text = render_monitor_markdown(_record(["g"], [0.1]))
    html = MARKDOWN.render(text)
    # No tag, link or code from a name survives: the vendor's <img> is shown, not run.
    assert "<img" not in html and "<b>" not in html and "<a " not in html and "<em>" not in html
    assert "<code>" not in html.replace("<code>cdcdcdcdcdcdcdcd</code>", "")  # the window's hash only
    assert "model [click](javascript:alert(1)) `1`*" in html
    assert "&lt;img src=x onerror=alert(1)&gt;|x" in html
    assert "[click](javascript:alert(1))" in html  # shown as the text it is
    # Every table keeps its six columns, whatever `|` the names hold.
    tables = _tables(html)
    assert len(tables) == 3  # regressions, drift, group shares
    assert all(row == [6] * len(row) for row in tables), tables
    assert "<td>a|b</td>" in html and "<td>line break</td>" in html


def test_the_prefect_verdict_table_cells_are_escaped_markdown() -> None:
    (row,) = verdict_rows(_record(["g"], [0.1]))
    assert row["clause"] == "X-1"
    html = MARKDOWN.render(row["title"])
    assert "<img" not in html and "<a " not in html
    assert "&lt;img src=x onerror=alert(1)&gt;|x [click](javascript:alert(1))" in html
