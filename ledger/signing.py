"""Ed25519 keys and detached signatures: key files, signing, verifying and key fingerprints.

The API is small and file-oriented so anything Assay seals (ledger manifests, signed labels) can
use it: a signature document is a short JSON file kept beside the bytes it signs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.checks.errors import AssayInputError

if TYPE_CHECKING:  # cryptography is imported when keys are used: plain readers never pay for it
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "ed25519"
SIGNATURE_BYTES = 64
FINGERPRINT_HEX = 16
PRIVATE_SUFFIX = ".key"
PUBLIC_SUFFIX = ".pub"


class KeyFileError(AssayInputError):
    """A key file is missing, unreadable or not an ed25519 key (one line naming the file)."""


def generate_keypair(out_dir: Path, name: str = "assay") -> tuple[Path, Path]:
    """Write a new key pair as OUT/NAME.key (PKCS8 PEM, mode 0600) and OUT/NAME.pub; return both paths.

    An existing file is never overwritten: losing a private key would orphan every signature
    made with it, so a clash is the user's to resolve.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not name or "/" in name or name.startswith("."):
        raise KeyFileError(f"--name {name!r}: expected a plain file name such as 'agency-2025'")
    out_dir = Path(out_dir)
    private_path, public_path = out_dir / f"{name}{PRIVATE_SUFFIX}", out_dir / f"{name}{PUBLIC_SUFFIX}"
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path}: already exists; not overwritten (choose another --name or --out)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"{out_dir}: cannot create the folder ({exc.strerror})") from None
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # O_EXCL closes the race with another process creating the file after the check above, and
    # the mode is set at creation so the key is never readable by others, not even briefly.
    _create(private_path, private_pem, 0o600)
    try:
        _create(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    return private_path, public_path


def _create(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise KeyFileError(f"{path}: already exists; not overwritten") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot write ({exc.strerror})") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _read_key_file(path: Path, what: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise KeyFileError(f"{path}: no such {what} file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Return the ed25519 private key in a PEM file (unencrypted PKCS8)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key_file(path, "private key")
    if b"PRIVATE KEY" not in data and b"PUBLIC KEY" in data:
        raise KeyFileError(f"{path}: a public key; signing needs the private key (NAME.key)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"{path}: the private key is encrypted; Assay needs an unencrypted one") from None
    except (ValueError, binascii.Error):
        raise KeyFileError(f"{path}: not a PEM private key") from None
    except Exception as exc:  # cryptography's UnsupportedAlgorithm for exotic keys
        raise KeyFileError(f"{path}: cannot load the private key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: a key of type {_kind(key)}; Assay signs with ed25519 keys only")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Return the ed25519 public key in a PEM file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_key_file(path, "public key")
    if b"PRIVATE KEY" in data:
        # Asking for the private key where the public one will do would spread the secret.
        raise KeyFileError(f"{path}: a private key; verifying needs only the public key (NAME.pub)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, binascii.Error):
        raise KeyFileError(f"{path}: not a PEM public key") from None
    except Exception as exc:  # cryptography's UnsupportedAlgorithm for exotic keys
        raise KeyFileError(f"{path}: cannot load the public key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: a key of type {_kind(key)}; Assay verifies ed25519 keys only")
    return key


def _kind(key: object) -> str:
    """Return a key's algorithm as people name it (cryptography's class names are internal)."""
    name = type(key).__name__
    for prefix, kind in (
        ("RSA", "RSA"),
        ("EC", "ECDSA"),
        ("DSA", "DSA"),
        ("Ed448", "Ed448"),
        ("X", "X25519/X448"),
    ):
        if name.startswith(prefix):
            return kind
    return name


def fingerprint(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Return a short name of a key pair: the first 16 hex digits of SHA-256 of the raw public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:FINGERPRINT_HEX]


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """Return the 64-byte ed25519 signature of `data`."""
    return key.sign(data)


def verify(key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """Return whether `signature` is a valid signature of `data` by `key`."""
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def signature_document(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """Return a detached signature of `data` as JSON: algorithm, public_key_fingerprint, signature_b64."""
    doc = {
        "algorithm": ALGORITHM,
        "public_key_fingerprint": fingerprint(key),
        "signature_b64": base64.b64encode(sign(key, data)).decode("ascii"),
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def parse_signature_document(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """Return (document, None) for a well-formed signature document, else (None, what is wrong)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return None, "malformed (not JSON)"
    if not isinstance(doc, dict):
        return None, "malformed (not a JSON object)"
    if doc.get("algorithm") != ALGORITHM:
        return None, f"malformed (algorithm {doc.get('algorithm')!r}, expected {ALGORITHM!r})"
    fp = doc.get("public_key_fingerprint")
    if not isinstance(fp, str) or len(fp) != FINGERPRINT_HEX or any(c not in "0123456789abcdef" for c in fp):
        return None, "malformed (public_key_fingerprint is not 16 hex digits)"
    try:
        signature = base64.b64decode(str(doc.get("signature_b64", "")), validate=True)
    except (ValueError, binascii.Error):
        return None, "malformed (signature_b64 is not base64)"
    if len(signature) != SIGNATURE_BYTES:
        return None, f"malformed (a signature of {len(signature)} bytes, ed25519 has {SIGNATURE_BYTES})"
    return {**doc, "signature": signature}, None


def check_signature_document(raw: bytes, data: bytes, key: Ed25519PublicKey | None) -> str | None:
    """Return what is wrong with a signature document of `data` (None if fine).

    Without a key only the form is checked; with one the signature must verify with it.
    """
    doc, problem = parse_signature_document(raw)
    if doc is None:
        return problem
    if key is None:
        return None
    wanted = fingerprint(key)
    if not verify(key, data, doc["signature"]):
        named = doc["public_key_fingerprint"]
        other = "" if named == wanted else f" (it names key {named})"
        return f"signature does not verify with key {wanted}{other}"
    return None
