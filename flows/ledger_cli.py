"""`assay ledger`: maintenance of a ledger: its derived index, and signing its HEAD."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from assay.checks.errors import AssayInputError

EXIT_INTEGRITY = 3

ledger_app = typer.Typer(
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help="Maintain a ledger: rebuild its derived index (index.sqlite, never part of the chain and "
    "never needed to verify; it only makes lookups fast), or sign its HEAD.",
)
err = Console(stderr=True)


def _integrity_failure(exc: Exception, undone: str) -> NoReturn:
    """Say in one line that the ledger failed verification and what was therefore not done; exit 3."""
    err.print(
        f"[red]error:[/] {escape(f'ledger integrity failure: {exc} ({undone})')}",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(EXIT_INTEGRITY)


@ledger_app.command()
def reindex(
    ledger: Annotated[
        Path, typer.Option("--ledger", envvar="ASSAY_LEDGER", help="Ledger folder.", show_default=True)
    ] = Path("assay-ledger"),
) -> None:
    """Rebuild the ledger's SQLite index from its entries and print how many it indexed.

    The new index is written beside the old one and renamed over it, so readers see the old or
    the new one, never half. A writer's leftovers are cleared first. Exit code 3 (the index is
    left as it was) when the ledger fails `assay verify`: an index of altered entries would lend
    them credit.
    """
    from assay.ledger.store import Ledger, LedgerIntegrityError

    if not ledger.is_dir():
        raise AssayInputError(f"{ledger}: no such ledger folder")
    if not (ledger / "entries").is_dir():
        raise AssayInputError(f"{ledger}: not a ledger (it has no entries/ folder)")
    try:
        count = Ledger(ledger).reindex()
    except LedgerIntegrityError as exc:
        _integrity_failure(exc, "index not rebuilt")
    print(count)
    err.print(escape(f"{ledger / 'index.sqlite'}: {count} entries indexed"), highlight=False, soft_wrap=True)


@ledger_app.command("sign-head")
def sign_head(
    sign_key: Annotated[
        Path, typer.Option("--sign-key", help="The private key that signs the ledger's entries (NAME.key).")
    ],
    ledger: Annotated[
        Path, typer.Option("--ledger", envvar="ASSAY_LEDGER", help="Ledger folder.", show_default=True)
    ] = Path("assay-ledger"),
) -> None:
    """Sign HEAD, the ledger's checkpoint, for a signed ledger written before Assay signed heads.

    Every signed append signs HEAD; this is for a ledger whose HEAD is not signed yet, so that
    `assay verify --public-key` accepts it. The whole ledger must first verify with the key's
    public half (every entry signed by it), else exit code 3 and HEAD is left as it was. Prints
    the signed checkpoint.
    """
    from assay.ledger.signing import fingerprint, load_private_key
    from assay.ledger.store import Ledger, LedgerIntegrityError

    key = load_private_key(sign_key)
    if not (ledger / "entries").is_dir():
        raise AssayInputError(f"{ledger}: not a ledger (it has no entries/ folder)")
    try:
        head = Ledger(ledger).sign_head(key)
    except LedgerIntegrityError as exc:
        _integrity_failure(exc, "HEAD not signed")
    print(head.document().decode(), end="")
    err.print(
        escape(f"{ledger / 'HEAD'}: entry {head.seq} signed with key {fingerprint(key)}"),
        highlight=False,
        soft_wrap=True,
    )
