"""Publication rules of a record: small groups keep their size but lose their numbers."""

from __future__ import annotations

import csv
import io

from assay.checks.results import CheckResult, MetricRow, Status
from assay.flows.audit import metrics_csv
from assay.ledger.record import AuditRecord, Fingerprints, Subject


def _record(disclosure_min: int) -> AuditRecord:
    rows = [
        MetricRow(
            check_id="c", metric="tpr", attribute="a", group="big", value=0.5, ci_low=0.4, ci_high=0.6, n=500
        ),
        MetricRow(
            check_id="c", metric="tpr", attribute="a", group="tiny", value=1.0, ci_low=0.4, ci_high=1.0, n=3
        ),
        MetricRow(check_id="c", metric="tpr_gap", attribute="a", value=0.5, ci_low=0.1, ci_high=0.6, n=3),
    ]
    return AuditRecord(
        audit_id="s.c.v1",
        version=1,
        created_at="2026-11-22T00:00:00+00:00",
        subject=Subject(service="s", candidate="c", vendor="v", model="m", model_version="1"),
        service={},
        candidate={},
        policy={"parameters": {"disclosure_min": disclosure_min}},
        evaluation={},
        inputs=Fingerprints(
            data_sha256="0", model_sha256="0", policy_sha256="0", profile_sha256="0",
            contract_sha256=None, code_version="0", libraries={}, seed=0,
        ),
        results=[CheckResult(check_id="c", title="c", status=Status.PASSED, metrics=rows)],
        verdicts=[],
        command="assay audit",
    )  # fmt: skip


def test_metrics_csv_blanks_cells_below_the_disclosure_minimum_and_keeps_their_size() -> None:
    table = list(csv.DictReader(io.StringIO(metrics_csv(_record(10)).decode())))
    by_group = {(r["metric"], r["group"]): r for r in table}
    tiny = by_group[("tpr", "tiny")]
    assert (tiny["value"], tiny["ci_low"], tiny["ci_high"], tiny["n"], tiny["suppressed"]) == (
        "",
        "",
        "",
        "3",
        "True",
    )
    assert by_group[("tpr", "big")]["value"] == "0.5"
    # A gap over the attribute's groups would give the tiny group's rate away (1.0 - 0.5).
    assert by_group[("tpr_gap", "")]["value"] == ""


def test_a_lower_disclosure_minimum_publishes_the_small_cell() -> None:
    rows = _record(3).published_rows()
    assert [r["value"] for r in rows if r["group"] == "tiny"] == [1.0]
