"""Trust labels: a signed summary of an eligible audit that anyone holding the public key can check.

A label is one JSON file: the `label` (what the public reads: service, vendor, model and its
fingerprint, policy, recommendation, conditions, audit id, the entry's manifest hash, issue and
expiry dates) and a detached ed25519 `signature` of the label's canonical JSON. Canonical JSON
(sorted keys, no spaces, UTF-8) makes the signed bytes independent of how the file is indented.

A label is revoked, never edited: a later audit of the same subject whose recommendation is
`not_eligible` revokes every label of the subject's earlier versions. The ledger keeps that
later audit (its record lists the versions it revokes), so checking a label against the ledger
finds it. Checked against the ledger, a label must also say exactly what the sealed record says
(it is rebuilt from the record and compared field by field), and in a signed ledger it must be
signed with the ledger's key (`ledger_key` names the key that signed the audit's entry).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from assay.checks.errors import AssayInputError
from assay.checks.policy import Recommendation, VerdictStatus
from assay.ledger import signing
from assay.ledger.checkpoint import Checkpoint
from assay.ledger.record import AuditRecord
from assay.ledger.store import SIGNATURE, Entry, Ledger

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

LABEL_FORMAT = "assay-label/1"
LABELLED = (Recommendation.ELIGIBLE, Recommendation.ELIGIBLE_WITH_CONDITIONS)
DEFAULT_VALID_DAYS = 365  # records sealed before packs said how often to re-audit


class LabelRefused(AssayInputError):
    """The audit cannot carry a label (its recommendation is not eligible)."""


def canonical(label: dict[str, Any]) -> bytes:
    """Return the bytes a label's signature covers."""
    return json.dumps(label, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def short_fingerprint(label: dict[str, Any]) -> str:
    """Return the label's short fingerprint (12 hex digits of the SHA-256 of its canonical JSON)."""
    return hashlib.sha256(canonical(label)).hexdigest()[:12]


def conditions(record: AuditRecord) -> list[dict[str, str]]:
    """Return the clauses an eligible-with-conditions audit did not pass, with their verdicts."""
    return [
        {"clause": v.clause_id, "verdict": v.verdict.value}
        for v in record.verdicts
        if v.verdict not in (VerdictStatus.PASS, VerdictStatus.NOT_APPLICABLE)
    ]


def entry_key(entry: Entry) -> str | None:
    """Return the fingerprint of the key that signed an entry's manifest, or None if it is unsigned."""
    sig = entry.path / SIGNATURE
    if not sig.is_file():
        return None
    doc, _ = signing.parse_signature_document(sig.read_bytes())
    return None if doc is None else str(doc["public_key_fingerprint"])


def build_label(entry: Entry, record: AuditRecord, issued: date) -> dict[str, Any]:
    """Return the label of an eligible audit; raise LabelRefused for any other recommendation."""
    if record.recommendation not in LABELLED:
        raise LabelRefused(
            f"{record.audit_id}: recommendation {record.recommendation.value}; a label needs "
            f"{' or '.join(r.value for r in LABELLED)}"
        )
    valid_days = int(record.policy.get("reaudit_days", DEFAULT_VALID_DAYS))
    return {
        "format": LABEL_FORMAT,
        "audit_id": record.audit_id,
        "service": record.subject.service,
        "candidate": record.subject.candidate,
        "vendor": record.subject.vendor,
        "model": record.subject.model,
        "model_version": record.subject.model_version,
        "model_sha256": record.inputs.model_sha256,
        "policy": {"id": record.policy.get("id"), "version": record.policy.get("version")},
        "recommendation": record.recommendation.value,
        "conditions": conditions(record),
        "audited_at": record.created_at,
        "manifest_sha256": entry.manifest_sha256,
        # Binds the label to a signed ledger: stripping the ledger's signatures makes it differ.
        "ledger_key": entry_key(entry),
        "issued": issued.isoformat(),
        # The policy's longest time between audits: by then a new audit must say it again.
        "expires": (issued + timedelta(days=valid_days)).isoformat(),
    }


def sign_label(label: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """Return the label file: the label and its detached signature, as indented JSON."""
    signature = json.loads(signing.signature_document(key, canonical(label)))
    body = {"label": label, "signature": signature}
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def read_label(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """Return a label file's label and its signature document; raise ValueError when malformed."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a label file (not JSON)") from None
    if not isinstance(body, dict) or not isinstance(body.get("label"), dict) or "signature" not in body:
        raise ValueError("not a label file (expected 'label' and 'signature')")
    label = body["label"]
    if label.get("format") != LABEL_FORMAT:
        raise ValueError(f"not a label file (format {label.get('format')!r}, expected {LABEL_FORMAT!r})")
    return label, json.dumps(body["signature"]).encode()


def labelled_versions(ledger: Ledger, service: str, candidate: str) -> list[str]:
    """Return the audit ids of a subject's entries whose recommendation could carry a label."""
    wanted = {r.value for r in LABELLED}
    return [
        entry.audit_id
        for entry in ledger.of_subject(service, candidate)
        if "record.json" in entry.manifest["files"]
        and json.loads(entry.read("record.json")).get("recommendation") in wanted
    ]


def revoked_by(ledger: Ledger, label: dict[str, Any]) -> dict[str, Any] | None:
    """Return the record of the first later audit of the label's subject that is not eligible, if any."""
    service, candidate = label.get("service"), label.get("candidate")
    labelled = ledger.find(str(label.get("audit_id")))
    if labelled is None or not isinstance(service, str) or not isinstance(candidate, str):
        return None
    for entry in ledger.of_subject(service, candidate):
        if entry.manifest["version"] <= labelled.manifest["version"]:
            continue
        record = json.loads(entry.read("record.json"))
        if record.get("recommendation") == Recommendation.NOT_ELIGIBLE.value:
            return record
    return None


def check_label(
    raw: bytes,
    key: Ed25519PublicKey,
    today: date,
    ledger: Ledger | None = None,
    since: Checkpoint | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """Return the label and what is wrong with it (None when it is valid today).

    The signature comes first: nothing a label says is trusted before it verifies. Then its
    dates, then, given the ledger, the audit entry it names (present, the same manifest), the
    whole ledger's verification (with `key` when the ledger is signed, and against `since`, a
    checkpoint seen earlier), every field against the sealed record, and any revocation.
    """
    try:
        label, signature = read_label(raw)
    except ValueError as exc:
        return None, str(exc)
    problem = signing.check_signature_document(signature, canonical(label), key)
    if problem:
        return None, problem
    try:
        expires, issued = date.fromisoformat(label["expires"]), date.fromisoformat(label["issued"])
    except (KeyError, TypeError, ValueError):
        return label, "the label's 'issued' or 'expires' is not a date"
    if today < issued:
        return label, f"issued {issued.isoformat()}, which is after today ({today.isoformat()})"
    if today > expires:
        return label, f"expired on {expires.isoformat()} (a new audit is due)"
    if ledger is None:
        return label, None
    return label, _against_ledger(label, ledger, key, issued, since)


def ledger_key_problem(signer: str | None, key_fingerprint: str) -> str | None:
    """Return why a label signed with this key cannot stand for a ledger `signer` signs (None if it can)."""
    if signer is None or signer == key_fingerprint:
        return None
    return (
        f"signed with key {key_fingerprint}, but the ledger is signed by key {signer}; "
        "a label must be signed with the ledger's key"
    )


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def differing_field(label: dict[str, Any], record: AuditRecord, entry: Entry, issued: date) -> str | None:
    """Return how the label departs from the label its sealed record gives, first field first."""
    if record.recommendation.value != label.get("recommendation"):
        # Checked first: a record that is not eligible gives no label to compare with.
        return (
            f"the label's 'recommendation' is {_shown(label.get('recommendation'))}, "
            f"the sealed record says {_shown(record.recommendation.value)}"
        )
    expected = build_label(entry, record, issued)
    if "ledger_key" not in label:  # labels issued before they named the ledger's key
        expected.pop("ledger_key")
    for name in [*expected, *sorted(set(label) - set(expected))]:
        if name not in expected:
            return f"the label has a field {name!r} its sealed record does not give"
        if name not in label or label[name] != expected[name]:
            says = _shown(label[name]) if name in label else "missing"
            return f"the label's {name!r} is {says}, the sealed record says {_shown(expected[name])}"
    return None


def _against_ledger(
    label: dict[str, Any], ledger: Ledger, key: Ed25519PublicKey, issued: date, since: Checkpoint | None
) -> str | None:
    audit_id = str(label.get("audit_id"))
    entry = ledger.find(audit_id)
    if entry is None:
        return f"the ledger has no audit {audit_id}"
    if entry.manifest_sha256 != label.get("manifest_sha256"):
        return f"{audit_id}: the ledger's entry is not the one the label was issued for (manifest differs)"
    fp = signing.fingerprint(key)
    signer = ledger.signed_by()
    problem = ledger_key_problem(signer, fp)
    if problem:
        return problem
    # A signed ledger is verified with the label's key, HEAD included, so its tail (where a
    # revoking audit sits) cannot be cut without the key; an unsigned one only against `since`.
    signed = signer is not None or label.get("ledger_key") is not None
    problems = ledger.verify(key if signed else None, since)
    if problems:
        with_key = f" with key {fp}" if signed else ""
        return f"the ledger fails verification{with_key}: {problems[0]}"
    if "record.json" not in entry.manifest["files"]:
        return f"{audit_id}: a round's comparison, not an audit; labels are issued for single audits"
    try:
        record = AuditRecord.model_validate_json(entry.read("record.json"))
    except ValueError as exc:
        return f"{audit_id}: the sealed record cannot be read ({type(exc).__name__})"
    differs = differing_field(label, record, entry, issued)
    if differs:
        return differs
    revoking = revoked_by(ledger, label)
    if revoking is not None:
        return (
            f"revoked: a later audit of the same model ({revoking['audit_id']}, "
            f"{str(revoking['created_at'])[:10]}) is not eligible"
        )
    return None
