"""The ledger: hash chain, versions per subject, and tamper detection naming the file."""

from __future__ import annotations

import json
import shutil
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


def _ledger_of(tmp_path: Path, n: int) -> Ledger:
    ledger = Ledger(tmp_path)
    for i in range(n):
        _append(ledger, "svc", "abc"[i % 3])
    return ledger


def _edit_manifest(path: Path, **changes: object) -> None:
    manifest = json.loads(path.read_bytes())
    manifest.update(changes)
    path.write_bytes(json.dumps(manifest, indent=2, sort_keys=True).encode())


def test_swapped_entry_folders_are_named_out_of_sequence(tmp_path: Path) -> None:
    ledger = _ledger_of(tmp_path, 4)
    entries = tmp_path / "entries"
    (entries / "000002").rename(entries / "swap")
    (entries / "000003").rename(entries / "000002")
    (entries / "swap").rename(entries / "000003")
    problems = ledger.verify()
    assert problems[0] == "entries/000002/manifest.json: out of sequence (says entry 3, found as entry 2)"
    assert "entries/000003/manifest.json: out of sequence (says entry 2, found as entry 3)" in problems


def test_an_edited_seq_is_named_out_of_sequence(tmp_path: Path) -> None:
    ledger = _ledger_of(tmp_path, 3)
    _edit_manifest(tmp_path / "entries/000002/manifest.json", seq=7)
    problems = ledger.verify()
    assert problems[0] == "entries/000002/manifest.json: out of sequence (says entry 7, found as entry 2)"
    assert "entries/000002/manifest.json: does not match the hash entry 3 recorded for it" in problems


def test_an_edited_link_is_named_a_broken_chain_in_the_entry_that_was_edited(tmp_path: Path) -> None:
    ledger = _ledger_of(tmp_path, 4)
    _edit_manifest(tmp_path / "entries/000003/manifest.json", prev_manifest_sha256="0" * 64)
    problems = ledger.verify()
    assert problems[0] == (
        "entries/000003/manifest.json: prev_manifest_sha256 does not match entry 2's manifest "
        "(the chain is broken)"
    )
    # Entry 2 is intact and is not blamed for the link entry 3 lost.
    assert not any(p.startswith("entries/000002") for p in problems)


def test_a_removed_entry_and_a_truncated_ledger_are_named(tmp_path: Path) -> None:
    ledger = _ledger_of(tmp_path, 4)
    shutil.copytree(tmp_path / "entries", tmp_path / "kept")
    shutil.rmtree(tmp_path / "entries/000002")
    assert "entries/000003: out of sequence (entry 2 is missing)" in ledger.verify()
    shutil.rmtree(tmp_path / "entries")
    shutil.copytree(tmp_path / "kept", tmp_path / "entries")
    shutil.rmtree(tmp_path / "entries/000004")  # the newest entry: only HEAD remembers it
    assert ledger.verify()[0] == "HEAD: points at entry 4, the ledger has 3"
    shutil.rmtree(tmp_path / "entries")
    assert ledger.verify() == ["HEAD: points at entry 4, the ledger has 0"]


def test_an_entry_sealed_by_a_writer_killed_before_head_moved_verifies_and_is_adopted(tmp_path: Path) -> None:
    ledger = _ledger_of(tmp_path, 3)
    behind = (tmp_path / "HEAD").read_bytes()
    _append(ledger, "svc", "a")
    (tmp_path / "HEAD").write_bytes(behind)  # what a kill between the rename and HEAD leaves
    (tmp_path / "tmp" / "tmpdeadwriter").mkdir()  # and a killed writer's unsealed folder
    (tmp_path / "tmp" / "tmpdeadwriter" / "record.json").write_bytes(b'{"half')
    assert ledger.verify() == []
    assert ledger.recover() == [
        "removed the unsealed tmp/tmpdeadwriter",
        "moved HEAD onto entry 4, sealed by a writer killed before it moved HEAD",
    ]
    assert json.loads((tmp_path / "HEAD").read_text())["seq"] == 4
    assert ledger.verify() == [] and ledger.recover() == []


def test_head_is_never_moved_onto_an_entry_that_does_not_chain_to_it(tmp_path: Path) -> None:
    ledger = _ledger_of(tmp_path, 3)
    behind = (tmp_path / "HEAD").read_bytes()
    _append(ledger, "svc", "a")
    (tmp_path / "HEAD").write_bytes(behind)
    _edit_manifest(tmp_path / "entries/000004/manifest.json", prev_manifest_sha256="0" * 64)
    assert ledger.recover() == []
    assert ledger.verify()[0] == "HEAD: points at entry 3, the ledger has 4"
    # Nor onto one whose files were changed: that is no crash's footprint.
    _edit_manifest(
        tmp_path / "entries/000004/manifest.json",
        prev_manifest_sha256=json.loads(behind)["manifest_sha256"],
    )
    (tmp_path / "entries/000004/report.html").write_bytes(b"<html>changed</html>")
    assert ledger.recover() == []
    assert "entries/000004/report.html: SHA-256 does not match the manifest" in ledger.verify()


def test_a_lagging_head_is_rolled_forward_by_the_next_append(tmp_path: Path) -> None:
    ledger = _ledger_of(tmp_path, 2)
    behind = (tmp_path / "HEAD").read_bytes()
    _append(ledger, "svc", "c")
    (tmp_path / "HEAD").write_bytes(behind)
    entry = _append(ledger, "svc", "a")
    assert entry.manifest["seq"] == 4
    assert json.loads((tmp_path / "HEAD").read_text())["seq"] == 4
    assert ledger.verify() == []


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")}


def test_verify_writes_nothing_and_works_where_it_cannot_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = _ledger_of(tmp_path, 3)
    behind = (tmp_path / "HEAD").read_bytes()
    _append(ledger, "svc", "a")
    (tmp_path / "HEAD").write_bytes(behind)  # even the state recovery would repair stays as it is
    before = _tree(tmp_path)
    assert ledger.verify() == []
    assert _tree(tmp_path) == before
    (tmp_path / ".lock").unlink()  # a copy without the lock file: verify does not create one
    before = _tree(tmp_path)
    assert ledger.verify() == []
    assert _tree(tmp_path) == before
    (tmp_path / ".lock").touch()
    before = _tree(tmp_path)

    class ReadOnlyLock:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> None:
            raise PermissionError(30, "Read-only file system")

        def __exit__(self, *exc: object) -> None:
            pass

    monkeypatch.setattr("assay.ledger.store.FileLock", ReadOnlyLock)
    assert ledger.verify() == []
    assert _tree(tmp_path) == before
