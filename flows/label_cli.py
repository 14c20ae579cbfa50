"""`assay label`: issue a signed trust label for an eligible audit, and verify one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from assay.checks.errors import AssayInputError
from assay.flows.files import write_whole

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

EXIT_GATE_FAILED, EXIT_INTEGRITY = 1, 3

label_app = typer.Typer(
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help="Trust labels: a small signed JSON document and an SVG badge for an eligible audit, which "
    "anyone with the agency's public key can verify, against the ledger when they have it.",
)
err = Console(stderr=True)

LedgerOpt = Annotated[
    Path, typer.Option("--ledger", envvar="ASSAY_LEDGER", help="Ledger folder.", show_default=True)
]


def _say(text: str) -> None:
    err.print(escape(text), highlight=False, soft_wrap=True)


def _day(value: str | None, option: str) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise AssayInputError(f"{option} {value!r}: expected a date as YYYY-MM-DD") from None


@dataclass(frozen=True)
class IssuedLabel:
    """A label written to disk: its files, short fingerprint and contents."""

    json_path: Path
    svg_path: Path
    fingerprint: str
    label: dict[str, Any]


def issue_label(ledger: Path, audit_id: str, key: Ed25519PrivateKey, out: Path, day: date) -> IssuedLabel:
    """Write the signed label and badge of an eligible audit of `ledger` into `out`.

    Raises AssayInputError for a missing ledger or audit or a key that is not the signed ledger's,
    LabelRefused for an audit that is not eligible or that a later audit revoked, and
    LedgerIntegrityError when the ledger fails verification (with the key, when it is signed).
    """
    from assay.dashboards.badge import render_badge
    from assay.ledger.label import (
        LabelRefused,
        build_label,
        ledger_key_problem,
        revoked_by,
        short_fingerprint,
        sign_label,
    )
    from assay.ledger.record import AuditRecord
    from assay.ledger.signing import fingerprint
    from assay.ledger.store import Ledger, LedgerIntegrityError

    if not ledger.is_dir():
        raise AssayInputError(f"{ledger}: no such ledger folder")
    store = Ledger(ledger)
    entry = store.find(audit_id)
    if entry is None:
        raise AssayInputError(f"{ledger}: no audit {audit_id!r} (see `assay history`)")
    if "record.json" not in entry.manifest["files"]:
        raise AssayInputError(f"{audit_id}: a round's comparison; labels are issued for single audits")
    signer = store.signed_by()
    wrong_key = ledger_key_problem(signer, fingerprint(key))
    if wrong_key:
        raise AssayInputError(f"{ledger}: the label would be {wrong_key}")
    problems = store.verify(key.public_key() if signer else None)
    if problems:
        raise LedgerIntegrityError(problems)
    label = build_label(entry, AuditRecord.model_validate_json(entry.read("record.json")), day)
    revoking = revoked_by(store, label)
    if revoking is not None:
        raise LabelRefused(
            f"{audit_id}: revoked by a later audit of the same model ({revoking['audit_id']}, "
            f"{str(revoking['created_at'])[:10]}, {revoking['recommendation']}); no label issued"
        )
    short = short_fingerprint(label)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AssayInputError(f"{out}: cannot create the folder ({exc.strerror})") from None
    json_path, svg_path = out / f"{audit_id}.label.json", out / f"{audit_id}.label.svg"
    write_whole({json_path: sign_label(label, key), svg_path: render_badge(label, short).encode()})
    return IssuedLabel(json_path, svg_path, short, label)


@label_app.command()
def issue(
    audit_id: Annotated[str, typer.Argument(help="The audit to label (see `assay history`).")],
    sign_key: Annotated[Path, typer.Option("--sign-key", help="The agency's private key (NAME.key).")],
    ledger: LedgerOpt = Path("assay-ledger"),
    out: Annotated[Path, typer.Option("--out", help="Folder for the label and its badge.")] = Path("labels"),
    issued: Annotated[
        str | None, typer.Option("--issued", help="Issue date, YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Write OUT/AUDIT_ID.label.json (the signed label) and OUT/AUDIT_ID.label.svg (its badge).

    Only an audit whose recommendation is eligible or eligible_with_conditions (its conditions
    listed) gets a label; any other, or one a later not-eligible audit of the same model has
    revoked, ends with exit code 1 and writes nothing. The label expires when the policy's next
    audit is due. The ledger must pass verification (exit code 3); a signed ledger is verified
    with --sign-key's public half, and a key that is not the ledger's is refused (exit code 2).
    """
    from assay.ledger.label import LabelRefused
    from assay.ledger.signing import fingerprint, load_private_key
    from assay.ledger.store import LedgerIntegrityError

    day = _day(issued, "--issued")
    key = load_private_key(sign_key)
    try:
        done = issue_label(ledger, audit_id, key, out, day)
    except LedgerIntegrityError as exc:
        _say(f"error: ledger integrity failure: {exc.problems[0]} (no label issued)")
        raise typer.Exit(EXIT_INTEGRITY) from None
    except LabelRefused as exc:
        _say(f"error: {exc}")
        raise typer.Exit(EXIT_GATE_FAILED) from None
    print(
        json.dumps(
            {"label": str(done.json_path), "badge": str(done.svg_path), "fingerprint": done.fingerprint}
        )
    )
    _say(
        f"{done.json_path} and {done.svg_path}: label {done.fingerprint} for {audit_id} "
        f"({done.label['recommendation']}), valid until {done.label['expires']}, "
        f"signed with key {fingerprint(key)}"
    )


