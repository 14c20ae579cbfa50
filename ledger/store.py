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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from assay.checks.errors import AssayInputError
from assay.ledger import checkpoint, index, signing

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
LOCK_TIMEOUT_ENV = "ASSAY_LEDGER_LOCK_TIMEOUT"


class LedgerLockedError(AssayInputError):
    """Another writer held the ledger's lock longer than this writer would wait (exit code 2)."""


def lock_timeout() -> float:
    """Return how many seconds a writer waits for the ledger's lock (ASSAY_LEDGER_LOCK_TIMEOUT, else 120)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return LOCK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise AssayInputError(f"{LOCK_TIMEOUT_ENV}={raw!r}: expected a number of seconds (0 or more)")
    return seconds


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

    def __init__(self, root: Path, lock_timeout: float | None = None) -> None:
        self.root = Path(root)
        self.entries_dir = self.root / "entries"
        self._lock_timeout = lock_timeout

    def _timeout(self) -> float:
        """Return how long this writer waits for the lock: as constructed, else the environment's."""
        return self._lock_timeout if self._lock_timeout is not None else lock_timeout()

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Hold the writers' lock; raise LedgerLockedError when another writer keeps it too long."""
        timeout = self._timeout()
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / LOCK), timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            raise LedgerLockedError(
                f"{self.root / LOCK}: the ledger is locked by another writer (waited {timeout:g} s, "
                f"nothing was sealed); run again when it is done, or wait longer with "
                f"{LOCK_TIMEOUT_ENV}=SECONDS"
            ) from None
        try:
            yield
        finally:
            lock.release()

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
        so an entry is never half-signed, and HEAD (the ledger's checkpoint) is signed too.
        """
        with self._lock():
            self._recover(signer)
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
            self._write_head(entry, signer)
            self._update_index(existing, entry, files)
            return entry

    def _write_head(self, entry: Entry, signer: Ed25519PrivateKey | None) -> None:
        head = checkpoint.make(entry.manifest["seq"], entry.audit_id, entry.manifest_sha256, signer)
        head_tmp = self.root / HEAD_TMP
        # One file, replaced in one step: HEAD and its signature never disagree after a crash.
        _write_durable(head_tmp, head.document())
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

    def recover(self, signer: Ed25519PrivateKey | None = None) -> list[str]:
        """Repair, under the lock, what a writer killed midway left behind; return what was done."""
        with self._lock():
            return self._recover(signer)

    def _recover(self, signer: Ed25519PrivateKey | None = None) -> list[str]:
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
        self._write_head(Entry(dirs[-1], manifest, _sha256(raw)), signer)
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

    def verify(
        self, public_key: Ed25519PublicKey | None = None, since: checkpoint.Checkpoint | None = None
    ) -> list[str]:
        """Recompute every hash and link; return the problems found, first broken thing first.

        An entry's manifest is checked against the hash its successor (or HEAD) recorded for it
        before the manifest is trusted to check the entry's files. With `public_key` every entry
        and HEAD (the signed checkpoint) must carry a valid signature by that key; without it a
        signature present must be well-formed. With `since`, a checkpoint seen earlier, the
        ledger must still hold its entries: at least as many, and the same manifest at its `seq`.
        verify never writes, so it can check a read-only copy and never alters the evidence it is
        asked about. It holds the lock when it can, so it never sees an append
        midway; the one state a killed writer can leave (HEAD one behind a whole entry chained to
        it) is accepted by the same rule `_recover` repairs it with.
        """
        with contextlib.ExitStack() as stack:
            # Only an existing lock file is taken: verify creates nothing. A ledger never written
            # here has no writer to wait for; a read-only one (or a writer holding the lock too
            # long) is verified unlocked.
            if (self.root / LOCK).is_file():
                with contextlib.suppress(OSError):
                    stack.enter_context(FileLock(str(self.root / LOCK), timeout=self._timeout()))
            return self._verify(public_key, since)

    def head(self) -> checkpoint.Checkpoint | None:
        """Return the ledger's current checkpoint (HEAD), or None when HEAD is missing or malformed."""
        try:
            return checkpoint.parse((self.root / HEAD).read_bytes())
        except (OSError, ValueError):
            return None

    def _verify(
        self, public_key: Ed25519PublicKey | None, since: checkpoint.Checkpoint | None = None
    ) -> list[str]:
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
        problems = self._stray_problems()
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
        if head is not None:
            problems.extend(self._head_signature_problems(public_key))
        if since is not None:
            problems.extend(_since_problems(since, hashes, public_key))
        return problems

    def signed_by(self) -> str | None:
        """Return the fingerprint of the ledger's signing key (HEAD's, else the newest signed entry's)."""
        head = self.head()
        if head is not None and head.signature is not None:
            return head.signed_by()
        for folder in reversed(self._entry_dirs()):
            sig = folder / SIGNATURE
            if sig.is_file():
                doc, _ = signing.parse_signature_document(sig.read_bytes())
                if doc is not None:
                    return str(doc["public_key_fingerprint"])
        return None

    def _stray_problems(self) -> list[str]:
        """Return what lies in entries/ that is not an entry folder: nothing else belongs there."""
        if not self.entries_dir.is_dir():
            return []
        problems = []
        for path in sorted(self.entries_dir.iterdir()):
            rel = path.relative_to(self.root)
            if not ENTRY_DIR.match(path.name):
                kind = "folder" if path.is_dir() else "file"
                problems.append(f"{rel}: a stray {kind}, not an entry (entries/ holds only folders NNNNNN)")
            elif not path.is_dir() or path.is_symlink():
                problems.append(f"{rel}: not an entry folder")
        return problems

    def _head_signature_problems(self, public_key: Ed25519PublicKey | None) -> list[str]:
        """Return what is wrong with HEAD as a checkpoint: its form, and its signature given a key."""
        try:
            head = checkpoint.parse((self.root / HEAD).read_bytes())
        except (OSError, ValueError) as exc:
            return [f"{HEAD}: {exc}"]
        if head.signature is None:
            if public_key is None:
                return []
            return [
                f"{HEAD}: not signed, so entries could have been cut from the end (written by a writer "
                "without --sign-key, or before Assay signed heads; `assay ledger sign-head` signs it)"
            ]
        problem = head.problem(public_key)
        return [f"{HEAD}: {problem}"] if problem else []

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
        # A folder holds listed files, or it was added after sealing (an empty one included).
        holders = {str(parent) for name in listed for parent in Path(name).parents}
        for extra in sorted(p for p in folder.rglob("*") if p.is_dir()):
            if str(extra.relative_to(folder)) not in holders:
                problems.append(
                    f"{extra.relative_to(self.root)}: a folder not in the manifest (added after sealing)"
                )
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

    def sign_head(self, signer: Ed25519PrivateKey) -> checkpoint.Checkpoint:
        """Sign HEAD with the key that signs every entry, for a ledger whose HEAD is not signed yet.

        Raises LedgerIntegrityError, leaving HEAD as it was, unless the whole ledger verifies with
        the key's public half (HEAD's missing signature aside): a signature must never vouch for
        entries the key did not seal, nor for a HEAD that does not name the newest entry.
        """
        with self._lock():
            self._recover(signer)
            unsigned = f"{HEAD}: not signed"
            problems = [p for p in self._verify(signer.public_key()) if not p.startswith(unsigned)]
            entries = self.entries()
            if not problems and not entries:
                problems = [f"{self.root}: no entries, nothing to sign"]
            if problems:
                raise LedgerIntegrityError(problems)
            self._write_head(entries[-1], signer)
            head = self.head()
            assert head is not None
            return head

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


def _since_problems(
    since: checkpoint.Checkpoint, hashes: list[str | None], public_key: Ed25519PublicKey | None
) -> list[str]:
    """Return how the ledger departs from a checkpoint seen earlier: entries cut off or rewritten."""
    if public_key is not None and since.signature is not None:
        problem = since.problem(public_key)
        if problem:
            return [f"{since.source}: {problem}"]
    if len(hashes) < since.seq:
        return [
            f"{since.source}: recorded {since.seq} entries, the ledger has {len(hashes)} "
            f"(entries after {len(hashes)} were removed)"
        ]
    if hashes[since.seq - 1] != since.manifest_sha256:
        return [
            f"entries/{since.seq:06d}/{MANIFEST}: not the manifest {since.source} recorded for entry "
            f"{since.seq} (the history was rewritten)"
        ]
    return []


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
