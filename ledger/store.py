"""The ledger directory: atomic, hash-chained entries appended under a lock, and their verification."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

MANIFEST = "manifest.json"
HEAD = "HEAD"
PRIVATE = "private"  # secrets the agency keeps; never part of an entry, never published
PSEUDONYM_KEY = "pseudonym.key"
ENTRY_DIR = re.compile(r"^\d{6}$")


class LedgerIntegrityError(Exception):
    """The ledger's files or chain do not match what was sealed (exit code 3)."""


@dataclass(frozen=True)
class EntryInfo:
    """What the ledger assigns to a new entry before its files are written."""

    seq: int
    audit_id: str
    version: int
    created_at: str
    prev_manifest_sha256: str | None


@dataclass(frozen=True)
class Entry:
    """A sealed entry: its folder and manifest."""

    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str

    @property
    def audit_id(self) -> str:
        """Return the entry's audit id."""
        return str(self.manifest["audit_id"])

    def read(self, name: str) -> bytes:
        """Return the bytes of one of the entry's files."""
        return (self.path / name).read_bytes()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class Ledger:
    """A ledger folder: `entries/NNNNNN/` (files + manifest.json), `HEAD`, a lock and a tmp area."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.entries_dir = self.root / "entries"

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / ".lock"), timeout=120)

    def pseudonym_key(self) -> bytes:
        """Return the ledger's secret key for pseudonyms of explained rows, creating it once."""
        path = self.root / PRIVATE / PSEUDONYM_KEY
        if not path.exists():
            with self._lock():
                if not path.exists():
                    path.parent.mkdir(mode=0o700, exist_ok=True)
                    tmp = path.with_suffix(".tmp")
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(os.urandom(32))
                        fh.flush()
                        os.fsync(fh.fileno())
                    os.replace(tmp, path)
                    _fsync_dir(path.parent)
        return path.read_bytes()

    def _entry_dirs(self) -> list[Path]:
        if not self.entries_dir.is_dir():
            return []
        return sorted(p for p in self.entries_dir.iterdir() if ENTRY_DIR.match(p.name))

    def entries(self) -> list[Entry]:
        """Return every sealed entry in order (manifests must be readable)."""
        out = []
        for folder in self._entry_dirs():
            raw = (folder / MANIFEST).read_bytes()
            out.append(Entry(folder, json.loads(raw), _sha256(raw)))
        return out

    def find(self, audit_id: str) -> Entry | None:
        """Return the entry with this audit id, or None."""
        return next((e for e in self.entries() if e.audit_id == audit_id), None)

    def of_subject(self, service: str, candidate: str) -> list[Entry]:
        """Return the entries of one (service, candidate) subject, oldest version first."""
        subject = {"service": service, "candidate": candidate}
        return [e for e in self.entries() if e.manifest["subject"] == subject]

    def append(self, service: str, candidate: str, build: Callable[[EntryInfo], dict[str, bytes]]) -> Entry:
        """Seal a new entry for (service, candidate); `build` returns its files given its info.

        Files go to a temporary folder, are fsynced and renamed into place under the lock, then
        HEAD moves: a crash leaves the whole entry or none, and writers never lose an entry.
        """
        with self._lock():
            existing = self.entries()
            version = 1 + sum(
                1 for e in existing if e.manifest["subject"] == {"service": service, "candidate": candidate}
            )
            seq = len(existing) + 1
            info = EntryInfo(
                seq=seq,
                audit_id=f"{service}.{candidate}.v{version}",
                version=version,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
                prev_manifest_sha256=existing[-1].manifest_sha256 if existing else None,
            )
            files = build(info)
            if MANIFEST in files:
                raise ValueError(f"{MANIFEST} is written by the ledger")
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            self.entries_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.root / "tmp"))
            try:
                tmp.chmod(0o755)  # mkdtemp's 0700 would hide the evidence from other readers
                for name, data in files.items():
                    _write_durable(tmp / name, data)
                manifest = {
                    "schema_version": "1",
                    "seq": seq,
                    "audit_id": info.audit_id,
                    "subject": {"service": service, "candidate": candidate},
                    "version": version,
                    "created_at": info.created_at,
                    "prev_manifest_sha256": info.prev_manifest_sha256,
                    "files": {name: _sha256(data) for name, data in sorted(files.items())},
                }
                raw = json.dumps(manifest, indent=2, sort_keys=True).encode()
                _write_durable(tmp / MANIFEST, raw)
                _fsync_dir(tmp)
                final = self.entries_dir / f"{seq:06d}"
                os.rename(tmp, final)
                _fsync_dir(self.entries_dir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            head = {"seq": seq, "audit_id": info.audit_id, "manifest_sha256": _sha256(raw)}
            head_tmp = self.root / f"{HEAD}.tmp"
            _write_durable(head_tmp, json.dumps(head, indent=2).encode())
            os.replace(head_tmp, self.root / HEAD)
            _fsync_dir(self.root)
            return Entry(final, manifest, _sha256(raw))

    def verify(self) -> list[str]:
        """Recompute every hash and link; return the problems found, first broken thing first.

        An entry's manifest is checked against the hash its successor (or HEAD) recorded for it
        before the manifest is trusted to check the entry's files.
        """
        dirs = self._entry_dirs()
        raws: list[bytes | None] = []
        for folder in dirs:
            try:
                raws.append((folder / MANIFEST).read_bytes())
            except OSError:
                raws.append(None)
        head = self._read_head()
        problems: list[str] = []
        if dirs and head is None:
            problems.append(f"{HEAD}: missing or unreadable")
        elif dirs and head is not None and head.get("seq") != len(dirs):
            problems.append(f"{HEAD}: points at entry {head.get('seq')}, the ledger has {len(dirs)}")
        for i, folder in enumerate(dirs):
            rel = folder.relative_to(self.root)
            raw = raws[i]
            manifest = _parse_manifest(raw)
            if manifest is None:
                problems.append(f"{rel / MANIFEST}: missing or unreadable")
                continue
            recorded_by, recorded = self._recorded_hash(i, raws, head)
            if recorded_by is not None and recorded != _sha256(raw or b""):
                problems.append(f"{rel / MANIFEST}: does not match the hash {recorded_by} recorded for it")
            if manifest.get("seq") != i + 1 or folder.name != f"{i + 1:06d}":
                problems.append(f"{rel}: out of sequence (expected entry {i + 1})")
            if i == 0 and manifest.get("prev_manifest_sha256") is not None:
                problems.append(f"{rel / MANIFEST}: the first entry links to a predecessor")
            listed = dict(manifest["files"])
            present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
            for name in sorted(set(listed) | present):
                path = rel / name
                if name not in present:
                    problems.append(f"{path}: missing")
                elif name not in listed:
                    problems.append(f"{path}: not in the manifest (added after sealing)")
                elif _sha256((folder / name).read_bytes()) != listed[name]:
                    problems.append(f"{path}: SHA-256 does not match the manifest")
        return problems

    def _read_head(self) -> dict[str, Any] | None:
        try:
            head = json.loads((self.root / HEAD).read_text())
        except (OSError, ValueError):
            return None
        return head if isinstance(head, dict) else None

    @staticmethod
    def _recorded_hash(
        i: int, raws: list[bytes | None], head: dict[str, Any] | None
    ) -> tuple[str | None, str | None]:
        """Return who recorded entry i's manifest hash (its successor or HEAD) and that hash."""
        if i + 1 < len(raws):
            successor = _parse_manifest(raws[i + 1])
            if successor is None:
                return None, None
            return f"entry {i + 2}", successor.get("prev_manifest_sha256")
        if head is None:
            return None, None
        return HEAD, head.get("manifest_sha256")


def _parse_manifest(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        manifest = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest
