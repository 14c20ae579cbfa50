"""Signed checkpoints (HEAD): a cut tail, a rewritten history, stray files, and a busy lock.

What each mode can and cannot detect is asserted both ways: the README's "The ledger's
guarantees" states the same limits.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from filelock import FileLock

from assay.checks.errors import AssayInputError
from assay.ledger import checkpoint, signing
from assay.ledger.store import HEAD, LOCK, Ledger, LedgerLockedError, lock_timeout

NOT_SIGNED = "HEAD: not signed, so entries could have been cut from the end"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Return the agency's key pair and a stranger's."""
    folder = tmp_path_factory.mktemp("keys")
    private, public = signing.generate_keypair(folder, "agency")
    stranger, stranger_pub = signing.generate_keypair(folder, "stranger")
    return {"key": private, "pub": public, "stranger": stranger, "stranger_pub": stranger_pub}


def _build(root: Path, n: int, key: Path | None = None, text: str = "sealed") -> Ledger:
    ledger = Ledger(root)
    signer = signing.load_private_key(key) if key else None
    for i in range(n):
        ledger.append(
            "svc", "abc"[i % 3], lambda info: {"record.json": f'{{"{info.audit_id}": "{text}"}}'.encode()},
            signer=signer,
        )  # fmt: skip
    return ledger


def _saved(root: Path, tmp_path: Path, name: str) -> checkpoint.Checkpoint:
    """Save the ledger's HEAD as a checkpoint file, as `assay verify --output` does, and load it."""
    path = tmp_path / name
    path.write_bytes((root / HEAD).read_bytes())
    return checkpoint.load(path)


def test_a_signed_append_signs_head_with_the_entries_key(tmp_path: Path, keys) -> None:
    ledger = _build(tmp_path / "l", 3, keys["key"])
    head = ledger.head()
    assert head is not None and head.seq == 3 and head.manifest_sha256 == ledger.entries()[-1].manifest_sha256
    public = signing.load_public_key(keys["pub"])
    assert head.signed_by() == signing.fingerprint(public)
    assert ledger.verify(public) == []
    stranger = signing.load_public_key(keys["stranger_pub"])
    assert any(p.startswith("HEAD: signature does not verify with key") for p in ledger.verify(stranger))


def test_a_cut_tail_with_a_rewritten_head_fails_with_the_key(tmp_path: Path, keys) -> None:
    root = tmp_path / "l"
    ledger = _build(root, 4, keys["key"])
    public = signing.load_public_key(keys["pub"])
    shutil.rmtree(root / "entries/000004")
    third = ledger.entries()[-1]
    # What someone without the key can write: an unsigned HEAD naming entry 3.
    (root / HEAD).write_bytes(checkpoint.make(3, third.audit_id, third.manifest_sha256).document())
    assert ledger.verify() == []  # without a key nothing signed is relied on
    assert ledger.verify(public)[0].startswith(NOT_SIGNED)
    # Or a HEAD signed with their own key.
    theirs = signing.load_private_key(keys["stranger"])
    (root / HEAD).write_bytes(checkpoint.make(3, third.audit_id, third.manifest_sha256, theirs).document())
    assert ledger.verify(public) == [
        f"HEAD: signature does not verify with key {signing.fingerprint(public)} "
        f"(it names key {signing.fingerprint(theirs)})"
    ]


def test_an_old_signed_head_restored_over_a_cut_tail_needs_a_later_checkpoint(tmp_path: Path, keys) -> None:
    root = tmp_path / "l"
    ledger = _build(root, 3, keys["key"])
    old_head = (root / HEAD).read_bytes()
    _build(root, 1, keys["key"])
    later = _saved(root, tmp_path, "checkpoint-4.json")
    public = signing.load_public_key(keys["pub"])
    shutil.rmtree(root / "entries/000004")
    (root / HEAD).write_bytes(old_head)
    # The limit of a signed head alone: any HEAD the key once signed still verifies.
    assert ledger.verify(public) == []
    assert ledger.verify(public, later) == [
        f"{tmp_path / 'checkpoint-4.json'}: recorded 4 entries, the ledger has 3 "
        "(entries after 3 were removed)"
    ]


def test_an_unsigned_ledger_rewritten_consistently_is_caught_only_by_a_checkpoint(tmp_path: Path) -> None:
    root = tmp_path / "l"
    _build(root, 3)
    earlier = _saved(root, tmp_path, "checkpoint.json")
    shutil.rmtree(root)
    ledger = _build(root, 3, text="rewritten")  # every hash recomputed: a consistent forgery
    assert ledger.verify() == []
    assert ledger.verify(None, earlier) == [
        f"entries/000003/manifest.json: not the manifest {tmp_path / 'checkpoint.json'} recorded for "
        "entry 3 (the history was rewritten)"
    ]
    # A checkpoint of fewer entries pins those: the ledger may have grown since.
    _build(root, 2, text="more")
    assert ledger.verify(None, _saved(root, tmp_path, "now.json")) == []


