"""Escaping of the names Assay publishes (vendors, models, groups, features) in the formats that
would otherwise run them: spreadsheet cells (CSV) and markdown (monitor.md, Prefect artifacts)."""

from __future__ import annotations

import html
import re
from typing import Any

# OWASP's CSV Injection page: a cell starting with one of these is read as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Markdown that could make a link, an image, code or a table column out of a name. Underscores stay:
# a name like `balanced_accuracy` is read as it is, and emphasis runs no code.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|])")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def spreadsheet_cell(value: Any) -> Any:
    """Return a CSV cell a spreadsheet shows as text, not a formula: text cells starting like one get `'`.

    Numbers are returned unchanged, so a value column keeps -0.12 as a number.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def markdown_text(value: Any) -> str:
    """Return `value` as markdown text that renders as itself on one line: no HTML, link or table cell."""
    text = html.escape(str(value), quote=False)
    text = _LINE_BREAKS.sub(" ", text)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
