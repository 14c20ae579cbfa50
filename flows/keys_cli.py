"""`assay keys`: ed25519 key pairs for signing ledger entries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

keys_app = typer.Typer(
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help="Ed25519 key pairs: sign sealed entries (and HEAD, the ledger's checkpoint) and trust "
    "labels with `--sign-key NAME.key`, check them with `--public-key NAME.pub`.",
)
err = Console(stderr=True)


@keys_app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the key pair to (created if needed).")],
    name: Annotated[
        str, typer.Option("--name", help="File name of the pair: NAME.key and NAME.pub.")
    ] = "assay",
) -> None:
    """Write a new ed25519 key pair: OUT/NAME.key (private, mode 0600) and OUT/NAME.pub (public).

    Existing files are never overwritten. Keep NAME.key secret and outside the ledger; publish
    NAME.pub (and its fingerprint, printed on stdout) so anyone can verify the signatures.
    """
    from assay.ledger.signing import fingerprint, generate_keypair, load_public_key

    private, public = generate_keypair(out, name)
    fp = fingerprint(load_public_key(public))
    print(fp)
    err.print(
        escape(f"{private} (private: keep it secret) and {public} (public), key {fp}"),
        highlight=False,
        soft_wrap=True,
    )
