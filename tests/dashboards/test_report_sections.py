"""The report says what the audit did not measure, and why."""

from __future__ import annotations

from test_report_i18n import _record

from assay.checks.policy import VerdictStatus
from assay.checks.results import CheckResult, Status
from assay.dashboards.report import render_report


def _section(html: str, heading: str) -> str:
    start = html.index(f"<h2>{heading}</h2>")
    return html[start : html.index("<h2>", start + 5)]


def test_checks_not_assessed_and_undecided_clauses_are_listed_with_their_reasons() -> None:
    missing = CheckResult(check_id="explain.surrogate", title="Surrogate", status=Status.NOT_ASSESSED,
                          messages=["not assessed: the audit has no model_access"])  # fmt: skip
    base = _record()
    waiting = base.verdicts[0].model_copy(
        update={"clause_id": "KR-WAIT-1", "verdict": VerdictStatus.NEEDS_ATTESTATION}
    )
    record = base.model_copy(update={"results": [missing], "verdicts": [*base.verdicts, waiting]})
    section = _section(render_report(record, lang="en"), "What this audit did not measure")
    assert (
        "<code>explain.surrogate</code> (not assessed): not assessed: the audit has no model_access"
        in section
    )
    undecided = [v for v in record.verdicts if v.verdict.value in ("inconclusive", "needs_attestation")]
    assert [v.clause_id for v in undecided] == ["KR-WAIT-1"] and "<code>KR-WAIT-1</code>" in section
    assert f"<code>{base.verdicts[0].clause_id}</code>" not in section  # a failed clause was decided
    assert "평가 불가" in _section(render_report(record), "이 감사가 측정하지 못한 것")


def test_a_complete_audit_says_so() -> None:
    record = _record()
    record = record.model_copy(
        update={
            "results": [],
            "verdicts": [v for v in record.verdicts if v.verdict.value in ("pass", "fail")],
        }
    )
    section = _section(render_report(record, lang="en"), "What this audit did not measure")
    assert "Every registered check ran and every clause was decided." in section


def test_intake_and_the_data_contract_are_shown() -> None:
    contract = CheckResult(
        check_id="data.contract", title="Data contract", status=Status.FAILED,
        details={"expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "age"}, "success": False,
             "unexpected_count": 12},
        ]},
    )  # fmt: skip
    intake = {
        "format": "endpoint",
        "sha256": "ef" * 32,
        "requests": {"requests": 41, "retries": 2, "failures": 1},
        "determinism": {"deterministic": False, "rows_probed": 50, "rows_differing": 3},
    }
    record = _record().model_copy(update={"results": [contract], "intake": intake})
    section = _section(render_report(record, lang="en"), "Intake and data contract")
    assert "<code>endpoint</code>" in section and "ef" * 32 in section
    assert "failures 1, requests 41, retries 2" in section
    assert "3 of 50 rows asked twice got different answers" in section
    assert '<td>age</td><td class="verdict-fail">not met</td><td>12</td>' in section
    korean = _section(render_report(record), "모델 접수와 데이터 계약")
    assert "두 번 물은 50행 가운데 3행의 답이 달랐습니다" in korean
