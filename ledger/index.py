"""The ledger's derived index: one SQLite row per entry, for finding entries without reading them all.

The index is never part of the chain and never needed to verify: it can be deleted at any time and
is rebuilt from the entries. It is only trusted when it describes exactly the entries on disk
(same count, same last manifest hash); anything else (missing, stale, corrupt) makes its readers
return None so the caller scans the entries instead. A wrong answer is impossible by construction,
a slow one is the worst case.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

INDEX = "index.sqlite"
# Written whole beside the live file and renamed over it: the live file is never changed in place,
# so it never has a journal, and a reader or a killed writer can never see half an update.
INDEX_TMP = ".index.sqlite.tmp"
SCHEMA = "1"
ROUND_FILE = "comparison.json"
AUDIT_FILE = "record.json"
OK = ("eligible", "eligible_with_conditions")


@dataclass(frozen=True)
class IndexRow:
    """What the index knows of one entry."""

    seq: int
    audit_id: str
    kind: str  # "audit", or "round" for a procurement round's comparison
    service: str
    candidate: str
    version: int
    created_at: str
    manifest_sha256: str
    recommendation: str | None


COLUMNS = tuple(f.name for f in fields(IndexRow))


def row_for(
    manifest: dict[str, Any], manifest_sha256: str, read: Callable[[str], bytes] | None = None
) -> IndexRow:
    """Return the index row of an entry from its manifest and a reader of its files.

    Without a reader the recommendation (the one field not in the manifest) is left None.
    """
    files = manifest.get("files") or {}
    kind = "round" if ROUND_FILE in files else "audit"
    subject = manifest.get("subject") or {}
    return IndexRow(
        seq=int(manifest["seq"]),
        audit_id=str(manifest["audit_id"]),
        kind=kind,
        service=str(subject.get("service", "")),
        candidate=str(subject.get("candidate", "")),
        version=int(manifest.get("version", 0)),
        created_at=str(manifest.get("created_at", "")),
        manifest_sha256=manifest_sha256,
        recommendation=_recommendation(kind, files, read) if read is not None else None,
    )


def _recommendation(kind: str, files: dict[str, Any], read: Callable[[str], bytes]) -> str | None:
    """Return the audit's recommendation, or a round's eligible count; None if it cannot be read."""
    name = ROUND_FILE if kind == "round" else AUDIT_FILE
    if name not in files:
        return None
    try:
        doc = json.loads(read(name))
    except (OSError, ValueError):
        return None  # the index is a convenience: a record it cannot parse is verify's business
    if not isinstance(doc, dict):
        return None
    if kind == "audit":
        rec = doc.get("recommendation")
        return rec if isinstance(rec, str) else None
    candidates = doc.get("candidates")
    if not isinstance(candidates, list):
        return None
    eligible = sum(1 for c in candidates if isinstance(c, dict) and c.get("recommendation") in OK)
    return f"round: {eligible} of {len(candidates)} eligible"


def write(root: Path, rows: Iterable[IndexRow]) -> int:
    """Replace the index of the ledger at `root` with these rows (atomically); return how many."""
    rows = sorted(rows, key=lambda r: r.seq)
    tmp, final = Path(root) / INDEX_TMP, Path(root) / INDEX
    tmp.unlink(missing_ok=True)
    try:
        _write_db(tmp, rows)
        _fsync_file(tmp)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(rows)


def _write_db(path: Path, rows: list[IndexRow]) -> None:
    conn = sqlite3.connect(path)
    try:
        # The file is private until renamed into place: no journal is needed, and none may be left
        # behind to be replayed into the next index by a later open.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "CREATE TABLE entries (seq INTEGER PRIMARY KEY, audit_id TEXT NOT NULL UNIQUE,"
            " kind TEXT NOT NULL, service TEXT NOT NULL, candidate TEXT NOT NULL, version INTEGER NOT NULL,"
            " created_at TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, recommendation TEXT)"
        )
        conn.execute("CREATE INDEX entries_subject ON entries (service, candidate, seq)")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.executemany(
            f"INSERT INTO entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            [astuple(r) for r in rows],
        )
        meta = {
            "schema": SCHEMA,
            "entries": str(len(rows)),
            "last_manifest_sha256": rows[-1].manifest_sha256 if rows else "",
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        conn.commit()
    finally:
        conn.close()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IndexReader:
    """Read-only queries on the index, answered only when it matches the entries on disk."""

    def __init__(self, root: Path, entries: int, last_manifest_sha256: str | None) -> None:
        self.path = Path(root) / INDEX
        self.entries = entries
        self.last = last_manifest_sha256 or ""

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[IndexRow] | None:
        if not self.path.is_file():
            return None
        try:
            # mode=ro: a reader never creates, locks for writing or repairs the file.
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        except sqlite3.Error:
            return None
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            fresh = (
                meta.get("schema") == SCHEMA
                and meta.get("entries") == str(self.entries)
                and meta.get("last_manifest_sha256") == self.last
            )
            if not fresh:
                return None
            got = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM entries {sql}", params).fetchall()
            return [IndexRow(*values) for values in got]
        except (sqlite3.Error, TypeError, ValueError):
            return None  # corrupt or foreign: the caller scans the entries instead
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def all(self) -> list[IndexRow] | None:
        """Return every row in order, or None if the index cannot be trusted."""
        return self._query("ORDER BY seq")

    def find(self, audit_id: str) -> list[IndexRow] | None:
        """Return the rows of this audit id (zero or one), or None if the index cannot be trusted."""
        return self._query("WHERE audit_id = ?", (audit_id,))

    def of_subject(self, service: str, candidate: str) -> list[IndexRow] | None:
        """Return one subject's rows, oldest first, or None if the index cannot be trusted."""
        return self._query("WHERE service = ? AND candidate = ? ORDER BY seq", (service, candidate))
