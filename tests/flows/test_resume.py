"""A resumable audit reads back the checks an earlier run of the same inputs finished, and only
those: a check that errored is run again (a real Prefect flow on the local engine)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from prefect import flow

import assay.flows.audit as audit
from assay.checks.context import AuditContext
from assay.checks.registry import Check, run_check
from assay.checks.results import CheckResult, Status

CHECKS = ("data.contract", "performance.classification", "data.label_bias", "fairness.group_metrics")
FLAKY = "data.label_bias"


def test_a_rerun_reads_back_finished_checks_and_retries_the_one_that_errored(
    scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: Counter[str] = Counter()

    def counting(check: Check, ctx: AuditContext) -> CheckResult:
        calls[check.id] += 1
        if check.id == FLAKY and calls[check.id] == 1:
            return CheckResult(check_id=check.id, title=check.title, status=Status.ERROR, messages=["boom"])
        return run_check(check, ctx)

    everything = audit.all_checks()
    monkeypatch.setattr(audit, "all_checks", lambda: {c: everything[c] for c in CHECKS})
    monkeypatch.setattr(audit, "run_check", counting)
    spec = audit.AuditSpec(
        service="welfare-review",
        candidate=scenario / "candidates" / "vendor-c" / "candidate.yaml",
        data=scenario / "windows" / "2026-09.parquet",
        policy="kr-public-service",
        ledger=tmp_path / "ledger",
        seed=7,
    )

    @flow
    def measure_once(resumable: bool) -> tuple[int, dict[str, str]]:
        m = audit.measure(spec, resumable=resumable)
        return m.reused, {r.check_id: r.status.value for r in m.results}

    reused, statuses = measure_once(True)
    assert reused == 0 and statuses[FLAKY] == "error"
    reused, statuses = measure_once(True)
    # Two checks read back; the one that errored ran again and now passes.
    assert reused == 2 and statuses[FLAKY] != "error"
    # The data contract gates everything and is cheap: it is validated on every run.
    assert calls == {
        "data.contract": 2,
        "performance.classification": 1,
        "fairness.group_metrics": 1,
        FLAKY: 2,
    }
    # Without resumability nothing is read back.
    reused, _ = measure_once(False)
    assert reused == 0 and calls["performance.classification"] == 2
