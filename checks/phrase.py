"""Sentences kept as an English template with their arguments, so that a report can say them in Korean.

A verdict's reasons and a check's messages are stored twice in the record: as the English sentence
(what machines and older readers use) and as a `Phrase`. The report looks the template up in its
language's message catalog (the English template is the message id) and fills in the same
arguments. Templates are marked with `N_` so that `python -m assay.dashboards.i18n` extracts them:
a plain string literal, never an f-string, with every number already written out in an argument.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field


class Text(BaseModel):
    """A text in Korean and English."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ko: str
    en: str


def N_(template: str) -> str:
    """Return the template unchanged; marks it for extraction into the report's catalogs."""
    return template


def fields(template: str) -> set[str]:
    """Return the names of the `{fields}` a template fills in."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Phrase(BaseModel):
    """A sentence as its English template (`{name}` fields) and the arguments that fill it in.

    An argument is plain text (an id, a number already written out), a `Text` in both languages,
    or another phrase.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str
    args: dict[str, Phrase | Text | str] = Field(default_factory=dict)

    def say(self, lang: str = "en", translate: Callable[[str], str] | None = None) -> str:
        """Return the sentence in `lang`, with `translate` mapping an English template to that language."""
        args = {name: _say(value, lang, translate) for name, value in self.args.items()}
        # gettext("") is the catalog's header, not a translation of nothing.
        template = translate(self.template) if translate and self.template else self.template
        try:
            return template.format(**args)
        except (KeyError, IndexError, ValueError):
            # A translation that lost or misspelt a field must not break the report; a test
            # keeps the catalogs' fields equal to the templates'.
            return self.template.format(**args)

    def __str__(self) -> str:
        return self.say()


def phrase(template: str, **args: Phrase | Text | str) -> Phrase:
    """Return the phrase of `template` (marked with `N_` where it is written) filled in with `args`."""
    return Phrase(template=template, args=args)


def joined(items: Sequence[Phrase | Text | str], separator: str = ", ") -> Phrase:
    """Return one phrase that says `items` in order with `separator` between them, in every language.

    Its template is made of fields only, so no catalog has it and every language keeps it as is.
    """
    between = separator.replace("{", "{{").replace("}", "}}")
    return Phrase(
        template=between.join(f"{{item{i}}}" for i in range(len(items))),
        args={f"item{i}": item for i, item in enumerate(items)},
    )


def said(
    phrases: Sequence[Phrase], english: Sequence[str], lang: str, translate: Callable[[str], str] | None
) -> list[str]:
    """Return sentences in `lang` from their phrases, or their English when the phrases are not
    theirs (a record sealed before phrases existed has none)."""
    if len(phrases) != len(english):
        return list(english)
    return [p.say(lang, translate) for p in phrases]


def _say(value: Phrase | Text | str, lang: str, translate: Callable[[str], str] | None) -> str:
    if isinstance(value, Phrase):
        return value.say(lang, translate)
    if isinstance(value, Text):
        return getattr(value, lang, value.en)
    return value


Phrase.model_rebuild()
