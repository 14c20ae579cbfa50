"""Records and reports hold aggregates and pseudonymous ids of explained examples only: the whole
demo ledger, its oversight site and the Prefect artifacts the demo published are scanned for every
`case_id` of the holdout and every value of its free-text columns (the caseworker's notes, and the
applicants' names in them), and none is found.

Every file is read several ways: its raw bytes (for the values' UTF-8 bytes), its text as it is and
with HTML entities or %-escapes undone, and, for JSON, every string it holds (so `\\uXXXX` escapes
are undone too). Names are looked for as words, the rest as substrings.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
import urllib.parse
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from assay.dashboards.site import render_site

pytestmark = pytest.mark.e2e

WORD = re.compile(r"\w+")
NAMES = re.compile(r"^\S+ (?P<ko>[^(]+)\((?P<en>[^)]+)\)")


class View:
    """One reading of a file: its text, tokenised once on demand."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens: list[str] | None = None

    @property
    def tokens(self) -> list[str]:
        """Return the text's word tokens, in order."""
        if self._tokens is None:
            self._tokens = WORD.findall(self.text)
        return self._tokens


class Ids:
    """The id column's values: every occurrence of their common prefix is checked, at every length."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = set(ids)
        low, high = min(ids), max(ids)  # the common prefix of strings is that of the least and greatest
        size = 0
        while size < min(len(low), len(high)) and low[size] == high[size]:
            size += 1
        self.prefix = low[:size]
        assert len(self.prefix) >= 3, "the scan needs ids with a common prefix"
        self.lengths = sorted({len(i) for i in ids})

    def found_in(self, view: View) -> set[str]:
        """Return the ids that occur in the view."""
        text = view.text
        starts = [m.start() for m in re.finditer(re.escape(self.prefix), text)]
        return self.ids.intersection(text[i : i + n] for i in starts for n in self.lengths)


class Values:
    """Long values (the notes). A text holding a value holds each of its inner tokens whole (not the
    first or last, which may run on), so only a value all of whose inner tokens the text holds is
    looked for as a whole: exact, and fast on 80,000 values."""

    def __init__(self, values: list[str]) -> None:
        self.by_token: dict[str, list[tuple[str, frozenset[str]]]] = {}  # rarest inner token → values
        self.short: list[str] = []  # values with no inner token: looked for one by one
        inner = {v: self._inner(v) for v in values}
        counts = Counter(t for tokens in inner.values() for t in tokens)
        for value, tokens in inner.items():
            if tokens:
                self.by_token.setdefault(min(tokens, key=lambda t: counts[t]), []).append((value, tokens))
            else:
                self.short.append(value)

    @staticmethod
    def _inner(value: str) -> frozenset[str]:
        tokens = WORD.findall(value)
        start = 1 if tokens and WORD.match(value) else 0
        end = len(tokens) - 1 if tokens and WORD.match(value[-1]) else len(tokens)
        return frozenset(tokens[start:end])

    def found_in(self, view: View) -> set[str]:
        """Return the values that occur in the view."""
        present = set(view.tokens)
        candidates = [
            value
            for token in present & self.by_token.keys()
            for value, inner in self.by_token[token]
            if inner <= present
        ]
        return {v for v in candidates + self.short if v in view.text}


class Names:
    """Applicants' names, found as words: a name's last word may carry a suffix (a Korean particle:
    최혜태의, 최혜태님), and its other words stand whole. Inside a longer word (결정하지) is no name."""

    def __init__(self, names: list[str]) -> None:
        self.whole: dict[tuple[str, ...], str] = {tuple(WORD.findall(n)): n for n in names}
        self.single = {key[0]: name for key, name in self.whole.items() if len(key) == 1}
        self.lengths = sorted({len(word) for word in self.single})
        self.multi: dict[str, list[tuple[str, ...]]] = {}
        for key in self.whole:
            if len(key) > 1:
                self.multi.setdefault(key[0], []).append(key)

    def found_in(self, view: View) -> set[str]:
        """Return the names that occur in the view."""
        tokens, found = view.tokens, set()
        for i, token in enumerate(tokens):
            found.update(self.single[token[:n]] for n in self.lengths if token[:n] in self.single)
            for key in self.multi.get(token, ()):
                end = i + len(key) - 1
                if (
                    end < len(tokens)
                    and tokens[i + 1 : end] == list(key[1:-1])
                    and tokens[end].startswith(key[-1])
                ):
                    found.add(self.whole[key])
        return found


def _json_strings(data: bytes) -> str | None:
    """Return every string (keys too) of a JSON or JSON-lines file, or None if it is neither."""
    try:
        docs = [json.loads(data)]
    except ValueError:
        try:
            docs = [json.loads(line) for line in data.splitlines() if line.strip()]
        except ValueError:
            return None
    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                out.append(str(key))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif node is not None:
            out.append(str(node))

    for doc in docs:
        walk(doc)
    return "\n".join(out)


def _views(data: bytes) -> list[View]:
    """Return a file's text, with HTML entities and %-escapes undone, and a JSON file's strings."""
    text = data.decode("utf-8", errors="replace")
    readings = [text, html.unescape(text), urllib.parse.unquote(text), _json_strings(data)]
    return [View(r) for r in dict.fromkeys(r for r in readings if r is not None)]


def _raw(values: list[str]) -> list[str]:
    """Return values as their UTF-8 bytes read as latin-1, to be found in a file's raw bytes."""
    return [v.encode().decode("latin-1") for v in values]


