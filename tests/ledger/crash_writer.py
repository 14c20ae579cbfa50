"""A ledger writer for the crash and concurrency tests, run as its own process.

It imports only the ledger (no Prefect), so a process costs a fraction of a second. With
--kill-at K it wraps the write path's primitives (file writes, fsyncs, renames, unlinks, the index
file) to count steps and sends itself SIGKILL at step K: the production code carries no test hook.
A write step can also die halfway (half the bytes on disk), the way a real kill mid-write leaves it.

    python crash_writer.py LEDGER [--kill-at K] [--appends N] [--sign KEY] [--writer W] [--go FILE]

Before dying it prints `KILL <step> <site> <phase>` on stderr, phase being where the append was:
`unsealed` (before the entry's rename), `committed` (renamed, HEAD not yet moved) or `head` (HEAD
moved, the index not yet replaced). Without a kill it prints `steps <n>` on stdout at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from assay.ledger import index, store

SUBJECTS = ("a", "b", "c")
STEP = 0
KILL_AT = 0
PHASE = "unsealed"


def record_bytes(audit_id: str, seq: int, writer: int) -> bytes:
    """Return the record.json an entry must hold: it names its own audit id, seq and writer."""
    body = {"audit_id": audit_id, "seq": seq, "writer": writer, "recommendation": "eligible"}
    body["pad"] = "x" * 600  # a few pages' worth, so a half write is a real partial file
    return json.dumps(body, sort_keys=True).encode()


def report_bytes(audit_id: str) -> bytes:
    """Return the report.html an entry must hold."""
    return f"<html><body>{audit_id}</body></html>\n".encode()


def _step(site: str, halfway=None) -> None:
    global STEP
    STEP += 1
    if STEP != KILL_AT:
        return
    if halfway is not None:
        halfway()
    sys.stderr.write(f"KILL {STEP} {site} {PHASE}\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(site: str, real, halfway=None):
    """Return `real` with a kill point before it, optionally one halfway, and one after it."""

    def wrapped(*args, **kwargs):
        _step(f"before:{site}")
        if halfway is not None:
            _step(f"halfway:{site}", lambda: halfway(*args, **kwargs))
        out = real(*args, **kwargs)
        _step(f"after:{site}")
        return out

    return wrapped


def _half_write(path: Path, data: bytes) -> None:
    with Path(path).open("wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()


def _half_rmtree(path, *args, **kwargs) -> None:
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            p.unlink()
            return


def _half_index(path: Path, rows) -> None:
    real_write_db(path, rows)
    size = Path(path).stat().st_size
    os.truncate(path, size // 2)


def _tracking(site: str, real):
    """Wrap rename/replace: count steps, and note when the entry is committed and HEAD moved."""

    def wrapped(src, dst, *args, **kwargs):
        global PHASE
        _step(f"before:{site}")
        out = real(src, dst, *args, **kwargs)
        if Path(dst).parent.name == "entries":
            PHASE = "committed"
        elif Path(dst).name == store.HEAD:
            PHASE = "head"
        _step(f"after:{site}")
        return out

    return wrapped


real_write_db = index._write_db


def install_kill_points(kill_at: int) -> None:
    """Wrap the primitives the ledger's write path uses, counting steps towards `kill_at`."""
    global KILL_AT
    KILL_AT = kill_at
    store._write_durable = _wrap("write", store._write_durable, _half_write)
    store._fsync_dir = _wrap("fsync_dir", store._fsync_dir)
    store.tempfile.mkdtemp = _wrap("mkdtemp", tempfile.mkdtemp)
    store.shutil.rmtree = _wrap("rmtree", shutil.rmtree, _half_rmtree)
    os.rename = _tracking("rename", os.rename)
    os.replace = _tracking("replace", os.replace)
    Path.unlink = _wrap("unlink", Path.unlink)
    index._write_db = _wrap("index_db", real_write_db, _half_index)
    index._fsync_file = _wrap("index_fsync", index._fsync_file)


def main() -> None:
    """Append entries as the command line says, dying at the chosen step if asked."""
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--kill-at", type=int, default=0)
    parser.add_argument("--appends", type=int, default=1)
    parser.add_argument("--sign", type=Path)
    parser.add_argument("--writer", type=int, default=0)
    parser.add_argument("--go", type=Path, help="wait for this file to exist before appending")
    args = parser.parse_args()
    signer = None
    if args.sign:
        from assay.ledger.signing import load_private_key

        signer = load_private_key(args.sign)
    ledger = store.Ledger(args.ledger)
    print("ready", flush=True)
    while args.go and not args.go.exists():
        time.sleep(0.005)
    install_kill_points(args.kill_at)
    for i in range(args.appends):
        subject = SUBJECTS[(args.writer + i) % len(SUBJECTS)]

        def build(info: store.EntryInfo) -> dict[str, bytes]:
            return {
                "record.json": record_bytes(info.audit_id, info.seq, args.writer),
                "report.html": report_bytes(info.audit_id),
            }

        ledger.append("svc", subject, build, signer=signer)
    print(f"steps {STEP}", flush=True)


if __name__ == "__main__":
    main()
