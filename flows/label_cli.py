"""`assay label`: issue a signed trust label for an eligible audit, and verify one."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from assay.checks.errors import AssayInputError

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


def _write_together(files: dict[Path, bytes]) -> None:
    """Write files so that each appears whole: a temporary file beside it, then a rename."""
    for path, data in files.items():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class IssuedLabel:
    """A label written to disk: its files, short fingerprint and contents."""

    json_path: Path
    svg_path: Path
    fingerprint: str
    label: dict[str, Any]


def issue_label(ledger: Path, audit_id: str, key: Ed25519PrivateKey, out: Path, day: date) -> IssuedLabel:
    """Write the signed label and badge of an eligible audit of `ledger` into `out`.

    Raises AssayInputError for a missing ledger or audit, LabelRefused for an audit that is not
    eligible, and LedgerIntegrityError when the ledger fails verification.
    """
    from assay.dashboards.badge import render_badge
    from assay.ledger.label import build_label, short_fingerprint, sign_label
    from assay.ledger.record import AuditRecord
    from assay.ledger.store import Ledger, LedgerIntegrityError

    if not ledger.is_dir():
        raise AssayInputError(f"{ledger}: no such ledger folder")
    store = Ledger(ledger)
    entry = store.find(audit_id)
    if entry is None:
        raise AssayInputError(f"{ledger}: no audit {audit_id!r} (see `assay history`)")
    if "record.json" not in entry.manifest["files"]:
        raise AssayInputError(f"{audit_id}: a round's comparison; labels are issued for single audits")
    problems = store.verify()
    if problems:
        raise LedgerIntegrityError(problems)
    label = build_label(entry, AuditRecord.model_validate_json(entry.read("record.json")), day)
    short = short_fingerprint(label)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AssayInputError(f"{out}: cannot create the folder ({exc.strerror})") from None
    json_path, svg_path = out / f"{audit_id}.label.json", out / f"{audit_id}.label.svg"
    _write_together({json_path: sign_label(label, key), svg_path: render_badge(label, short).encode()})
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
    listed) gets a label; any other ends with exit code 1 and writes nothing. The label expires
    when the policy's next audit is due. The ledger must pass verification (exit code 3).
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
        typer.Option("--ledger", help="Also check the audit's entry in this ledger, and revocations."),
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Check validity on this date, YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Check a label: its signature with the public key, its dates, and with --ledger the audit entry
    it names (present, intact, the same manifest) and whether a later audit revoked it.

    Exit code 0 when valid, 3 with one line saying why when not.
    """
    from assay.ledger.label import check_label
    from assay.ledger.signing import load_public_key
    from assay.ledger.store import Ledger

    day = _day(on, "--on")
    key = load_public_key(public_key)
    if not label_file.is_file():
        raise AssayInputError(f"{label_file}: no such label file")
    if ledger is not None and not ledger.is_dir():
        raise AssayInputError(f"{ledger}: no such ledger folder")
    label, problem = check_label(label_file.read_bytes(), key, day, Ledger(ledger) if ledger else None)
    if problem is not None or label is None:
        _say(f"error: {label_file}: {problem}")
        raise typer.Exit(EXIT_INTEGRITY)
    where = " and its audit entry is intact" if ledger else ""
    _say(
        f"{label_file}: valid on {day.isoformat()}: {label['audit_id']} {label['recommendation']}, "
        f"expires {label['expires']}{where}"
    )
