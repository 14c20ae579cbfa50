"""Trust labels: issued only for eligible audits, signed, and refused when changed, expired, signed
by another key or revoked by a later audit that is not eligible."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from site_ledger import OTHER, WELFARE, _audit, build_ledger, seal_revocation

from assay.ledger.label import canonical, check_label, short_fingerprint, sign_label
from assay.ledger.signing import fingerprint, generate_keypair, load_private_key, load_public_key
from assay.ledger.store import Ledger

ISSUED = "2026-04-01"


@pytest.fixture()
def world(tmp_path: Path) -> dict[str, Path]:
    """A hand-made ledger (vendor-c v1 eligible, v2 with conditions, v3 inconclusive) and two keys."""
    agency_key, agency_pub = generate_keypair(tmp_path / "keys", "agency")
    _, other_pub = generate_keypair(tmp_path / "keys", "other")
    return {
        "ledger": build_ledger(tmp_path / "ledger"),
        "key": agency_key,
        "pub": agency_pub,
        "other_pub": other_pub,
        "out": tmp_path / "labels",
    }


def _issue(assay_cli, world: dict[str, Path], audit_id: str) -> tuple[int, str, str]:
    return assay_cli(
        "label", "issue", audit_id, "--sign-key", str(world["key"]),
        "--ledger", str(world["ledger"]), "--out", str(world["out"]), "--issued", ISSUED,
    )  # fmt: skip


def _verify(assay_cli, label: Path, pub: Path, *extra: str) -> tuple[int, str, str]:
    return assay_cli("label", "verify", str(label), "--public-key", str(pub), *extra)


def test_a_label_round_trip(assay_cli, world) -> None:
    code, out, err = _issue(assay_cli, world, "welfare-review.vendor-c.v1")
    assert code == 0, err
    label_path = world["out"] / "welfare-review.vendor-c.v1.label.json"
    body = json.loads(label_path.read_text())
    label = body["label"]
    entry = Ledger(world["ledger"]).find("welfare-review.vendor-c.v1")
    assert label["manifest_sha256"] == entry.manifest_sha256
    assert (label["vendor"], label["recommendation"], label["conditions"]) == (
        "Gongjeong Systems",
        "eligible",
        [],
    )
    assert (label["issued"], label["expires"]) == (ISSUED, "2027-04-01")  # a year: the default re-audit
    assert json.loads(out)["fingerprint"] == short_fingerprint(label)
    svg = (world["out"] / "welfare-review.vendor-c.v1.label.svg").read_text()
    assert svg.startswith("<svg") and short_fingerprint(label) in svg and "valid until 2027-04-01" in svg
    code, _, err = _verify(assay_cli, label_path, world["pub"], "--ledger", str(world["ledger"]))
    assert code == 0, err
    assert "valid on" in err and "audit entry is intact" in err


def test_conditions_are_listed_and_shown(assay_cli, world) -> None:
    code, _, err = _issue(assay_cli, world, "welfare-review.vendor-c.v2")
    assert code == 0, err
    label = json.loads((world["out"] / "welfare-review.vendor-c.v2.label.json").read_text())["label"]
    assert label["recommendation"] == "eligible_with_conditions"
    assert label["conditions"] == [{"clause": "KR-AIBA-34.1.2", "verdict": "needs_attestation"}]
    svg = (world["out"] / "welfare-review.vendor-c.v2.label.svg").read_text()
    assert "with conditions" in svg and "1 condition" in svg


@pytest.mark.parametrize(
    ("audit_id", "code", "message"),
    [
        ("welfare-review.vendor-a.v1", 1, "recommendation not_eligible; a label needs eligible or"),
        ("welfare-review.vendor-c.v3", 1, "recommendation inconclusive"),
        ("welfare-review.round-welfare-review-q1.v1", 2, "a round's comparison"),
        ("welfare-review.nobody.v1", 2, "no audit 'welfare-review.nobody.v1'"),
    ],
)
def test_no_label_for_what_is_not_an_eligible_audit(assay_cli, world, audit_id, code, message) -> None:
    got, out, err = _issue(assay_cli, world, audit_id)
    assert got == code and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not world["out"].exists() or not any(world["out"].iterdir())


@pytest.fixture()
def issued(assay_cli, world) -> Path:
    """The label of vendor-c v1 (eligible), issued on ISSUED."""
    assert _issue(assay_cli, world, "welfare-review.vendor-c.v1")[0] == 0
    return world["out"] / "welfare-review.vendor-c.v1.label.json"


def _fails(assay_cli, label: Path, pub: Path, message: str, *extra: str) -> None:
    code, out, err = _verify(assay_cli, label, pub, *extra)
    assert code == 3 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {label}: ") and message in lines[0], err


def test_a_changed_byte_fails(assay_cli, world, issued) -> None:
    raw = issued.read_bytes()
    at = raw.index(b'"vendor": "Gongjeong Systems"') + len(b'"vendor": "G')
    issued.write_bytes(raw[:at] + b"X" + raw[at + 1 :])
    _fails(assay_cli, issued, world["pub"], "signature does not verify with key")


def test_reindenting_the_label_keeps_it_valid(assay_cli, world, issued) -> None:
    issued.write_text(json.dumps(json.loads(issued.read_text()), indent=8))
    assert _verify(assay_cli, issued, world["pub"])[0] == 0


def test_an_expired_label_fails(assay_cli, world, issued) -> None:
    assert _verify(assay_cli, issued, world["pub"], "--on", "2027-04-01")[0] == 0
    _fails(assay_cli, issued, world["pub"], "expired on 2027-04-01", "--on", "2027-04-02")


def test_a_label_signed_by_another_key_fails(assay_cli, world, issued) -> None:
    _fails(assay_cli, issued, world["other_pub"], "signature does not verify with key")


def test_a_later_audit_that_is_not_eligible_revokes_the_label(assay_cli, world, issued) -> None:
    ledger = Ledger(world["ledger"])
    _audit(
        ledger, WELFARE, "vendor-c", "Gongjeong Systems", "2026-05-01T09:00:00+09:00", OTHER, "not_eligible"
    )
    message = (
        "revoked: a later audit of the same model (welfare-review.vendor-c.v4, 2026-05-01) is not eligible"
    )
    _fails(assay_cli, issued, world["pub"], message, "--ledger", str(world["ledger"]))
    # Without the ledger the label cannot know; its signature and dates still hold.
    assert _verify(assay_cli, issued, world["pub"])[0] == 0


def test_a_label_whose_audit_entry_was_changed_fails(assay_cli, world, issued) -> None:
    report = Ledger(world["ledger"]).find("welfare-review.vendor-c.v1").path / "report.html"
    report.write_text(report.read_text() + "<!-- edited -->")
    _fails(assay_cli, issued, world["pub"], "report.html", "--ledger", str(world["ledger"]))


def test_bad_input_to_verify_is_exit_2(assay_cli, world, issued, tmp_path) -> None:
    code, _, err = _verify(assay_cli, tmp_path / "nope.json", world["pub"])
    assert code == 2 and "nope.json: no such label file" in err
    code, _, err = _verify(assay_cli, issued, world["key"])
    assert code == 2 and "a private key; verifying needs only the public key" in err
    code, _, err = _verify(assay_cli, issued, world["pub"], "--on", "tomorrow")
    assert code == 2 and "--on 'tomorrow': expected a date as YYYY-MM-DD" in err


def test_the_signature_covers_the_canonical_label(world, issued) -> None:
    body = json.loads(issued.read_text())
    label = body["label"]
    assert (
        canonical(label)
        == json.dumps(label, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    key = load_public_key(world["pub"])
    day = date.fromisoformat(ISSUED) + timedelta(days=1)
    assert check_label(issued.read_bytes(), key, day) == (label, None)
    assert check_label(issued.read_bytes(), key, date(2026, 3, 31))[1].startswith(
        "issued 2026-04-01, which is after"
    )


def test_no_label_from_a_ledger_that_fails_verification(assay_cli, world) -> None:
    report = Ledger(world["ledger"]).find("welfare-review.vendor-a.v1").path / "report.html"
    report.write_text(report.read_text() + "<!-- edited -->")
    code, out, err = _issue(assay_cli, world, "welfare-review.vendor-c.v1")
    assert code == 3 and out == ""
    assert err.startswith("error: ledger integrity failure: entries/000001/report.html") and "no label" in err
    assert not world["out"].exists()


def test_no_label_for_an_audit_a_later_audit_revoked(assay_cli, world) -> None:
    seal_revocation(world["ledger"])
    code, out, err = _issue(assay_cli, world, "welfare-review.vendor-c.v1")
    assert (code, out) == (1, "")
    assert err.strip() == (
        "error: welfare-review.vendor-c.v1: revoked by a later audit of the same model "
        "(welfare-review.vendor-c.v4, 2026-05-01, not_eligible); no label issued"
    )
    assert not world["out"].exists() or not any(world["out"].iterdir())


def _resign(label_path: Path, key_path: Path, **changes: object) -> None:
    """Edit a label's fields and sign it again with another key, as a forger would."""
    body = json.loads(label_path.read_text())
    label = {k: v for k, v in {**body["label"], **changes}.items() if v is not None}
    label_path.write_bytes(sign_label(label, load_private_key(key_path)))


