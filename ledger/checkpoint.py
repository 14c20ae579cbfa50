"""Checkpoints: the ledger's head (how many entries, the newest manifest's hash), signed when the ledger is.

A checkpoint plays the part of Certificate Transparency's signed tree head. `HEAD` is the ledger's
current checkpoint; a copy kept or published elsewhere lets a verifier check later that the
ledger still holds at least that many entries and that entry `seq` is still the one it saw: the
hash chain then vouches for every entry before it. The signature covers the canonical JSON of the
checkpoint without its signature, with the same ed25519 key that signs the entries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.checks.errors import AssayInputError
from assay.ledger import signing

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "assay-checkpoint/1"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint says: the entry count, the newest entry's audit id and manifest hash."""

    seq: int
    audit_id: str | None
    manifest_sha256: str
    signature: dict[str, Any] | None = None  # the signature document, as JSON
    source: str = field(default="the checkpoint", compare=False)  # how messages name it

    def body(self) -> dict[str, Any]:
        """Return the fields the signature covers."""
        return {
            "format": FORMAT,
            "seq": self.seq,
            "audit_id": self.audit_id,
            "manifest_sha256": self.manifest_sha256,
        }

    def document(self) -> bytes:
        """Return the checkpoint as the indented JSON file `HEAD` and exported checkpoints hold."""
        doc = self.body() if self.signature is None else {**self.body(), "signature": self.signature}
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()

    def signed_by(self) -> str | None:
        """Return the fingerprint of the key the checkpoint names as its signer, if signed."""
        return None if self.signature is None else str(self.signature.get("public_key_fingerprint"))

    def problem(self, key: Ed25519PublicKey | None) -> str | None:
        """Return what is wrong with the signature (None if fine; an unsigned checkpoint has none)."""
        if self.signature is None:
            return None
        return signing.check_signature_document(json.dumps(self.signature).encode(), canonical(self), key)


def canonical(checkpoint: Checkpoint) -> bytes:
    """Return the bytes a checkpoint's signature covers."""
    return json.dumps(checkpoint.body(), sort_keys=True, separators=(",", ":")).encode()


def make(
    seq: int, audit_id: str | None, manifest_sha256: str, signer: Ed25519PrivateKey | None = None
) -> Checkpoint:
    """Return the checkpoint of a ledger whose newest entry is this one, signed with `signer` if given."""
    unsigned = Checkpoint(seq, audit_id, manifest_sha256)
    if signer is None:
        return unsigned
    signature = json.loads(signing.signature_document(signer, canonical(unsigned)))
    return Checkpoint(seq, audit_id, manifest_sha256, signature)


def parse(raw: bytes) -> Checkpoint:
    """Return the checkpoint in a file's bytes; raise ValueError saying what is wrong.

    A `HEAD` written before checkpoints were signed (no `format`, no `signature`) reads as an
    unsigned checkpoint.
    """
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a checkpoint (not JSON)") from None
    if not isinstance(doc, dict):
        raise ValueError("not a checkpoint (expected a JSON object)")
    if doc.get("format", FORMAT) != FORMAT:
        raise ValueError(f"not a checkpoint (format {doc.get('format')!r}, expected {FORMAT!r})")
    seq, sha, audit_id = doc.get("seq"), doc.get("manifest_sha256"), doc.get("audit_id")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("not a checkpoint ('seq' must be an entry number, 1 or more)")
    if not isinstance(sha, str) or not SHA256_HEX.match(sha):
        raise ValueError("not a checkpoint ('manifest_sha256' must be 64 lowercase hex digits)")
    if audit_id is not None and not isinstance(audit_id, str):
        raise ValueError("not a checkpoint ('audit_id' must be a string)")
    signature = doc.get("signature")
    if signature is not None:
        _, problem = signing.parse_signature_document(json.dumps(signature).encode())
        if problem:
            raise ValueError(f"its signature is {problem}")
    return Checkpoint(seq, audit_id, sha, signature)


def load(path: Path) -> Checkpoint:
    """Return the checkpoint in a file; raise AssayInputError naming the file when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise AssayInputError(f"{path}: no such checkpoint file")
    try:
        return replace(parse(path.read_bytes()), source=str(path))
    except OSError as exc:
        raise AssayInputError(f"{path}: cannot read the checkpoint ({exc.strerror})") from None
    except ValueError as exc:
        raise AssayInputError(
            f"{path}: {exc}; expected a checkpoint written by `assay verify --output` or a copy of HEAD"
        ) from None
