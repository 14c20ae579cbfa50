"""Ed25519 keys and signatures, and signed ledger entries: real keys, real signatures."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from assay.checks.errors import AssayInputError
from assay.ledger import signing
from assay.ledger.store import Ledger


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return a generated key pair (private, public)."""
    return signing.generate_keypair(tmp_path_factory.mktemp("keys"), "agency")


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return another key pair."""
    return signing.generate_keypair(tmp_path_factory.mktemp("other"), "other")


def test_generate_writes_a_private_key_only_its_owner_can_read(pair: tuple[Path, Path]) -> None:
    private, public = pair
    assert (private.name, public.name) == ("agency.key", "agency.pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8, unencrypted
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    fp = signing.fingerprint(signing.load_public_key(public))
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert signing.fingerprint(signing.load_private_key(private)) == fp


def test_generate_never_overwrites(pair: tuple[Path, Path]) -> None:
    private, _ = pair
    before = private.read_bytes()
    with pytest.raises(AssayInputError, match=f"^{re.escape(str(private))}: already exists; not overwritten"):
        signing.generate_keypair(private.parent, "agency")
    assert private.read_bytes() == before
    (private.parent / "half.pub").write_bytes(b"x")  # a clash on either file stops it
    with pytest.raises(AssayInputError, match=r"half\.pub: already exists"):
        signing.generate_keypair(private.parent, "half")
    assert not (private.parent / "half.key").exists()


def test_sign_and_verify(pair: tuple[Path, Path], other: tuple[Path, Path]) -> None:
    key = signing.load_private_key(pair[0])
    public, stranger = signing.load_public_key(pair[1]), signing.load_public_key(other[1])
    signature = signing.sign(key, b"manifest bytes")
    assert len(signature) == 64
    assert signing.verify(public, b"manifest bytes", signature)
    assert not signing.verify(public, b"manifest bytes!", signature)
    assert not signing.verify(stranger, b"manifest bytes", signature)


def _ec_key(path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _encrypted_key(path: Path, pair: tuple[Path, Path]) -> Path:
    key = signing.load_private_key(pair[0])
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such private key file"),
        ("garbage", "not a PEM private key"),
        ("public", "a public key; signing needs the private key"),
        ("ec", "a key of type ECDSA; Assay signs with ed25519 keys only"),
        ("encrypted", "the private key is encrypted"),
    ],
)
def test_a_bad_private_key_is_one_line_naming_the_file(
    tmp_path: Path, pair: tuple[Path, Path], case: str, message: str
) -> None:
    path = {
        "missing": lambda: tmp_path / "nope.key",
        "garbage": lambda: (tmp_path / "g.key").write_bytes(b"hello") and tmp_path / "g.key",
        "public": lambda: pair[1],
        "ec": lambda: _ec_key(tmp_path / "ec.key"),
        "encrypted": lambda: _encrypted_key(tmp_path / "enc.key", pair),
    }[case]()
    with pytest.raises(AssayInputError) as info:
        signing.load_private_key(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_bad_public_key_is_one_line_naming_the_file(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    for path, message in [
        (tmp_path / "nope.pub", "no such public key file"),
        (pair[0], "a private key; verifying needs only the public key"),
    ]:
        with pytest.raises(AssayInputError, match=f"^{re.escape(str(path))}: {message}"):
            signing.load_public_key(path)
    (tmp_path / "g.pub").write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(AssayInputError, match=r"g\.pub: not a PEM public key"):
        signing.load_public_key(tmp_path / "g.pub")


def _append(ledger: Ledger, candidate: str, key=None):
    return ledger.append(
        "svc", candidate, lambda info: {"record.json": json.dumps({"id": info.audit_id}).encode()}, signer=key
    )


def test_signed_entries_verify_with_their_key_only(
    tmp_path: Path, pair: tuple[Path, Path], other: tuple[Path, Path]
) -> None:
    key = signing.load_private_key(pair[0])
    public, stranger = signing.load_public_key(pair[1]), signing.load_public_key(other[1])
    ledger = Ledger(tmp_path)
    for c in ("a", "b", "c"):
        _append(ledger, c, key)
    sig = json.loads((tmp_path / "entries/000002/manifest.sig").read_bytes())
    assert sig["algorithm"] == "ed25519" and sig["public_key_fingerprint"] == signing.fingerprint(public)
    # The manifest format is unchanged: the signature sits beside it, not in it.
    manifest = json.loads((tmp_path / "entries/000002/manifest.json").read_bytes())
    assert set(manifest["files"]) == {"record.json"} and manifest["schema_version"] == "1"
    assert ledger.verify() == [] and ledger.verify(public) == []
    fp, theirs = signing.fingerprint(stranger), signing.fingerprint(public)
    assert ledger.verify(stranger)[0] == (
        f"entries/000001/manifest.sig: signature does not verify with key {fp} (it names key {theirs})"
    )


def test_a_missing_forged_or_malformed_signature_is_named(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    key = signing.load_private_key(pair[0])
    public = signing.load_public_key(pair[1])
    ledger = Ledger(tmp_path)
    for c in ("a", "b", "c"):
        _append(ledger, c, key)
    _append(ledger, "d")  # unsigned: fine without a key, not with one
    assert ledger.verify() == []
    assert ledger.verify(public) == [
        "entries/000004/manifest.sig: missing",
        "HEAD: not signed, so entries could have been cut from the end (written by a writer without "
        "--sign-key, or before Assay signed heads; `assay ledger sign-head` signs it)",
    ]
    # A signature moved onto another entry signs the wrong manifest.
    sig2 = tmp_path / "entries/000002/manifest.sig"
    sig2.write_bytes((tmp_path / "entries/000003/manifest.sig").read_bytes())
    fp = signing.fingerprint(public)
    assert ledger.verify(public)[0] == f"entries/000002/manifest.sig: signature does not verify with key {fp}"
    assert ledger.verify() == []  # without a key only the form is checked, and it is well-formed
    sig2.write_text('{"algorithm": "rsa"}')
    expected = "entries/000002/manifest.sig: malformed (algorithm 'rsa', expected 'ed25519')"
    assert ledger.verify() == [expected]  # checked for form even without a key
    sig2.write_text("not json")
    assert ledger.verify() == ["entries/000002/manifest.sig: malformed (not JSON)"]
