"""The ledger: hash chain, versions per subject, and tamper detection naming the file."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from assay.ledger.store import Ledger


def _append(ledger: Ledger, service: str, candidate: str, body: str = "x"):
    return ledger.append(
        service,
        candidate,
        lambda info: {"record.json": json.dumps({"id": info.audit_id, "b": body}).encode(),
                      "report.html": b"<html></html>"},
    )  # fmt: skip


def test_versions_count_per_subject_and_chain_verifies(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    a1 = _append(ledger, "svc", "a")
    b1 = _append(ledger, "svc", "b")
    a2 = _append(ledger, "svc", "a")
    assert [a1.audit_id, b1.audit_id, a2.audit_id] == ["svc.a.v1", "svc.b.v1", "svc.a.v2"]
    assert a2.manifest["prev_manifest_sha256"] == b1.manifest_sha256
    assert [e.audit_id for e in ledger.of_subject("svc", "a")] == ["svc.a.v1", "svc.a.v2"]
    assert ledger.of_subject("svc", "c") == []
    assert ledger.verify() == []
    assert not list((tmp_path / "tmp").iterdir())  # nothing half-written left behind


@pytest.mark.parametrize("name", ["record.json", "report.html", "manifest.json"])
def test_one_changed_byte_is_named(tmp_path: Path, name: str) -> None:
    ledger = Ledger(tmp_path)
    for c in ("a", "b", "c"):
        _append(ledger, "svc", c)
    target = tmp_path / "entries" / "000002" / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 1
    target.write_bytes(bytes(data))
    problems = ledger.verify()
    assert problems and problems[0].startswith(f"entries/000002/{name}:")


def test_added_and_removed_files_are_named(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    _append(ledger, "svc", "a")
    (tmp_path / "entries/000001/extra.txt").write_text("sneaked in")
    (tmp_path / "entries/000001/report.html").unlink()
    problems = ledger.verify()
    assert "entries/000001/extra.txt: not in the manifest (added after sealing)" in problems
    assert "entries/000001/report.html: missing" in problems


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    threads = [
        threading.Thread(target=_append, args=(Ledger(tmp_path), "svc", f"c{i % 3}")) for i in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = ledger.entries()
    assert len(entries) == 12
    assert sorted(e.audit_id for e in entries) == sorted(
        f"svc.c{c}.v{v}" for c in range(3) for v in range(1, 5)
    )
    assert ledger.verify() == []
