"""The report's languages: Korean (the default) and English, from the message catalogs in `locale/`.

The catalogs are gettext `.po` files read when first needed (no compiled `.mo` is kept): Babel
parses one, compiles it into memory and wraps it as `Translations`, once per language. Message ids
are the template's English. After changing the template's texts, run
`python -m assay.dashboards.i18n` to extract them again into `locale/report.pot` and merge them
into every catalog (new messages come in untranslated; a test fails until Korean has them all).

Numbers and dates written as prose go through `babel.numbers` and `babel.dates` for the language;
metric tables keep their fixed "." decimals, which both languages use anyway.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_skeleton, get_timezone_gmt
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGS = ("ko", "en")
DEFAULT_LANG = "ko"
DOMAIN = "report"
# The file each language's report is written to in a ledger entry; the switch links between them.
REPORT_FILES = {"ko": "report.html", "en": "report.en.html"}
# Each language's name in itself, for the switch.
LANG_NAMES = {"ko": "한국어", "en": "English"}
# The templates whose texts the catalogs translate, and how they are parsed (as the report's
# environment parses them, so that extracted message ids are the ones rendering looks up).
TEMPLATES = ("report.html.j2", "comparison.html.j2")
# The modules (a pattern in checks/) whose sentences the record keeps as phrases (templates marked
# with `N_`), which the report says in its language: the checks' messages, the verdict engine's
# reasons, the impact level's findings. The registered checks' titles are translated too.
PHRASE_SOURCES = "*.py"
EXTRACT_OPTIONS = {
    "trim_blocks": "true",
    "lstrip_blocks": "true",
    "newstyle_gettext": "true",
    "silent": "false",
}


def check_lang(lang: str) -> str:
    """Return `lang` when the report can be written in it; raise ValueError naming it otherwise."""
    if lang not in LANGS:
        raise ValueError(f"unknown report language {lang!r}: use one of {', '.join(LANGS)}")
    return lang


def _package_dir() -> Any:
    return files("assay.dashboards")


def catalog_text(lang: str) -> str:
    """Return the text of the `.po` catalog of `lang`."""
    path = _package_dir() / "locale" / check_lang(lang) / "LC_MESSAGES" / f"{DOMAIN}.po"
    return path.read_text(encoding="utf-8")


def read_catalog(lang: str) -> Catalog:
    """Return the parsed `.po` catalog of `lang`."""
    return read_po(io.StringIO(catalog_text(lang)), locale=lang, domain=DOMAIN)


@functools.cache
def translations(lang: str) -> Translations:
    """Return the gettext translations of `lang`, compiled in memory from its `.po` file once."""
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(lang))  # fuzzy entries stay out, as msgfmt leaves them out
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def _parse(value: Any, kind: type) -> Any:
    if isinstance(value, str):
        try:
            return kind.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, kind) else None


def number(value: Any, lang: str) -> str:
    """Return a number written for prose in `lang` (20,000 rows); anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—" if value is None else str(value)
    return format_decimal(value, locale=lang)


def long_date(value: Any, lang: str) -> str:
    """Return a date (or an ISO date string) written out in `lang`; an unreadable one unchanged."""
    parsed = _parse(value, date)
    if parsed is None:
        return "—" if value is None else str(value)
    return format_date(parsed, format="long", locale=lang)


def long_datetime(value: Any, lang: str) -> str:
    """Return a moment (or an ISO string) as date, hour and its own UTC offset, never the reader's."""
    parsed = _parse(value, datetime)
    if parsed is None:
        return "—" if value is None else str(value)
    day = format_date(parsed, format="long", locale=lang)
    return f"{day} {format_skeleton('Hm', parsed, locale=lang)} ({get_timezone_gmt(parsed, locale=lang)})"


def in_lang(text: Any, lang: str) -> Any:
    """Return the `lang` side of a text kept in both languages (a `Text` or its dict); others as given."""
    if isinstance(text, Mapping):
        return text.get(lang, text)
    side = getattr(text, lang, None)
    return text if side is None or not isinstance(side, str) else side


def _catalog(lang: str | None = None) -> Catalog:
    return Catalog(
        locale=lang,
        domain=DOMAIN,
        header_comment="# Messages of the Assay audit report; see dashboards/i18n.py.",
        project="assay",
        copyright_holder="the Assay authors",
        charset="utf-8",
        fuzzy=False,
    )


def extract_template_catalog() -> Catalog:
    """Return a catalog of every message the report templates and the phrases ask to translate."""
    catalog = _catalog()
    templates = _package_dir() / "templates"
    for name in TEMPLATES:
        path = Path(str(templates / name))
        for lineno, message, comments, context in extract_from_file(
            "jinja2", path, options=EXTRACT_OPTIONS, strip_comment_tags=True
        ):
            catalog.add(
                message, None, [(f"templates/{name}", lineno)], auto_comments=comments, context=context
            )
    checks = Path(str(files("assay.checks")))
    for path in sorted(checks.glob(PHRASE_SOURCES)):
        for lineno, message, comments, context in extract_from_file(
            "python", path, keywords={"N_": None}, strip_comment_tags=True
        ):
            catalog.add(
                message, None, [(f"checks/{path.name}", lineno)], auto_comments=comments, context=context
            )
    from assay.checks.registry import all_checks  # imports every check module: only when extracting

    for check in sorted(all_checks().values(), key=lambda c: c.id):
        catalog.add(check.title, None, [("checks/registry.py", None)], auto_comments=[f"title of {check.id}"])
    return catalog


def update_catalogs() -> None:
    """Extract the templates' messages into `locale/report.pot` and merge them into every catalog.

    English is the language of the message ids: its catalog is filled in with them.
    """
    locale = Path(str(_package_dir() / "locale"))
    template = extract_template_catalog()
    with (locale / f"{DOMAIN}.pot").open("wb") as out:
        write_po(out, template, width=100)
    for lang in LANGS:
        path = locale / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            catalog = read_catalog(lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = _catalog(lang)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=True)
        if lang == "en":
            for message in catalog:
                if message.id and not message.fuzzy:
                    message.string = message.id
        with path.open("wb") as out:
            write_po(out, catalog, width=100, ignore_obsolete=True)


if __name__ == "__main__":
    update_catalogs()