class Scan:
    """Look for the holdout's personal data in many files; count what was scanned and found."""

    def __init__(self, holdout: pd.DataFrame, id_column: str, free_text: list[str]) -> None:
        self.ids = holdout[id_column].astype(str).tolist()
        self.notes = sorted({v for c in free_text for v in holdout[c].dropna().astype(str)})
        named = [m for m in (NAMES.match(n) for n in self.notes) if m]
        self.names = sorted({m["ko"] for m in named} | {m["en"] for m in named})
        # Each kind: what to look for in the decoded views, and in the raw bytes (None: not there).
        self.kinds = {
            "id": (Ids(self.ids), Ids(_raw(self.ids))),
            "note": (Values(self.notes), Values(_raw(self.notes))),
            "name": (Names(self.names), None),
        }
        self.files = 0
        self.bytes = 0
        self.hits: dict[str, set[str]] = {}

    def file(self, label: str, data: bytes) -> None:
        """Scan one file's bytes."""
        self.files += 1
        self.bytes += len(data)
        raw, views = View(data.decode("latin-1")), _views(data)
        for kind, (decoded, encoded) in self.kinds.items():
            found = {v.encode("latin-1").decode() for v in encoded.found_in(raw)} if encoded else set()
            for view in views:
                found |= decoded.found_in(view)
            if found:
                self.hits.setdefault(f"{label} ({kind})", set()).update(found)

    def tree(self, root: Path, label: str) -> None:
        """Scan every file under `root`."""
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            self.file(f"{label}/{path.relative_to(root)}", path.read_bytes())


def _summary(scan: Scan, what: str) -> str:
    return (
        f"{what}: {scan.files} files, {scan.bytes:,} bytes scanned for {len(scan.ids):,} ids, "
        f"{len(scan.notes):,} notes and {len(scan.names):,} names; hits: {sum(map(len, scan.hits.values()))}"
    )


def test_the_scan_finds_what_it_looks_for(holdout: pd.DataFrame, profile) -> None:
    """The scanner itself: planted values are found in every disguise its readings undo, and a name
    is not found inside a longer word of Korean prose."""
    scan = Scan(holdout.head(2000), profile.id_column, profile.free_text)
    case, note = holdout["case_id"].iloc[123], holdout["caseworker_note"].iloc[456]
    named = NAMES.match(note)
    assert named is not None
    ko, en = named["ko"], named["en"]
    scan.file("planted.json", json.dumps({"x": f"see {note}"}, ensure_ascii=True).encode())
    scan.file("planted.html", f"<td>&#{ord(case[0])};{case[1:]}0</td>".encode())
    scan.file("planted.txt", f"a link ?q={urllib.parse.quote(note)}\n{ko}의 메모, {en}'s".encode())
    scan.file("planted.bin", b"\x00" + case.encode() + b"\xff")
    surname, given = en.split(" ", 1)
    scan.file("prose.txt", f"지정하지 않은 값; 오류 안내; x{ko} {surname}{given}".encode())
    assert scan.hits == {
        "planted.json (note)": {note},
        "planted.json (name)": {ko, en},
        "planted.html (id)": {case},
        "planted.txt (note)": {note},
        "planted.txt (name)": {ko, en},
        "planted.bin (id)": {case},
    }
    assert (scan.files, len(scan.ids)) == (5, 2000)


def test_no_id_or_note_of_the_holdout_is_in_the_demo_ledger_its_site_or_its_artifacts(
    holdout: pd.DataFrame, profile, demo_ledger: Path, session_env: dict[str, str]
) -> None:
    assert profile.free_text == ["caseworker_note"]
    scan = Scan(holdout, profile.id_column, profile.free_text)
    assert len(scan.ids) == len(holdout) and len(scan.notes) > 0.99 * len(holdout)
    scan.tree(demo_ledger, "ledger")
    audits = [p.parent for p in demo_ledger.rglob("record.json")]
    assert scan.files >= 4 * 3 and len(audits) == 3
    # Explained examples are in the reports, by pseudonym only.
    for entry in audits:
        for report in ("report.html", "report.en.html"):
            assert re.search(r"<code>p-[0-9a-f]{16}</code>", (entry / report).read_text(encoding="utf-8"))
    for name, data in render_site(demo_ledger).items():
        scan.file(f"site/{name}", data)
    # The artifacts published to Prefect (verdict tables, report links, markdown), as its server
    # stored them: those of every audit of the session so far, the demo's among them.
    db = Path(session_env["PREFECT_HOME"]) / "prefect.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        artifacts = conn.execute("SELECT key, type, description, data FROM artifact").fetchall()
    assert sum(kind == "table" for _, kind, _, _ in artifacts) >= 3
    for key, kind, description, data in artifacts:
        scan.file(f"artifact/{key}/{kind}", f"{description}\n{data}".encode())
    print(_summary(scan, "personal-data scan"))
    assert scan.hits == {}
