"""Which files the monitor audits: the latest window of a folder, and the previous audit's window
found beside it by its hash, whatever it is called now."""

from __future__ import annotations

import hashlib

import pytest

from assay.checks.errors import AssayInputError
from assay.flows.monitor import find_reference, latest_window
from assay.ledger.record import AuditRecord, Fingerprints, Subject


def _previous(data: bytes, file: str | None) -> AuditRecord:
    """Return a sealed-looking previous audit that evaluated `data`, then called `file`."""
    return AuditRecord(
        audit_id="welfare-review.vendor-c.v1",
        version=1,
        created_at="2026-10-01T06:00:00+09:00",
        subject=Subject(service="welfare-review", candidate="vendor-c", vendor="v", model="m",
                        model_version="1"),
        service={},
        candidate={},
        policy={},
        evaluation={"file": file, "rows": 3} if file else {},
        inputs=Fingerprints(
            data_sha256=hashlib.sha256(data).hexdigest(), model_sha256="0", policy_sha256="0",
            profile_sha256="0", contract_sha256=None, code_version="0", libraries={}, seed=0,
        ),
        results=[],
        verdicts=[],
        command="assay monitor",
    )  # fmt: skip


SEPTEMBER = b"case_id,income_decile\nWR-1,3\nWR-2,7\n"
OCTOBER = b"case_id,income_decile\nWR-3,1\nWR-4,9\n"


def test_a_folders_latest_window_is_its_last_window_file_by_name(tmp_path) -> None:
    for name in ("2026-01.parquet", "2026-02.csv", "notes.txt", "README"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "2026-12.parquet").mkdir()  # a folder is not a window
    assert latest_window(tmp_path) == tmp_path / "2026-02.csv"
    (tmp_path / "2026-03.PQ").write_bytes(b"x")
    assert latest_window(tmp_path) == tmp_path / "2026-03.PQ"


def test_a_window_file_is_itself_the_latest_window(tmp_path) -> None:
    (tmp_path / "2026-01.parquet").write_bytes(b"x")
    (tmp_path / "2026-02.csv").write_bytes(b"x")
    assert latest_window(tmp_path / "2026-01.parquet") == tmp_path / "2026-01.parquet"


@pytest.mark.parametrize("layout", ["empty", "no_window_files", "missing"])
def test_no_window_is_a_one_line_error_naming_the_path(tmp_path, layout) -> None:
    path = tmp_path / "windows"
    if layout != "missing":
        path.mkdir()
    if layout == "no_window_files":
        (path / "notes.txt").write_text("later")
        (path / "2026-01.json").write_text("{}")
    with pytest.raises(AssayInputError) as info:
        latest_window(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert ("no such evaluation window" if layout == "missing" else "no evaluation window") in message


def test_the_previous_window_is_found_by_its_hash_after_a_rename(tmp_path) -> None:
    (tmp_path / "2026-10.csv").write_bytes(OCTOBER)
    (tmp_path / "september-archived.csv").write_bytes(SEPTEMBER)
    (tmp_path / "2026-09.csv").write_bytes(OCTOBER)  # the old name now holds other bytes
    (tmp_path / "notes.txt").write_bytes(SEPTEMBER)  # same bytes, not a window file
    found = find_reference(tmp_path / "2026-10.csv", _previous(SEPTEMBER, "2026-09.csv"))
    assert found == tmp_path / "september-archived.csv"
    # A record that does not name its file is matched by hash alone.
    assert find_reference(tmp_path / "2026-10.csv", _previous(SEPTEMBER, None)) == found


def test_the_file_the_previous_record_names_is_preferred_when_it_still_matches(tmp_path) -> None:
    (tmp_path / "2026-10.csv").write_bytes(OCTOBER)
    (tmp_path / "2026-09.csv").write_bytes(SEPTEMBER)
    (tmp_path / "zz-copy.csv").write_bytes(SEPTEMBER)  # last by name among the siblings
    found = find_reference(tmp_path / "2026-10.csv", _previous(SEPTEMBER, "2026-09.csv"))
    assert found == tmp_path / "2026-09.csv"


def test_no_matching_sibling_gives_none(tmp_path) -> None:
    (tmp_path / "2026-10.csv").write_bytes(OCTOBER)
    (tmp_path / "2026-09.csv").write_bytes(SEPTEMBER + b"WR-5,2\n")  # edited since the audit
    (tmp_path / "2026-09.csv.bak").write_bytes(SEPTEMBER)  # the bytes, but not a window file
    assert find_reference(tmp_path / "2026-10.csv", _previous(SEPTEMBER, "2026-09.csv")) is None
    # The previous window elsewhere is not looked for: only the current window's folder is.
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "2026-09.csv").write_bytes(SEPTEMBER)
    assert find_reference(tmp_path / "2026-10.csv", _previous(SEPTEMBER, "2026-09.csv")) is None
