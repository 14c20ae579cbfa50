"""The ledger directory: atomic, hash-chained entries appended under a lock, and their verification."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from assay.ledger import index, signing

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"  # beside the manifest it signs, so it cannot be listed in it
HEAD = "HEAD"
HEAD_TMP = f"{HEAD}.tmp"
TMP = "tmp"
LOCK = ".lock"
PRIVATE = "private"  # secrets the agency keeps; never part of an entry, never published
PSEUDONYM_KEY = "pseudonym.key"
ENTRY_DIR = re.compile(r"^\d{6}$")
LOCK_TIMEOUT = 120


class LedgerIntegrityError(Exception):
    """The ledger's files or chain do not match what was sealed (exit code 3)."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}" if problems else "the ledger does not verify")
        self.problems = problems


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
    """A ledger folder: `entries/NNNNNN/` (files + manifest.json), `HEAD`, a lock and a tmp area.

    `index.sqlite` beside them is derived from the entries (see `assay.ledger.index`).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.entries_dir = self.root / "entries"

    def _lock(self) -> FileLock:
        self.root.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.root / LOCK), timeout=LOCK_TIMEOUT)

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

    def _index(self) -> index.IndexReader | None:
        """Return a reader of the index checked against the entries on disk, or None."""
        dirs = self._entry_dirs()
        last = None
        if dirs:
            try:
                last = _sha256((dirs[-1] / MANIFEST).read_bytes())
            except OSError:
                return None
        return index.IndexReader(self.root, len(dirs), last)

    def _load(self, rows: list[index.IndexRow]) -> list[Entry] | None:
        """Return the entries the index rows name, or None if any is not the one indexed."""
        out = []
        for row in rows:
            folder = self.entries_dir / f"{row.seq:06d}"
            try:
                raw = (folder / MANIFEST).read_bytes()
                manifest = json.loads(raw)
            except (OSError, ValueError):
                return None
            if _sha256(raw) != row.manifest_sha256 or not isinstance(manifest, dict):
                return None
            out.append(Entry(folder, manifest, row.manifest_sha256))
        return out

    def find(self, audit_id: str) -> Entry | None:
        """Return the entry with this audit id, or None."""
        reader = self._index()
        rows = reader.find(audit_id) if reader else None
        found = self._load(rows) if rows is not None else None
        if found is not None and all(e.manifest.get("audit_id") == audit_id for e in found):
            return found[0] if found else None
        return next((e for e in self.entries() if e.audit_id == audit_id), None)

    def of_subject(self, service: str, candidate: str) -> list[Entry]:
        """Return the entries of one (service, candidate) subject, oldest version first."""
        subject = {"service": service, "candidate": candidate}
        reader = self._index()
        rows = reader.of_subject(service, candidate) if reader else None
        found = self._load(rows) if rows is not None else None
        if found is not None and all(e.manifest.get("subject") == subject for e in found):
            return found
        return [e for e in self.entries() if e.manifest["subject"] == subject]

    def append(
        self,
        service: str,
        candidate: str,
        build: Callable[[EntryInfo], dict[str, bytes]],
        signer: Ed25519PrivateKey | None = None,
    ) -> Entry:
        """Seal a new entry for (service, candidate); `build` returns its files given its info.

        Files go to a temporary folder, are fsynced and renamed into place under the lock, then
        HEAD moves: a crash leaves the whole entry or none, and writers never lose an entry. With
        `signer` the entry also holds `manifest.sig`, written before the rename like every file,
        so an entry is never half-signed.
        """
        with self._lock():
            self._recover()
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
            for reserved in (MANIFEST, SIGNATURE):
                if reserved in files:
                    raise ValueError(f"{reserved} is written by the ledger")
            (self.root / TMP).mkdir(parents=True, exist_ok=True)
            self.entries_dir.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.root / TMP))
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
                if signer is not None:
                    _write_durable(tmp / SIGNATURE, signing.signature_document(signer, raw))
                _fsync_dir(tmp)
                final = self.entries_dir / f"{seq:06d}"
                # The rename is the commit point: from here on the entry exists, whole.
                os.rename(tmp, final)
                _fsync_dir(self.entries_dir)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            entry = Entry(final, manifest, _sha256(raw))
            self._write_head(entry)
            self._update_index(existing, entry, files)
            return entry

    def _write_head(self, entry: Entry) -> None:
        head = {
            "seq": entry.manifest["seq"],
            "audit_id": entry.audit_id,
            "manifest_sha256": entry.manifest_sha256,
        }
        head_tmp = self.root / HEAD_TMP
        _write_durable(head_tmp, json.dumps(head, indent=2).encode())
        os.replace(head_tmp, self.root / HEAD)
        _fsync_dir(self.root)

    def _update_index(self, existing: list[Entry], entry: Entry, files: dict[str, bytes]) -> None:
        """Bring the derived index up to the new entry (under the lock, after HEAD)."""
        try:
            new = index.row_for(entry.manifest, entry.manifest_sha256, files.__getitem__)
            prev = existing[-1].manifest_sha256 if existing else None
            rows = index.IndexReader(self.root, len(existing), prev).all()
            # The manifests were just read: rows that do not describe them are not carried on.
            described = [index.row_for(e.manifest, e.manifest_sha256) for e in existing]
            if rows is None or [replace(r, recommendation=None) for r in rows] != described:
                # missing, stale, corrupt or wrong: rebuilt from the entries
                rows = [index.row_for(e.manifest, e.manifest_sha256, e.read) for e in existing]
            index.write(self.root, [*rows, new])
        except (OSError, sqlite3.Error, KeyError, TypeError, ValueError):
            # The entry is sealed and HEAD moved: the append succeeded. An index that could not
            # follow is stale, which its readers detect (they scan instead); the next append or
            # `assay ledger reindex` rebuilds it.
            pass

    def recover(self) -> list[str]:
        """Repair, under the lock, what a writer killed midway left behind; return what was done."""
        with self._lock():
            return self._recover()

    def _recover(self) -> list[str]:
        """Clear a killed writer's leftovers and roll HEAD forward over an entry it committed.

        Why this is safe: an entry's folder appears only by the atomic rename of a folder whose
        files and manifest were all fsynced first, so the rename is the commit point and a folder
        in entries/ is whole. A writer killed after the rename but before HEAD moved leaves HEAD
        one entry behind; the entry is nonetheless sealed (its manifest names HEAD's entry as its
        predecessor), so HEAD is moved onto it rather than the entry removed. HEAD only ever moves
        forward by one, and only onto an entry that is whole and chains to it: anything else is
        not a crash's footprint and is left for `verify` to report. Folders in tmp/ exist only
        while a writer holds the lock, so under the lock every one of them is a dead writer's
        unsealed attempt, never part of the ledger, and is removed. Must run with the lock held.
        """
        done: list[str] = []
        tmp_root = self.root / TMP
        if tmp_root.is_dir():
            for stale in sorted(tmp_root.iterdir()):
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale)
                else:
                    stale.unlink()
                done.append(f"removed the unsealed {stale.relative_to(self.root)}")
        for name in (HEAD_TMP, index.INDEX_TMP):
            if (self.root / name).exists():
                (self.root / name).unlink()
                done.append(f"removed {name}")
        dirs = self._entry_dirs()
        if not dirs:
            return done
        try:
            raw = (dirs[-1] / MANIFEST).read_bytes()
        except OSError:
            return done
        manifest = _parse_manifest(raw)
        if manifest is None or not self._head_lags(len(dirs), manifest):
            return done
        if dirs[-1].name != f"{len(dirs):06d}" or self._entry_problems(dirs[-1], manifest, raw, None):
            return done
        self._write_head(Entry(dirs[-1], manifest, _sha256(raw)))
        done.append(f"moved {HEAD} onto entry {len(dirs)}, sealed by a writer killed before it moved {HEAD}")
        return done

    def _head_lags(self, count: int, last: dict[str, Any] | None) -> bool:
        """Return whether HEAD is one entry behind a last entry that names HEAD's entry as predecessor."""
        if last is None or last.get("seq") != count:
            return False
        head_path = self.root / HEAD
        if not head_path.exists():
            return count == 1 and last.get("prev_manifest_sha256") is None
        head = self._read_head()
        return (
            head is not None
            and head.get("seq") == count - 1
            and head.get("manifest_sha256") is not None
            and last.get("prev_manifest_sha256") == head.get("manifest_sha256")
        )

    def verify(self, public_key: Ed25519PublicKey | None = None) -> list[str]:
        """Recompute every hash and link; return the problems found, first broken thing first.

        An entry's manifest is checked against the hash its successor (or HEAD) recorded for it
        before the manifest is trusted to check the entry's files. With `public_key` every entry
        must carry a valid signature by that key; without it a signature present must be
        well-formed. verify never writes, so it can check a read-only copy and never alters the
        evidence it is asked about. It holds the lock when it can, so it never sees an append
        midway; the one state a killed writer can leave (HEAD one behind a whole entry chained to
        it) is accepted by the same rule `_recover` repairs it with.
        """
        with contextlib.ExitStack() as stack:
            # Only an existing lock file is taken: verify creates nothing. A ledger never written
            # here has no writer to wait for; a read-only one (or a writer holding the lock too
            # long) is verified unlocked.
            if (self.root / LOCK).is_file():
                with contextlib.suppress(OSError):
                    stack.enter_context(FileLock(str(self.root / LOCK), timeout=LOCK_TIMEOUT))
            return self._verify(public_key)

    def _verify(self, public_key: Ed25519PublicKey | None) -> list[str]:
        head = self._read_head()
        head_exists = (self.root / HEAD).exists()
        dirs = self._entry_dirs()
        raws: list[bytes | None] = []
        for folder in dirs:
            try:
                raws.append((folder / MANIFEST).read_bytes())
            except OSError:
                raws.append(None)
        manifests = [_parse_manifest(raw) for raw in raws]
        hashes = [_sha256(raw) if raw is not None else None for raw in raws]
        n = len(dirs)
        lags = n > 0 and self._head_lags(n, manifests[-1])
        problems: list[str] = []
        if head_exists and head is None:
            problems.append(f"{HEAD}: unreadable")
        elif n and head is None and not lags:
            problems.append(f"{HEAD}: missing")
        elif head is not None and head.get("seq") != n and not lags:
            problems.append(f"{HEAD}: points at entry {head.get('seq')}, the ledger has {n}")

        def recorded(i: int) -> tuple[str | None, str | None]:
            """Return who recorded entry i's manifest hash (its successor or HEAD) and that hash."""
            if i + 1 < n:
                successor = manifests[i + 1]
                return (
                    (f"entry {i + 2}", successor.get("prev_manifest_sha256")) if successor else (None, None)
                )
            if head is None or head.get("seq") != n:  # HEAD recorded another entry (or none)
                return None, None
            return HEAD, head.get("manifest_sha256")

        def sealed(i: int) -> bool:
            """Return whether entry i's manifest matches the hash recorded for it."""
            by, value = recorded(i)
            return by is not None and value == hashes[i]

        for i, folder in enumerate(dirs):
            rel = folder.relative_to(self.root)
            manifest = manifests[i]
            if manifest is None:
                problems.append(f"{rel / MANIFEST}: missing or unreadable")
                continue
            if manifest.get("seq") != i + 1:
                says = manifest.get("seq")
                problems.append(
                    f"{rel / MANIFEST}: out of sequence (says entry {says}, found as entry {i + 1})"
                )
            if folder.name != f"{i + 1:06d}":
                missing = (
                    f"entry {i + 1} is missing" if int(folder.name) > i + 1 else f"expected entry {i + 1}"
                )
                problems.append(f"{rel}: out of sequence ({missing})")
            prev = manifest.get("prev_manifest_sha256")
            if i == 0 and prev is not None:
                problems.append(f"{rel / MANIFEST}: the first entry links to a predecessor")
            # A broken link is blamed on the side that fails its own seal: when this manifest
            # matches what its successor recorded, the predecessor is the changed one (reported
            # there), otherwise this one was changed and the chain breaks here.
            if i > 0 and manifests[i - 1] is not None and prev != hashes[i - 1] and not sealed(i):
                problems.append(
                    f"{rel / MANIFEST}: prev_manifest_sha256 does not match entry {i}'s manifest "
                    "(the chain is broken)"
                )
            by, value = recorded(i)
            if by is not None and value != hashes[i] and (i + 1 == n or sealed(i + 1)):
                problems.append(f"{rel / MANIFEST}: does not match the hash {by} recorded for it")
            problems.extend(self._entry_problems(folder, manifest, raws[i] or b"", public_key))
        return problems

    def _entry_problems(
        self, folder: Path, manifest: dict[str, Any], raw: bytes, public_key: Ed25519PublicKey | None
    ) -> list[str]:
        """Return what is wrong with an entry's files and signature, given its (parsed) manifest."""
        rel = folder.relative_to(self.root)
        problems = []
        listed = dict(manifest["files"])
        present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} - {
            MANIFEST,
            SIGNATURE,
        }
        for name in sorted(set(listed) | present):
            path = rel / name
            if name not in present:
                problems.append(f"{path}: missing")
            elif name not in listed:
                problems.append(f"{path}: not in the manifest (added after sealing)")
            elif _sha256((folder / name).read_bytes()) != listed[name]:
                problems.append(f"{path}: SHA-256 does not match the manifest")
        sig = folder / SIGNATURE
        if sig.is_file():
            problem = signing.check_signature_document(sig.read_bytes(), raw, public_key)
            if problem:
                problems.append(f"{rel / SIGNATURE}: {problem}")
        elif public_key is not None:
            problems.append(f"{rel / SIGNATURE}: missing")
        return problems

    def reindex(self) -> int:
        """Rebuild the derived index from the entries (atomically); return how many it holds.

        Raises LedgerIntegrityError, leaving the index as it was, when the ledger does not verify:
        an index of altered entries would lend them credit.
        """
        with self._lock():
            self._recover()
            problems = self._verify(None)
            if problems:
                raise LedgerIntegrityError(problems)
            rows = [index.row_for(e.manifest, e.manifest_sha256, e.read) for e in self.entries()]
            return index.write(self.root, rows)

    def _read_head(self) -> dict[str, Any] | None:
        try:
            head = json.loads((self.root / HEAD).read_text())
        except (OSError, ValueError):
            return None
        return head if isinstance(head, dict) else None


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
