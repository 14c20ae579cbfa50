"""`assay dashboard`: build the static oversight site from a ledger, and serve it for local viewing."""

from __future__ import annotations

import functools
import signal
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from assay.checks.errors import AssayInputError

EXIT_INTEGRITY = 3
HOST = "127.0.0.1"

dashboard_app = typer.Typer(
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help="The oversight site: every audit and round of a ledger with filters, each service's trends "
    "and the ledger's integrity, as static offline HTML; and a local server to view it.",
)
err = Console(stderr=True)


@dashboard_app.command()
def build(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the site to (replaced as a whole).")],
    ledger: Annotated[
        Path, typer.Option("--ledger", envvar="ASSAY_LEDGER", help="Ledger folder.", show_default=True)
    ] = Path("assay-ledger"),
) -> None:
    """Write the static site of a ledger: index.html (Korean), index.en.html, a trend page per service.

    The site is rendered from the sealed entries alone and loads nothing from the network. --out
    must be new, empty, or a site an earlier build wrote; the new site is written beside it and
    renamed into place. Exit code 3 (after writing the site, which shows it) when the ledger fails
    verification.
    """
    from assay.dashboards.site import build_site

    built = build_site(ledger, out)
    err.print(
        escape(f"{built.out / 'index.html'}: {built.entries} entries, {built.files} files"),
        highlight=False,
        soft_wrap=True,
    )
    if built.problems:
        err.print(
            f"[red]ledger integrity failure:[/] {escape(built.problems[0])} (the site shows it)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTEGRITY)


class _Handler(SimpleHTTPRequestHandler):
    """Serves the site's folder; pages are never cached, so a rebuild shows at once."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def make_server(directory: Path, port: int = 8000, host: str = HOST) -> ThreadingHTTPServer:
    """Return an HTTP server of `directory` bound to host:port (port 0 picks a free one)."""
    directory = Path(directory)
    if not (directory / "index.html").is_file():
        raise AssayInputError(
            f"--dir {directory}: no index.html there (build it with `assay dashboard build`)"
        )
    handler = functools.partial(_Handler, directory=str(directory))
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise AssayInputError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror})") from None
    server.daemon_threads = True
    return server


@dashboard_app.command()
def serve(
    directory: Annotated[
        Path, typer.Option("--dir", help="The site's folder (from `assay dashboard build`).")
    ],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")] = 8000,
) -> None:
    """Serve a built site on 127.0.0.1 until Ctrl-C, for viewing it in a local browser."""
    # A parent may leave SIGINT ignored or blocked (both are inherited across exec): Ctrl-C must
    # still stop the server.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    server = make_server(directory, port)
    url = f"http://{HOST}:{server.server_address[1]}/"
    print(url, flush=True)
    err.print(escape(f"serving {directory} at {url} (Ctrl-C to stop)"), highlight=False, soft_wrap=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err.print("stopped")
    finally:
        server.server_close()
    sys.stdout.flush()