def test_a_label_edited_and_resigned_is_compared_with_the_sealed_record(assay_cli, world, tmp_path) -> None:
    assert _issue(assay_cli, world, "welfare-review.vendor-c.v2")[0] == 0
    label = world["out"] / "welfare-review.vendor-c.v2.label.json"
    # "eligible" with its conditions removed, signed with another key whose public half is given.
    forger, forger_pub = generate_keypair(tmp_path / "forger", "forger")
    _resign(label, forger, recommendation="eligible", conditions=[])
    assert _verify(assay_cli, label, forger_pub)[0] == 0  # without the ledger nothing can tell
    _fails(
        assay_cli, label, forger_pub,
        """the label's 'recommendation' is "eligible", the sealed record says "eligible_with_conditions\"""",
        "--ledger", str(world["ledger"]),
    )  # fmt: skip
    _resign(label, forger, recommendation="eligible_with_conditions", conditions=None)
    _fails(
        assay_cli, label, forger_pub,
        """the label's 'conditions' is missing, the sealed record says [{"clause": "KR-AIBA-34.1.2\"""",
        "--ledger", str(world["ledger"]),
    )  # fmt: skip
    _resign(label, world["key"], conditions=[{"clause": "KR-AIBA-34.1.2", "verdict": "needs_attestation"}],
            vendor="Someone Else")  # fmt: skip
    _fails(
        assay_cli, label, world["pub"], """the label's 'vendor' is "Someone Else", the sealed record says""",
        "--ledger", str(world["ledger"]),
    )  # fmt: skip


