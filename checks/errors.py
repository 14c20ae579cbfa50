"""Errors every layer raises for a user's mistake (exit code 2 at the command line)."""


class AssayInputError(ValueError):
    """A user's input is wrong; the message is one line naming the file, field or column."""
