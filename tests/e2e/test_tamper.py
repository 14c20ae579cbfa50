"""Tampering with a ledger and its labels, as someone with write access to the folder would.

The ledger is the hand-made one of tests/site_ledger.py (sealed with the same `Ledger.append` the
audits use, signed or not); labels are issued, checkpoints saved and everything verified through
the `assay` command line (in this process). Each tampering must be named in one line with exit
code 3, and what a mode cannot detect is asserted too: the README's "The ledger's guarantees"
and "Trust labels" state the same limits.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from site_ledger import OTHER, WELFARE, _audit, build_ledger, seal_revocation

from assay.ledger.label import sign_label
from assay.ledger.signing import fingerprint, generate_keypair, load_private_key, load_public_key
from assay.ledger.store import Ledger

pytestmark = pytest.mark.e2e

V1, HOUSING_V1 = "welfare-review.vendor-c.v1", "housing-aid.vendor-b.v1"


@pytest.fixture()
def keys(tmp_path: Path) -> dict[str, Path]:
    """The agency's key pair and a forger's."""
    key, pub = generate_keypair(tmp_path / "keys", "agency")
    forger, forger_pub = generate_keypair(tmp_path / "keys", "forger")
    return {"key": key, "pub": pub, "forger": forger, "forger_pub": forger_pub}


def _fails(assay_cli, *args: str, names: str) -> None:
    code, out, err = assay_cli(*args)
    lines = err.strip().splitlines()
    assert (code, out) == (3, ""), err
    assert len(lines) == 1 and names in lines[0], err


def _checkpoint(assay_cli, ledger: Path, path: Path, *extra: str) -> Path:
    code, _, err = assay_cli("verify", "--ledger", str(ledger), "--output", str(path), *extra)
    assert code == 0, err
    return path


def _revoke(ledger: Path, key: Path | None) -> None:
    """Seal a later not-eligible audit of vendor-c (entry 7): it revokes vendor-c v1's label."""
    seal_revocation(ledger, load_private_key(key) if key else None)


def _issue(assay_cli, ledger: Path, audit_id: str, key: Path, out: Path) -> Path:
    code, _, err = assay_cli(
        "label", "issue", audit_id, "--sign-key", str(key), "--ledger", str(ledger), "--out", str(out),
        "--issued", "2026-04-01",
    )  # fmt: skip
    assert code == 0, err
    return out / f"{audit_id}.label.json"


def _label_verify(label: Path, pub: Path, ledger: Path, *extra: str) -> list[str]:
    return [
        "label", "verify", str(label), "--public-key", str(pub), "--ledger", str(ledger),
        "--on", "2026-06-01", *extra,
    ]  # fmt: skip


def test_a_cut_tail_is_caught_by_the_signed_head_or_a_later_checkpoint(assay_cli, keys, tmp_path) -> None:
    ledger = build_ledger(tmp_path / "ledger", load_private_key(keys["key"]))
    pub = ["--public-key", str(keys["pub"])]
    six = _checkpoint(assay_cli, ledger, tmp_path / "six.json", *pub)
    _revoke(ledger, keys["key"])
    seven = _checkpoint(assay_cli, ledger, tmp_path / "seven.json", *pub)
    shutil.rmtree(ledger / "entries/000007")
    # HEAD rewritten by someone without the key: unsigned.
    head = json.loads(six.read_text())
    (ledger / "HEAD").write_text(json.dumps({k: head[k] for k in ("seq", "audit_id", "manifest_sha256")}))
    _fails(assay_cli, "verify", "--ledger", str(ledger), *pub, names="HEAD: not signed")
    # HEAD put back as the key signed it when there were six entries: only a later checkpoint tells.
    (ledger / "HEAD").write_bytes(six.read_bytes())
    assert assay_cli("verify", "--ledger", str(ledger), *pub)[0] == 0
    _fails(
        assay_cli, "verify", "--ledger", str(ledger), *pub, "--since", str(seven),
        names=f"{seven}: recorded 7 entries, the ledger has 6 (entries after 6 were removed)",
    )  # fmt: skip


