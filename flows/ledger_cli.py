"""`assay ledger`: maintenance of a ledger's derived files (the SQLite index)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from assay.checks.errors import AssayInputError

EXIT_INTEGRITY = 3

ledger_app = typer.Typer(
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help="Maintain a ledger's derived files. The index (index.sqlite) is never part of the chain "
    "and never needed to verify; it only makes lookups fast.",
)
err = Console(stderr=True)


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
        err.print(
            f"[red]error:[/] {escape(f'ledger integrity failure: {exc} (index not rebuilt)')}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTEGRITY) from None
    print(count)
    err.print(escape(f"{ledger / 'index.sqlite'}: {count} entries indexed"), highlight=False, soft_wrap=True)
