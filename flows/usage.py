"""The command line's usage errors (unknown command or option, missing option) as one line each."""

from __future__ import annotations

import importlib.metadata

import typer


def _click_errors() -> tuple[type[Exception], ...]:
    """Return the exception classes click raises for a user's mistake, bundled or standalone."""
    # Typer 0.29 bundles its own click (typer._click), whose ClickException derives from the public
    # typer.TyperException; a standalone click, if some command still comes from it, has its own.
    kinds: list[type[Exception]] = [typer.TyperException]
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:  # pragma: no cover - prefect depends on click
        pass
    return tuple(kinds)


USAGE_ERRORS = _click_errors()


def version_line() -> str:
    """Return `assay <version>` of the installed package."""
    try:
        return f"assay {importlib.metadata.version('assay')}"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "assay (version unknown: the package is not installed)"


def usage_message(exc: Exception) -> str:
    """Return one line that says what was wrong with the command line and where to find its help."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "assay"
    if type(exc).__name__ == "NoArgsIsHelpError":
        # Its message is the help, which typer has already printed to stdout.
        return f"'{command}' needs a command or arguments (see '{command} -h')"
    format_message = getattr(exc, "format_message", None)
    text = format_message() if callable(format_message) else str(exc)
    text = " ".join(text.split())  # click may suggest alternatives on a second line
    return f"{text} (see '{command} -h')"
