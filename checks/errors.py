"""Errors every layer raises for a user's mistake (exit code 2 at the command line)."""

from __future__ import annotations


class AssayInputError(ValueError):
    """A user's input is wrong; the message is one line naming the file, field or column."""

    def __init__(self, message: object = "") -> None:
        text = str(message)
        # A field name, value or library message may hold line breaks; the CLI prints one line.
        lines = text.splitlines()
        super().__init__(text if lines == [text] else " ".join(filter(None, (ln.strip() for ln in lines))))
