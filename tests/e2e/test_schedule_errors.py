"""`assay schedule` and `assay monitor` refuse bad input in one line with exit code 2: no server
configured or reachable, a bad cron or timezone, a folder without windows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ASSAY = str(Path(sys.executable).parent / "assay")
UNREACHABLE = "http://127.0.0.1:9/api"  # the discard port: nothing listens there

CANDIDATE = """\
id: vendor-x
vendor: X
model: X scorer
version: "1"
format: predictions
location: preds.csv
input_features: []
predictions: {id_column: case_id, score_column: score}
output: {positive_class: 1, score: probability of an irregularity, threshold: 0.3}
intended_use: tests
training_data: none
contact: x@example.org
"""


def _one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], proc.stderr
    return lines[0]


def _create(run_assay, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_assay(
        "schedule", "create", "welfare-monthly", "--service", "welfare-review",
        "--candidate", str(tmp_path / "candidate.yaml"), "--data", str(tmp_path), *extra,
    )  # fmt: skip


def test_schedule_list_without_a_server_url_says_how_to_set_one(run_assay, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    line = _one_line_error(run_assay("schedule", "list"), "PREFECT_API_URL is not set")
    assert "prefect server start" in line


def test_schedule_list_with_an_unreachable_server_names_it(run_assay, monkeypatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", UNREACHABLE)
    _one_line_error(run_assay("schedule", "list", timeout=120), UNREACHABLE, "cannot reach")


def test_a_bad_cron_is_refused_naming_the_option(run_assay, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    _one_line_error(_create(run_assay, tmp_path, "--cron", "not a cron"), "--cron 'not a cron'", "cron")


def test_an_unknown_timezone_is_refused_naming_the_option(run_assay, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    proc = _create(run_assay, tmp_path, "--cron", "0 6 1 * *", "--timezone", "Mars/Base")
    _one_line_error(proc, "--timezone Mars/Base", "IANA")


@pytest.mark.parametrize("case", ["no_window", "missing_reference"])
def test_monitor_with_bad_input_fails_before_prefect_starts_and_seals_nothing(
    session_env, tmp_path, case
) -> None:
    (tmp_path / "candidate.yaml").write_text(CANDIDATE)
    (tmp_path / "preds.csv").write_text("case_id,score\nWR-1,0.2\n")
    windows, ledger, home = tmp_path / "windows", tmp_path / "ledger", tmp_path / "prefect-home"
    windows.mkdir()
    (windows / "notes.txt").write_text("the windows arrive monthly")
    extra: list[str] = []
    if case == "missing_reference":
        (windows / "2026-10.csv").write_text("case_id\nWR-1\n")
        extra = ["--reference", str(tmp_path / "2026-09.csv")]
    proc = subprocess.run(
        [ASSAY, "monitor", "--service", "welfare-review", "--candidate", str(tmp_path / "candidate.yaml"),
         "--data", str(windows), "--ledger", str(ledger), *extra],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
        env={**os.environ, **session_env, "PREFECT_HOME": str(home)},
    )  # fmt: skip
    if case == "no_window":
        _one_line_error(proc, f"{windows}: no evaluation window")
    else:
        _one_line_error(proc, f"--reference {tmp_path / '2026-09.csv'}: no such file")
    assert not ledger.exists()
    # Before Prefect's temporary server starts, which would create its database here.
    assert not (home / "prefect.db").exists(), sorted(p.name for p in home.iterdir())
