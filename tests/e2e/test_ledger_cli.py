"""`assay verify`, `assay ledger reindex`, `assay keys generate` and `--sign-key`, in this process.

The commands run through `assay.flows.cli.main` with sys.argv set, as the installed script does:
the same exit codes and one-line messages, without a second or more of interpreter start each.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from assay.ledger.index import INDEX
from assay.ledger.signing import fingerprint, generate_keypair, load_private_key, load_public_key
from assay.ledger.store import Ledger

pytestmark = pytest.mark.e2e


def _build(root: Path, n: int = 4, key: Path | None = None) -> Ledger:
    ledger = Ledger(root)
    signer = load_private_key(key) if key else None
    for i in range(n):
        ledger.append(
            "svc",
            "abc"[i % 3],
            lambda info: {"record.json": json.dumps({"id": info.audit_id}).encode(),
                          "report.html": b"<html></html>"},
            signer=signer,
        )  # fmt: skip
    return ledger


def _edit_manifest(path: Path, **changes: object) -> None:
    manifest = json.loads(path.read_bytes())
    manifest.update(changes)
    path.write_bytes(json.dumps(manifest, indent=2, sort_keys=True).encode())


def _swap(entries: Path, a: str, b: str) -> None:
    (entries / a).rename(entries / "swap")
    (entries / b).rename(entries / a)
    (entries / "swap").rename(entries / b)


DAMAGE = {
    "changed": (
        lambda root: (root / "entries/000002/record.json").write_bytes(b'{"id": "forged"}'),
        "entries/000002/record.json: SHA-256 does not match the manifest",
    ),
    "added": (
        lambda root: (root / "entries/000003/notes.txt").write_text("added later"),
        "entries/000003/notes.txt: not in the manifest (added after sealing)",
    ),
    "removed": (
        lambda root: (root / "entries/000001/report.html").unlink(),
        "entries/000001/report.html: missing",
    ),
    "reordered": (
        lambda root: _swap(root / "entries", "000002", "000003"),
        "entries/000002/manifest.json: out of sequence (says entry 3, found as entry 2)",
    ),
    "seq-edited": (
        lambda root: _edit_manifest(root / "entries/000003/manifest.json", seq=2),
        "entries/000003/manifest.json: out of sequence (says entry 2, found as entry 3)",
    ),
    "chain-broken": (
        lambda root: _edit_manifest(root / "entries/000003/manifest.json", prev_manifest_sha256="ab" * 32),
        "entries/000003/manifest.json: prev_manifest_sha256 does not match entry 2's manifest "
        "(the chain is broken)",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_verify_names_what_is_wrong_in_one_line_and_exits_3(tmp_path: Path, assay_cli, damage: str) -> None:
    root = tmp_path / "ledger"
    _build(root)
    code, _, err = assay_cli("verify", "--ledger", str(root))
    assert code == 0 and "4 entries" in err
    breaks, named = DAMAGE[damage]
    breaks(root)
    code, _, err = assay_cli("verify", "--ledger", str(root))
    assert code == 3
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: ledger integrity failure: {named}")


def test_verify_with_a_public_key_requires_every_signature(tmp_path: Path, assay_cli) -> None:
    private, public = generate_keypair(tmp_path / "keys", "agency")
    _, stranger = generate_keypair(tmp_path / "keys", "stranger")
    root = tmp_path / "ledger"
    ledger = _build(root, 3, key=private)
    fp = fingerprint(load_public_key(public))
    code, _, err = assay_cli("verify", "--ledger", str(root), "--public-key", str(public))
    assert code == 0, err
    assert f"every entry signed by key {fp}" in err
    code, _, err = assay_cli("verify", "--ledger", str(root), "--public-key", str(stranger))
    other = fingerprint(load_public_key(stranger))
    assert code == 3
    assert err.startswith(
        "error: ledger integrity failure: entries/000001/manifest.sig: "
        f"signature does not verify with key {other}"
    )
    ledger.append("svc", "d", lambda info: {"record.json": b"{}"})  # unsigned
    code, _, err = assay_cli("verify", "--ledger", str(root), "--public-key", str(public))
    # The unsigned append also left HEAD unsigned: the second problem.
    assert (code, err.strip()) == (
        3,
        "error: ledger integrity failure: entries/000004/manifest.sig: missing (and 1 more problems)",
    )
    assert assay_cli("verify", "--ledger", str(root))[0] == 0  # no key: not required
    code, _, err = assay_cli("verify", "--ledger", str(root), "--public-key", str(private))
    assert code == 2
    assert err.strip() == f"error: {private}: a private key; verifying needs only the public key (NAME.pub)"


def test_keys_generate_prints_the_fingerprint_and_never_overwrites(tmp_path: Path, assay_cli) -> None:
    out = tmp_path / "keys"
    code, stdout, err = assay_cli("keys", "generate", "--out", str(out), "--name", "agency")
    assert code == 0, err
    private, public = out / "agency.key", out / "agency.pub"
    assert stdout.strip() == fingerprint(load_public_key(public))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_bytes()
    code, _, err = assay_cli("keys", "generate", "--out", str(out), "--name", "agency")
    assert code == 2
    assert (
        err.strip() == f"error: {private}: already exists; not overwritten (choose another --name or --out)"
    )
    assert private.read_bytes() == before


def test_ledger_reindex_counts_entries_and_refuses_a_broken_ledger(tmp_path: Path, assay_cli) -> None:
    root = tmp_path / "ledger"
    _build(root, 5)
    (root / INDEX).unlink()
    code, stdout, err = assay_cli("ledger", "reindex", "--ledger", str(root))
    assert (code, stdout) == (0, "5\n"), err
    assert "5 entries indexed" in err
    assert (root / INDEX).is_file()
    shutil.rmtree(root / "entries/000005")
    code, stdout, err = assay_cli("ledger", "reindex", "--ledger", str(root))
    assert code == 3 and stdout == ""
    assert err.strip() == (
        "error: ledger integrity failure: HEAD: points at entry 5, the ledger has 4 (index not rebuilt)"
    )
    code, _, err = assay_cli("ledger", "reindex", "--ledger", str(tmp_path / "nowhere"))
    assert code == 2 and "no such ledger folder" in err


@pytest.mark.parametrize("command", ["audit", "procure", "demo", "monitor"])
def test_a_bad_sign_key_fails_first_in_one_line(tmp_path: Path, assay_cli, command: str) -> None:
    key = tmp_path / "missing.key"
    # Every other input is wrong too: the key is checked before any of them, and before any work.
    args = {
        "audit": ["--service", "nope", "--candidate", "nope.yaml", "--data", "nope.csv"],
        "procure": [str(tmp_path / "nope.yaml")],
        "demo": ["--policy", "nope"],
        "monitor": ["--service", "nope", "--candidate", "nope.yaml", "--data", str(tmp_path)],
    }[command]
    ledger = tmp_path / "ledger"
    code, stdout, err = assay_cli(command, *args, "--ledger", str(ledger), "--sign-key", str(key))
    assert (code, stdout) == (2, "")
    assert err.strip() == f"error: {key}: no such private key file"
    assert not ledger.exists()


def test_a_writer_kept_waiting_for_the_lock_exits_2_naming_the_lock(
    tmp_path: Path, assay_cli, monkeypatch
) -> None:
    from filelock import FileLock

    root = tmp_path / "ledger"
    _build(root, 2)
    monkeypatch.setenv("ASSAY_LEDGER_LOCK_TIMEOUT", "0.2")
    with FileLock(str(root / ".lock")):
        code, stdout, err = assay_cli("ledger", "reindex", "--ledger", str(root))
    assert (code, stdout) == (2, "")
    assert err.strip() == (
        f"error: {root / '.lock'}: the ledger is locked by another writer (waited 0.2 s, nothing was "
        "sealed); run again when it is done, or wait longer with ASSAY_LEDGER_LOCK_TIMEOUT=SECONDS"
    )


def test_an_audit_kept_waiting_for_the_lock_exits_2_and_seals_nothing(
    run_assay, scenario, tmp_path: Path, monkeypatch
) -> None:
    from filelock import FileLock

    root = tmp_path / "ledger"
    _build(root, 1)
    monkeypatch.setenv("ASSAY_LEDGER_LOCK_TIMEOUT", "1")
    with FileLock(str(root / ".lock")):
        proc = run_assay(
            "audit", "--service", "welfare-review",
            "--candidate", str(scenario / "candidates" / "vendor-a" / "candidate.yaml"),
            "--data", str(scenario / "holdout.parquet"), "--ledger", str(root), "--seed", "7",
        )  # fmt: skip
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
    assert "the ledger is locked by another writer (waited 1 s, nothing was sealed)" in proc.stderr
    assert len(Ledger(root).entries()) == 1 and Ledger(root).verify() == []


def test_sign_head_upgrades_a_signed_ledger_written_before_heads_were_signed(
    tmp_path: Path, assay_cli
) -> None:
    private, public = generate_keypair(tmp_path / "keys", "agency")
    stranger, _ = generate_keypair(tmp_path / "keys", "stranger")
    root = tmp_path / "ledger"
    last = _build(root, 3, key=private).entries()[-1]
    legacy = {"seq": 3, "audit_id": last.audit_id, "manifest_sha256": last.manifest_sha256}
    (root / "HEAD").write_text(json.dumps(legacy, indent=2))
    code, _, err = assay_cli("verify", "--ledger", str(root), "--public-key", str(public))
    assert code == 3 and "HEAD: not signed" in err and "assay ledger sign-head" in err
    code, out, err = assay_cli("ledger", "sign-head", "--ledger", str(root), "--sign-key", str(stranger))
    assert (code, out) == (3, "") and "signature does not verify with key" in err and "HEAD not signed" in err
    code, out, err = assay_cli("ledger", "sign-head", "--ledger", str(root), "--sign-key", str(private))
    assert code == 0, err
    assert json.loads(out)["signature"]["public_key_fingerprint"] == fingerprint(load_public_key(public))
    code, out, err = assay_cli("verify", "--ledger", str(root), "--public-key", str(public))
    assert code == 0 and "and HEAD too" in err and json.loads(out)["seq"] == 3