def test_a_cut_tail_of_an_unsigned_ledger_is_caught_only_by_a_checkpoint(assay_cli, tmp_path) -> None:
    ledger = build_ledger(tmp_path / "ledger")
    saved = _checkpoint(assay_cli, ledger, tmp_path / "checkpoint.json")
    shutil.rmtree(ledger / "entries/000006")
    previous = Ledger(ledger).entries()[-1]
    (ledger / "HEAD").write_text(json.dumps({"seq": 5, "manifest_sha256": previous.manifest_sha256}))
    code, _, err = assay_cli("verify", "--ledger", str(ledger))
    assert code == 0 and "HEAD is not signed: entries cut from the end go unnoticed without --since" in err
    _fails(assay_cli, "verify", "--ledger", str(ledger), "--since", str(saved), names="recorded 6 entries")


def test_an_unsigned_ledger_rewritten_consistently_passes_verify_but_not_since(assay_cli, tmp_path) -> None:
    ledger = build_ledger(tmp_path / "ledger")
    saved = _checkpoint(assay_cli, ledger, tmp_path / "checkpoint.json")
    # Vendor-a's failing audit replaced by an eligible one, and every later entry sealed again
    # with its own files: every hash and link is recomputed, so the forgery is consistent.
    forged = Ledger(tmp_path / "forged")
    _audit(forged, WELFARE, "vendor-a", "Alpha Analytics", "2026-01-10T09:00:00+09:00", OTHER, "eligible")
    for entry in Ledger(ledger).entries()[1:]:
        files = {name: entry.read(name) for name in entry.manifest["files"]}
        subject = entry.manifest["subject"]
        forged.append(subject["service"], subject["candidate"], lambda info, files=files: files)
    shutil.rmtree(ledger)
    shutil.copytree(forged.root, ledger)
    assert assay_cli("verify", "--ledger", str(ledger))[0] == 0  # the limit of an unsigned ledger
    _fails(
        assay_cli, "verify", "--ledger", str(ledger), "--since", str(saved),
        names=f"entries/000006/manifest.json: not the manifest {saved} recorded for entry 6 "
        "(the history was rewritten)",
    )  # fmt: skip


def test_deleting_the_revoking_entry(assay_cli, keys, tmp_path) -> None:
    ledger = build_ledger(tmp_path / "ledger", load_private_key(keys["key"]))
    label = _issue(assay_cli, ledger, V1, keys["key"], tmp_path / "labels")
    six = (ledger / "HEAD").read_bytes()
    _revoke(ledger, keys["key"])
    seven = _checkpoint(assay_cli, ledger, tmp_path / "seven.json", "--public-key", str(keys["pub"]))
    check = _label_verify(label, keys["pub"], ledger)
    _fails(assay_cli, *check, names="revoked: a later audit of the same model (welfare-review.vendor-c.v4")
    # A new label for the revoked audit is refused too.
    code, _, err = assay_cli(
        "label", "issue", V1, "--sign-key", str(keys["key"]), "--ledger", str(ledger),
        "--out", str(tmp_path / "new"),
    )  # fmt: skip
    assert code == 1 and "revoked by a later audit of the same model (welfare-review.vendor-c.v4" in err
    shutil.rmtree(ledger / "entries/000007")
    last = Ledger(ledger).entries()[-1]
    (ledger / "HEAD").write_text(json.dumps({"seq": 6, "manifest_sha256": last.manifest_sha256}))
    _fails(assay_cli, *check, names="the ledger fails verification with key")
    _fails(assay_cli, *check, names="HEAD: not signed")
    # The signed HEAD of before the revocation, put back: only a checkpoint that covers it tells.
    (ledger / "HEAD").write_bytes(six)
    assert assay_cli(*check)[0] == 0
    _fails(assay_cli, *check, "--since", str(seven), names="recorded 7 entries, the ledger has 6")