@label_app.command()
def verify(
    label_file: Annotated[Path, typer.Argument(metavar="LABEL", help="The label file (.label.json).")],
    public_key: Annotated[Path, typer.Option("--public-key", help="The agency's public key (NAME.pub).")],
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Also check the label against this ledger: the whole ledger verifies (with the "
            "public key when it is signed), the label says what the sealed record says, and no "
            "later audit revoked it.",
        ),
    ] = None,
    since: Annotated[
        Path | None,
        typer.Option(
            "--since",
            metavar="CHECKPOINT",
            help="With --ledger: a checkpoint saved earlier (`assay verify --output`); the ledger "
            "must still hold every entry it covers, so a revoking audit it covers cannot be cut off.",
        ),
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Check validity on this date, YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Check a label: its signature with the public key, its dates, and with --ledger the audit entry
    it names (present, the same manifest), the whole ledger, every field of the label against the
    sealed record, and whether a later audit revoked it.

    When the ledger is signed, the label must be signed with the ledger's key and the ledger is
    verified with it, signed HEAD included. An unsigned ledger can be cut back (a revoking audit
    removed) by anyone who can write to it; --since CHECKPOINT detects that for what the
    checkpoint covers. Exit code 0 when valid, 3 with one line saying why when not, 2 for bad input.
    """
    from assay.ledger import checkpoint
    from assay.ledger.label import check_label
    from assay.ledger.signing import load_public_key
    from assay.ledger.store import Ledger

    day = _day(on, "--on")
    key = load_public_key(public_key)
    if not label_file.is_file():
        raise AssayInputError(f"{label_file}: no such label file")
    if ledger is not None and not ledger.is_dir():
        raise AssayInputError(f"{ledger}: no such ledger folder")
    if since is not None and ledger is None:
        raise AssayInputError("--since: needs --ledger (a checkpoint is checked against a ledger)")
    seen = checkpoint.load(since) if since is not None else None
    store = Ledger(ledger) if ledger else None
    label, problem = check_label(label_file.read_bytes(), key, day, store, seen)
    if problem is not None or label is None:
        _say(f"error: {label_file}: {problem}")
        raise typer.Exit(EXIT_INTEGRITY)
    where = ""
    if store is not None:
        where = " and its audit entry is intact, every field as sealed"
        where += " (ledger signed by this key" if store.signed_by() else " (ledger unsigned"
        where += f"; it holds checkpoint {since})" if since else ")"
    _say(
        f"{label_file}: valid on {day.isoformat()}: {label['audit_id']} {label['recommendation']}, "
        f"expires {label['expires']}{where}"
    )