@pytest.fixture()
def signed_world(tmp_path: Path) -> dict[str, Path]:
    """The hand-made ledger signed with the agency's key, another key pair, and vendor-c v1's label."""
    agency_key, agency_pub = generate_keypair(tmp_path / "keys", "agency")
    other_key, other_pub = generate_keypair(tmp_path / "keys", "other")
    ledger = build_ledger(tmp_path / "ledger", load_private_key(agency_key))
    return {
        "ledger": ledger, "key": agency_key, "pub": agency_pub, "other_key": other_key,
        "other_pub": other_pub, "out": tmp_path / "labels",
    }  # fmt: skip


def test_in_a_signed_ledger_the_label_key_must_be_the_ledgers(assay_cli, signed_world) -> None:
    world = signed_world
    code, out, err = assay_cli(
        "label", "issue", "welfare-review.vendor-c.v1", "--sign-key", str(world["other_key"]),
        "--ledger", str(world["ledger"]), "--out", str(world["out"]), "--issued", ISSUED,
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert "but the ledger is signed by key" in err and len(err.strip().splitlines()) == 1
    assert _issue(assay_cli, world, "welfare-review.vendor-c.v1")[0] == 0
    label = world["out"] / "welfare-review.vendor-c.v1.label.json"
    assert json.loads(label.read_text())["label"]["ledger_key"] == fingerprint(load_public_key(world["pub"]))
    code, _, err = _verify(assay_cli, label, world["pub"], "--ledger", str(world["ledger"]))
    assert code == 0 and "(ledger signed by this key)" in err, err
    _resign(label, world["other_key"])  # the same label, signed with a key that is not the ledger's
    _fails(
        assay_cli,
        label,
        world["other_pub"],
        "but the ledger is signed by key",
        "--ledger",
        str(world["ledger"]),
    )


def test_deleting_the_revoking_entry_of_a_signed_ledger_is_caught(assay_cli, signed_world, tmp_path) -> None:
    world = signed_world
    assert _issue(assay_cli, world, "welfare-review.vendor-c.v1")[0] == 0
    label = world["out"] / "welfare-review.vendor-c.v1.label.json"
    head_before = (world["ledger"] / "HEAD").read_bytes()
    seal_revocation(world["ledger"], load_private_key(world["key"]))
    checkpoint = tmp_path / "checkpoint.json"
    assert assay_cli("verify", "--ledger", str(world["ledger"]), "--output", str(checkpoint))[0] == 0
    _fails(assay_cli, label, world["pub"], "revoked: a later audit", "--ledger", str(world["ledger"]))
    shutil.rmtree(world["ledger"] / "entries/000007")
    entry = Ledger(world["ledger"]).entries()[-1]
    (world["ledger"] / "HEAD").write_text(json.dumps({"seq": 6, "manifest_sha256": entry.manifest_sha256}))
    _fails(assay_cli, label, world["pub"], "HEAD: not signed", "--ledger", str(world["ledger"]))
    # The HEAD the key signed before the revocation still verifies: only a later checkpoint tells.
    (world["ledger"] / "HEAD").write_bytes(head_before)
    assert _verify(assay_cli, label, world["pub"], "--ledger", str(world["ledger"]))[0] == 0
    _fails(
        assay_cli, label, world["pub"], f"{checkpoint}: recorded 7 entries, the ledger has 6",
        "--ledger", str(world["ledger"]), "--since", str(checkpoint),
    )  # fmt: skip


def test_bad_since_is_exit_2(assay_cli, world, issued, tmp_path) -> None:
    bad = tmp_path / "cp.json"
    bad.write_text("{}")
    code, _, err = _verify(
        assay_cli, issued, world["pub"], "--ledger", str(world["ledger"]), "--since", str(bad)
    )
    assert (
        code == 2 and err.startswith(f"error: {bad}: not a checkpoint") and len(err.strip().splitlines()) == 1
    )
    code, _, err = _verify(assay_cli, issued, world["pub"], "--since", str(bad))
    assert code == 2 and "--since: needs --ledger" in err