def test_swapped_labels(assay_cli, keys, tmp_path) -> None:
    ledger = build_ledger(tmp_path / "ledger", load_private_key(keys["key"]))
    out = tmp_path / "labels"
    x, y = (
        _issue(assay_cli, ledger, V1, keys["key"], out),
        _issue(assay_cli, ledger, HOUSING_V1, keys["key"], out),
    )
    body_x, body_y = json.loads(x.read_text()), json.loads(y.read_text())
    swapped = tmp_path / "swapped.label.json"
    # X's label with Y's signature.
    swapped.write_text(json.dumps({"label": body_x["label"], "signature": body_y["signature"]}))
    _fails(
        assay_cli, *_label_verify(swapped, keys["pub"], ledger), names="signature does not verify with key"
    )
    # X's label claiming Y's audit id and entry, signature kept.
    claimed = {
        **body_x["label"],
        "audit_id": HOUSING_V1,
        "manifest_sha256": body_y["label"]["manifest_sha256"],
    }
    swapped.write_text(json.dumps({"label": claimed, "signature": body_x["signature"]}))
    _fails(
        assay_cli, *_label_verify(swapped, keys["pub"], ledger), names="signature does not verify with key"
    )
    # The same claim signed again by a forger who hands out their own public key.
    swapped.write_bytes(sign_label(claimed, load_private_key(keys["forger"])))
    agency = fingerprint(load_public_key(keys["pub"]))
    _fails(
        assay_cli, *_label_verify(swapped, keys["forger_pub"], ledger),
        names=f"but the ledger is signed by key {agency}; a label must be signed with the ledger's key",
    )  # fmt: skip


def test_swapped_label_of_an_unsigned_ledger_is_compared_with_the_record(assay_cli, keys, tmp_path) -> None:
    ledger = build_ledger(tmp_path / "ledger")
    out = tmp_path / "labels"
    x, y = (
        _issue(assay_cli, ledger, V1, keys["key"], out),
        _issue(assay_cli, ledger, HOUSING_V1, keys["key"], out),
    )
    claimed = {
        **json.loads(x.read_text())["label"],
        "audit_id": HOUSING_V1,
        "manifest_sha256": json.loads(y.read_text())["label"]["manifest_sha256"],
    }
    x.write_bytes(sign_label(claimed, load_private_key(keys["forger"])))
    _fails(
        assay_cli, *_label_verify(x, keys["forger_pub"], ledger),
        names="""the label's 'service' is "welfare-review", the sealed record says "housing-aid\"""",
    )  # fmt: skip


@pytest.mark.parametrize("signed", [True, False], ids=["signed-ledger", "unsigned-ledger"])
def test_edited_label_fields(assay_cli, keys, tmp_path, signed: bool) -> None:
    ledger = build_ledger(tmp_path / "ledger", load_private_key(keys["key"]) if signed else None)
    label = _issue(assay_cli, ledger, "welfare-review.vendor-c.v2", keys["key"], tmp_path / "labels")
    body = json.loads(label.read_text())
    edited = {**body["label"], "recommendation": "eligible", "conditions": []}
    # Edited in place: the signature no longer covers it.
    label.write_text(json.dumps({**body, "label": edited}))
    _fails(assay_cli, *_label_verify(label, keys["pub"], ledger), names="signature does not verify with key")
    # Edited and signed again by a forger: the ledger's key, or the sealed record, tells.
    label.write_bytes(sign_label(edited, load_private_key(keys["forger"])))
    names = (
        "but the ledger is signed by key"
        if signed
        else "the label's 'recommendation' is \"eligible\", the sealed record says "
        '"eligible_with_conditions"'
    )
    _fails(assay_cli, *_label_verify(label, keys["forger_pub"], ledger), names=names)
