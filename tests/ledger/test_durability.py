"""Crash safety and concurrent writers, with real processes: SIGKILL along the write path, 8 writers.

Each writer is tests/ledger/crash_writer.py in its own process (the ledger only, no Prefect). The
number of kills is ASSAY_KILLS (default 25; `ASSAY_KILLS=200` for the long run), their seed
ASSAY_KILL_SEED.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from crash_writer import SUBJECTS, record_bytes, report_bytes

from assay.ledger import index
from assay.ledger.signing import generate_keypair, load_public_key
from assay.ledger.store import HEAD, HEAD_TMP, TMP, Ledger

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = int(os.environ.get("ASSAY_KILLS", "25"))
TIMED_KILLS = max(5, KILLS // 10)
SEED = int(os.environ.get("ASSAY_KILL_SEED", "20250509"))
SIGNED_FILES = ["manifest.json", "manifest.sig", "record.json", "report.html"]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return a key pair (private, public) every crash-test entry is signed with."""
    return generate_keypair(tmp_path_factory.mktemp("keys"), "crash")


def _writer(root: Path, *args: str | int, key: Path | None = None) -> list[str]:
    cmd = [sys.executable, str(WRITER), str(root), *map(str, args)]
    return [*cmd, "--sign", str(key)] if key else cmd


def _run(root: Path, kill_at: int, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _writer(root, "--kill-at", kill_at, key=key), capture_output=True, text=True, timeout=60
    )


def _check(root: Path, public: Path, before: int) -> int:
    """Assert the ledger verifies, every entry is whole and the index answers right; return the count."""
    ledger = Ledger(root)
    assert ledger.verify(load_public_key(public)) == []
    entries = ledger.entries()
    assert len(entries) in (before, before + 1), (before, len(entries))
    versions: Counter[str] = Counter()
    for e in entries:
        # Whole: exactly the files its writer meant, with the bytes it meant, signed.
        assert sorted(p.name for p in e.path.iterdir()) == SIGNED_FILES, e.path
        record = json.loads(e.read("record.json"))
        assert e.read("record.json") == record_bytes(e.audit_id, e.manifest["seq"], record["writer"])
        assert e.read("report.html") == report_bytes(e.audit_id)
        subject = e.manifest["subject"]["candidate"]
        versions[subject] += 1
        assert e.manifest["version"] == versions[subject]
    # The index, fresh or left stale by the kill, never gives a wrong answer. The newest entries
    # are the ones a kill touches; a few older ones keep the check linear in the ledger's size.
    for e in entries[-3:] + random.Random(len(entries)).sample(entries, min(3, len(entries))):
        found = ledger.find(e.audit_id)
        assert found is not None and found.manifest_sha256 == e.manifest_sha256
    for subject in SUBJECTS:
        expected = [e.audit_id for e in entries if e.manifest["subject"]["candidate"] == subject]
        assert [e.audit_id for e in ledger.of_subject("svc", subject)] == expected
    assert ledger.find("svc.a.v999") is None
    return len(entries)


def _assert_settled(root: Path, count: int) -> None:
    """After a clean append: no leftovers, HEAD on the last entry, the index fresh and complete."""
    assert not list((root / TMP).iterdir())
    assert not (root / HEAD_TMP).exists() and not (root / index.INDEX_TMP).exists()
    assert json.loads((root / HEAD).read_text())["seq"] == count
    entries = Ledger(root).entries()
    rows = index.IndexReader(root, len(entries), entries[-1].manifest_sha256).all()
    assert rows is not None and [r.manifest_sha256 for r in rows] == [e.manifest_sha256 for e in entries]


def test_sigkill_at_random_steps_of_the_write_path(
    tmp_path: Path, keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    root = tmp_path / "ledger"
    rng = random.Random(SEED)
    # How many kill points one append passes, learnt from a clean append (recovery after a kill
    # adds more: the draw reaches past the clean count so those are hit too).
    first = _run(root, 0, private)
    assert first.returncode == 0, first.stderr
    steps = int(first.stdout.split()[-1])
    assert steps >= 30
    count = _check(root, public, 0)
    kills: list[tuple[int, str, str]] = []
    while len(kills) < KILLS:
        k = rng.randint(1, steps + 12)
        proc = _run(root, k, private)
        if proc.returncode == 0:  # the drawn step lay beyond this append's last one
            count = _check(root, public, count)
            continue
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        _, step, site, phase = proc.stderr.split()[-4:]
        kills.append((int(step), site, phase))
        count = _check(root, public, count)
    # The kills hit every stage: before the commit (unsealed), between the entry's rename and
    # HEAD (the case recovery rolls HEAD forward over), and between HEAD and the index.
    phases = Counter(phase for _, _, phase in kills)
    assert {"unsealed", "committed", "head"} <= set(phases), phases
    assert any(site.startswith("halfway:") for _, site, _ in kills)
    final = _run(root, 0, private)
    assert final.returncode == 0, final.stderr
    count = _check(root, public, count)
    _assert_settled(root, count)
    # And the command line agrees, signatures included.
    from assay.flows.cli import main

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["assay", "verify", "--ledger", str(root), "--public-key", str(public)])
        with pytest.raises(SystemExit) as exit_info:
            main()
    assert exit_info.value.code == 0, capsys.readouterr().err
    assert f"{count} entries" in capsys.readouterr().err
    print(f"{len(kills)} kills survived ({dict(phases)}), {count} entries")


def test_sigkill_at_random_times_while_appending(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    root = tmp_path / "ledger"
    rng = random.Random(SEED + 1)
    count, kills = 0, 0
    while kills < TIMED_KILLS:
        proc = subprocess.Popen(
            _writer(root, "--appends", 400, key=private),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.01, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        kills += proc.returncode == -signal.SIGKILL
        ledger = Ledger(root)
        assert ledger.verify(load_public_key(public)) == []
        # Any number of entries may have been sealed before the kill; each is whole.
        now = len(ledger.entries())
        assert now >= count
        count = _check(root, public, now)
    final = _run(root, 0, private)
    assert final.returncode == 0, final.stderr
    _assert_settled(root, _check(root, public, count))
    print(f"{kills} timed kills survived, {count + 1} entries")


def test_eight_processes_appending_at_once_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    root, go = tmp_path / "ledger", tmp_path / "go"
    writers = [
        subprocess.Popen(
            _writer(root, "--writer", w, "--appends", 5, "--go", go),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(8)
    ]
    for proc in writers:  # every process is up and waiting, so they really append at once
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    go.touch()
    for proc in writers:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    ledger = Ledger(root)
    assert ledger.verify() == []
    entries = ledger.entries()
    assert len(entries) == 40
    assert [e.manifest["seq"] for e in entries] == list(range(1, 41))
    ids = [e.audit_id for e in entries]
    assert len(set(ids)) == 40
    # Each writer's five entries are all there, once each.
    writers_seen = Counter(json.loads(e.read("record.json"))["writer"] for e in entries)
    assert writers_seen == dict.fromkeys(range(8), 5)
    for subject in SUBJECTS:
        mine = [e for e in entries if e.manifest["subject"]["candidate"] == subject]
        assert [e.manifest["version"] for e in mine] == list(range(1, len(mine) + 1))
        assert [e.audit_id for e in mine] == [f"svc.{subject}.v{v}" for v in range(1, len(mine) + 1)]
    for e, prev in zip(entries[1:], entries, strict=False):
        assert e.manifest["prev_manifest_sha256"] == prev.manifest_sha256
    _assert_settled(root, 40)