def test_a_checkpoint_signed_by_another_key_is_named(tmp_path: Path, keys) -> None:
    root = tmp_path / "l"
    ledger = _build(root, 2, keys["key"])
    entry = ledger.entries()[-1]
    theirs = signing.load_private_key(keys["stranger"])
    path = tmp_path / "forged.json"
    path.write_bytes(checkpoint.make(2, entry.audit_id, entry.manifest_sha256, theirs).document())
    public = signing.load_public_key(keys["pub"])
    problems = ledger.verify(public, checkpoint.load(path))
    assert problems == [
        f"{path}: signature does not verify with key {signing.fingerprint(public)} "
        f"(it names key {signing.fingerprint(theirs)})"
    ]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not json", "not a checkpoint (not JSON)"),
        (b"[1, 2]", "not a checkpoint (expected a JSON object)"),
        (b'{"format": "assay-label/1"}', "format 'assay-label/1', expected 'assay-checkpoint/1'"),
        (b'{"seq": "3", "manifest_sha256": "' + b"a" * 64 + b'"}', "'seq' must be an entry number"),
        (b'{"seq": 3, "manifest_sha256": "abc"}', "'manifest_sha256' must be 64 lowercase hex digits"),
        (
            b'{"seq": 3, "manifest_sha256": "' + b"a" * 64 + b'", "signature": {"algorithm": "rsa"}}',
            "its signature is malformed (algorithm 'rsa'",
        ),
    ],
)
def test_a_malformed_checkpoint_file_is_one_line_naming_the_file(tmp_path: Path, content, says) -> None:
    path = tmp_path / "cp.json"
    path.write_bytes(content)
    with pytest.raises(AssayInputError) as exc:
        checkpoint.load(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message
    with pytest.raises(
        AssayInputError, match=re.escape(f"{tmp_path / 'nope.json'}: no such checkpoint file")
    ):
        checkpoint.load(tmp_path / "nope.json")


def test_a_head_written_before_heads_were_signed_still_verifies_and_can_be_signed(
    tmp_path: Path, keys
) -> None:
    root = tmp_path / "l"
    ledger = _build(root, 3, keys["key"])
    last = ledger.entries()[-1]
    legacy = {"seq": 3, "audit_id": last.audit_id, "manifest_sha256": last.manifest_sha256}
    (root / HEAD).write_text(json.dumps(legacy, indent=2))
    public = signing.load_public_key(keys["pub"])
    assert ledger.verify() == []
    assert ledger.verify(public)[0].startswith(NOT_SIGNED)
    with pytest.raises(Exception, match="does not verify with key"):
        ledger.sign_head(signing.load_private_key(keys["stranger"]))  # not the entries' key
    assert json.loads((root / HEAD).read_text()) == legacy  # left as it was
    head = ledger.sign_head(signing.load_private_key(keys["key"]))
    assert head.seq == 3 and ledger.verify(public) == []


def test_stray_files_and_folders_in_entries_are_named(tmp_path: Path) -> None:
    root = tmp_path / "l"
    ledger = _build(root, 2)
    (root / "entries/notes.txt").write_text("x")
    (root / "entries/000002.bak").mkdir()
    (root / "entries/000001/extra").mkdir()
    assert ledger.verify() == [
        "entries/000002.bak: a stray folder, not an entry (entries/ holds only folders NNNNNN)",
        "entries/notes.txt: a stray file, not an entry (entries/ holds only folders NNNNNN)",
        "entries/000001/extra: a folder not in the manifest (added after sealing)",
    ]


def test_a_writer_kept_waiting_for_the_lock_says_who_holds_it_and_seals_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "l"
    ledger = _build(root, 1)
    held = FileLock(str(root / LOCK))
    held.acquire()
    try:
        with pytest.raises(LedgerLockedError) as exc:
            Ledger(root, lock_timeout=0.2).append("svc", "z", lambda info: {"record.json": b"{}"})
        monkeypatch.setenv("ASSAY_LEDGER_LOCK_TIMEOUT", "0.1")
        with pytest.raises(LedgerLockedError, match=re.escape("waited 0.1 s")):
            Ledger(root).append("svc", "z", lambda info: {"record.json": b"{}"})
    finally:
        held.release()
    assert str(exc.value) == (
        f"{root / LOCK}: the ledger is locked by another writer (waited 0.2 s, nothing was sealed); "
        "run again when it is done, or wait longer with ASSAY_LEDGER_LOCK_TIMEOUT=SECONDS"
    )
    assert isinstance(exc.value, AssayInputError)  # exit code 2 at the command line
    assert len(ledger.entries()) == 1 and ledger.verify() == []


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_lock_timeout_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ASSAY_LEDGER_LOCK_TIMEOUT", value)
    with pytest.raises(AssayInputError, match=f"^ASSAY_LEDGER_LOCK_TIMEOUT='{value}': expected a number"):
        lock_timeout()
