"""The derived SQLite index: one row per entry, rebuilt when stale, and never a wrong answer."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from assay.ledger import index
from assay.ledger.store import Ledger, LedgerIntegrityError


def _audit(ledger: Ledger, candidate: str, recommendation: str = "eligible"):
    return ledger.append(
        "svc",
        candidate,
        lambda info: {
            "record.json": json.dumps({"audit_id": info.audit_id, "recommendation": recommendation}).encode(),
            "report.html": b"<html></html>",
        },
    )


def _round(ledger: Ledger):
    comparison = {"candidates": [{"candidate": "a", "recommendation": "eligible"},
                                 {"candidate": "b", "recommendation": "not_eligible"}]}  # fmt: skip
    return ledger.append("svc", "round-q1", lambda info: {"comparison.json": json.dumps(comparison).encode()})


def _rows(root: Path) -> list[index.IndexRow]:
    entries = Ledger(root).entries()
    rows = index.IndexReader(root, len(entries), entries[-1].manifest_sha256 if entries else None).all()
    assert rows is not None
    return rows


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """Return a ledger of two audits of a, one of b and a round."""
    ledger = Ledger(tmp_path)
    _audit(ledger, "a", "not_eligible")
    _audit(ledger, "b")
    _round(ledger)
    _audit(ledger, "a", "eligible_with_conditions")
    return ledger


def test_every_append_keeps_one_row_per_entry(ledger: Ledger, tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    assert [(r.seq, r.audit_id, r.kind, r.candidate, r.version, r.recommendation) for r in rows] == [
        (1, "svc.a.v1", "audit", "a", 1, "not_eligible"),
        (2, "svc.b.v1", "audit", "b", 1, "eligible"),
        (3, "svc.round-q1.v1", "round", "round-q1", 1, "round: 1 of 2 eligible"),
        (4, "svc.a.v2", "audit", "a", 2, "eligible_with_conditions"),
    ]
    entries = ledger.entries()
    assert [r.manifest_sha256 for r in rows] == [e.manifest_sha256 for e in entries]
    assert [r.created_at for r in rows] == [e.manifest["created_at"] for e in entries]
    assert all(r.service == "svc" for r in rows)
    assert ledger.verify() == []  # the index is no part of what is verified


def test_lookups_use_the_index_when_it_is_fresh(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    # With a fresh index, a lookup reads only the manifests it needs, never the whole ledger.
    monkeypatch.setattr(Ledger, "entries", lambda self: pytest.fail("scanned every entry"))
    assert ledger.find("svc.b.v1").manifest["seq"] == 2
    assert ledger.find("svc.b.v9") is None
    assert [e.audit_id for e in ledger.of_subject("svc", "a")] == ["svc.a.v1", "svc.a.v2"]
    assert ledger.of_subject("svc", "zzz") == []


@pytest.mark.parametrize("damage", ["missing", "corrupt", "stale", "foreign", "lying"])
def test_a_missing_stale_or_corrupt_index_is_never_believed(
    ledger: Ledger, tmp_path: Path, damage: str
) -> None:
    path = tmp_path / index.INDEX
    if damage == "missing":
        path.unlink()
    elif damage == "corrupt":
        path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 500)
    elif damage == "stale":  # as a writer killed between HEAD and the index leaves it
        kept = path.read_bytes()
        _audit(ledger, "b")
        path.write_bytes(kept)
    elif damage == "foreign":
        other = Ledger(tmp_path / "other")
        for c in ("a", "b", "c", "d"):
            _audit(other, c)
        shutil.copyfile(tmp_path / "other" / index.INDEX, path)
    else:  # rows that name other entries than the manifests on disk, with a matching header
        with sqlite3.connect(path) as conn:
            # a's rows swapped (seq 1 and 4): each then names a folder whose manifest fails its hash
            conn.execute("UPDATE entries SET seq = -seq WHERE audit_id LIKE 'svc.a.%'")
            conn.execute("UPDATE entries SET seq = 5 + seq WHERE audit_id LIKE 'svc.a.%'")
    expected_a = [e.audit_id for e in ledger.entries() if e.manifest["subject"]["candidate"] == "a"]
    assert [e.audit_id for e in ledger.of_subject("svc", "a")] == expected_a
    assert ledger.find("svc.a.v2").manifest["seq"] == 4
    assert ledger.find("svc.b.v1").manifest["seq"] == 2
    if damage == "stale":
        assert ledger.find("svc.b.v2").manifest["seq"] == 5
    # The next append rebuilds whatever was there.
    _audit(ledger, "c")
    assert [r.audit_id for r in _rows(tmp_path)] == [e.audit_id for e in ledger.entries()]


def test_reindex_rebuilds_atomically_and_refuses_a_broken_ledger(ledger: Ledger, tmp_path: Path) -> None:
    (tmp_path / index.INDEX).unlink()
    assert ledger.reindex() == 4
    assert len(_rows(tmp_path)) == 4
    assert not (tmp_path / index.INDEX_TMP).exists()
    before = (tmp_path / index.INDEX).read_bytes()
    (tmp_path / "entries/000002/report.html").write_bytes(b"<html>changed</html>")
    with pytest.raises(LedgerIntegrityError, match=r"^entries/000002/report.html: SHA-256 does not match"):
        ledger.reindex()
    assert (tmp_path / index.INDEX).read_bytes() == before  # left as it was
