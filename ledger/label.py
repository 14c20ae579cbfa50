"""Trust labels: a signed summary of an eligible audit that anyone holding the public key can check.

A label is one JSON file: the `label` (what the public reads: service, vendor, model and its
fingerprint, policy, recommendation, conditions, audit id, the entry's manifest hash, issue and
expiry dates) and a detached ed25519 `signature` of the label's canonical JSON. Canonical JSON
(sorted keys, no spaces, UTF-8) makes the signed bytes independent of how the file is indented.

A label is revoked, never edited: a later audit of the same subject whose recommendation is
`not_eligible` revokes every label of the subject's earlier versions. The ledger keeps that
later audit (its record lists the versions it revokes), so checking a label against the ledger
finds it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from assay.checks.errors import AssayInputError
from assay.checks.policy import Recommendation, VerdictStatus
from assay.ledger import signing
from assay.ledger.record import AuditRecord
from assay.ledger.store import Entry, Ledger

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
    raw: bytes, key: Ed25519PublicKey, today: date, ledger: Ledger | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """Return the label and what is wrong with it (None when it is valid today).

    The signature comes first: nothing a label says is trusted before it verifies. Then its
    dates, then, given the ledger, the audit entry it names (present, intact, the same manifest)
    and any revocation.
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
    return label, _against_ledger(label, ledger)


def _against_ledger(label: dict[str, Any], ledger: Ledger) -> str | None:
    audit_id = str(label.get("audit_id"))
    entry = ledger.find(audit_id)
    if entry is None:
        return f"the ledger has no audit {audit_id}"
    if entry.manifest_sha256 != label.get("manifest_sha256"):
        return f"{audit_id}: the ledger's entry is not the one the label was issued for (manifest differs)"
    problems = ledger.verify()
    if problems:
        return f"the ledger fails verification: {problems[0]}"
    revoking = revoked_by(ledger, label)
    if revoking is not None:
        return (
            f"revoked: a later audit of the same model ({revoking['audit_id']}, "
            f"{str(revoking['created_at'])[:10]}) is not eligible"
        )
    return None
