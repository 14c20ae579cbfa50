"""Fuzzing every input loader: a valid object or a one-line AssayInputError, never anything else.

Each loader gets YAML text (random, and valid documents with random parts replaced or removed)
or CSV text; anything other than the two allowed outcomes (a crash, a multi-line message) is a
bug. Settings are derandomized, so every run tries the same examples.
"""

from __future__ import annotations

import copy
import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.checks.context import ServiceProfile
from assay.checks.errors import AssayInputError
from assay.data import loaders
from assay.flows.procure import load_round
from assay.models.candidate import load_candidate

EXAMPLES = 200
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Strings that have broken loaders: names no file can have, line breaks, climbing paths.
NASTY = ["", ".", "..", "../x.yaml", "/", "\x00", "a\x00.yaml", "x" * 5000, "a/" * 3000, "a\nb", "\u2028"]
# Scalars YAML can carry, including the awkward ones: NaN, huge numbers, line breaks, NUL.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(NASTY)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)

PROFILE = yaml.safe_load((loaders.SERVICES_DIR / "welfare-review.yaml").read_text(encoding="utf-8"))
PROFILE.pop("contract")  # the fuzzed profile lives elsewhere; its contract is fuzzed as its own file
MANIFEST = {
    "id": "vendor-x",
    "vendor": "V",
    "model": "M",
    "version": "1",
    "format": "predictions",
    "location": "preds.csv",
    "output": {"positive_class": 1, "score": "risk", "threshold": 0.3},
    "predictions": {"id_column": "case_id", "score_column": "score"},
    "intended_use": "u",
    "training_data": "t",
    "contact": "c",
}
SKOPS = {**MANIFEST, "format": "skops", "location": "model.skops", "input_features": ["age", "children"]}
del SKOPS["predictions"]
ENDPOINT = {**SKOPS, "format": "endpoint", "endpoint": {"url": "http://127.0.0.1:9/s", "headers": {"X": "k"}}}
del ENDPOINT["location"]
EOD = "equalized_odds_difference"
BASE_PACK = {
    "id": "base-pack",
    "version": "1",
    "title": {"ko": "기준", "en": "base"},
    "jurisdiction": "KR",
    "parameters": {"confidence": 0.9, "min_group_size": 30},
    "clauses": [
        {
            "id": "BASE-1",
            "title": {"ko": "공정", "en": "fair"},
            "source": "rule 1",
            "verified": False,
            "evidence": [{"check": "fairness.group_metrics", "metric": EOD, "basis": "agency", "max": 0.1}],
            "questions": [{"id": "b.q1", "topic": "governance", "text": {"ko": "질문", "en": "q"}}],
        }
    ],
}
CHILD_PACK = {
    "id": "child-pack",
    "version": "2",
    "extends": "base.yaml",
    "title": {"ko": "기관", "en": "agency"},
    "parameters": {"n_boot": 200},
    "overrides": [
        {"clause": "BASE-1", "check": "fairness.group_metrics", "metric": EOD, "max": 0.2},
        {"clause": "BASE-1", "severity": "advisory"},
    ],
    "clauses": [
        {
            "id": "AG-1",
            "title": {"ko": "성능", "en": "performance"},
            "source": "rule 2",
            "verified": True,
            "evidence": [
                {
                    "check": "performance.classification",
                    "metric": "balanced_accuracy",
                    "basis": "agency",
                    "min": 0.6,
                }
            ],
        }
    ],
}
ROUND = {
    "id": "round-1",
    "service": "welfare-review",
    "data": "eval.csv",
    "policy": "kr-public-service",
    "answers": "answers.yaml",
    "seed": 3,
    "candidates": ["a/candidate.yaml", "b/candidate.yaml"],
}
ANSWERS = {
    "policy": "ca-dadm",
    "answers": {
        "ca.aia_impact_score": {"answer": 20, "answered_by": "K", "answered_at": "2026-11-20"},
        "ca.aia_impact_max": {"answer": 100, "answered_by": "K", "answered_at": "2026-11-20"},
        "ca.aia_mitigation_score": {"answer": 5, "answered_by": "K", "answered_at": "2026-11-20"},
    },
}


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the path of every value inside a nested mapping/list, the root included."""
    found = [prefix]
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else []
    for key, value in items:
        found.extend(_paths(value, (*prefix, key)))
    return found


def _leaves(doc: Any) -> list[Any]:
    """Return every scalar inside a nested mapping/list: plausible values to put elsewhere."""
    if isinstance(doc, dict):
        return [leaf for value in doc.values() for leaf in _leaves(value)]
    if isinstance(doc, list):
        return [leaf for value in doc for leaf in _leaves(value)]
    return [doc]


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """Draw `base` with up to three values replaced (by random or swapped-in values), removed or added."""
    doc: Any = copy.deepcopy(base)
    values = VALUES | st.sampled_from(_leaves(base))
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from([p for p in _paths(doc) if p] or [()]))
        if not path:
            break
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["replace", "replace", "replace", "remove", "add"]))
        if op == "remove":
            del parent[path[-1]]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12) | st.sampled_from(list(base)))] = draw(values)
        elif op == "add":
            parent.append(draw(values))
        else:
            parent[path[-1]] = draw(values)
    return doc


def _yaml(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def documents(base: dict[str, Any]) -> st.SearchStrategy[str]:
    """Return YAML text: mostly `base` with random parts, sometimes any value or any characters."""
    kinds = {"mutated": mutated(base).map(_yaml), "value": VALUES.map(_yaml), "text": st.text(max_size=200)}
    return st.sampled_from(["mutated"] * 8 + ["value", "text"]).flatmap(kinds.__getitem__)


def _one_line(exc: AssayInputError) -> None:
    text = str(exc)
    assert text and text.splitlines() == [text], repr(text)


def _outcome(load: Any, *args: Any) -> Any:
    """Return what `load` returns, or None after checking its AssayInputError is one line."""
    try:
        return load(*args)
    except AssayInputError as exc:
        _one_line(exc)
        return None


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder the examples write their files into (each example overwrites them)."""
    base = tmp_path_factory.mktemp("fuzz")
    (base / "preds.csv").write_text("case_id,score\nWR-1,0.5\nWR-2,0.1\n", encoding="utf-8")
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"age": [20, 30, 40, 50], "children": [0, 1, 0, 2]})
    sio.dump(LogisticRegression().fit(x, [0, 1, 0, 1]), base / "model.skops")
    for name in ("a", "b"):
        (base / name).mkdir()
        (base / name / "candidate.yaml").write_text(_yaml(MANIFEST), encoding="utf-8")
    return base


@FUZZ
@given(text=documents(PROFILE))
def test_service_profiles(folder: Path, text: str) -> None:
    path = folder / "service.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = _outcome(loaders.load_profile, str(path))
    if loaded is not None:
        assert isinstance(loaded[0], ServiceProfile)
        _outcome(loaders.load_contract, *loaded)


@FUZZ
@given(text=documents(MANIFEST) | documents(SKOPS) | documents(ENDPOINT))
def test_candidate_manifests(folder: Path, text: str) -> None:
    path = folder / "candidate.yaml"
    path.write_text(text, encoding="utf-8")
    _outcome(load_candidate, path)


@FUZZ
@given(child=documents(CHILD_PACK), base=mutated(BASE_PACK).map(_yaml) | st.just(_yaml(BASE_PACK)))
def test_policy_packs(folder: Path, child: str, base: str) -> None:
    (folder / "base.yaml").write_text(base, encoding="utf-8")
    path = folder / "pack.yaml"
    path.write_text(child, encoding="utf-8")
    _outcome(loaders.load_policy, str(path))


@pytest.fixture(scope="module")
def packs() -> dict[str, Any]:
    """The shipped packs answers are fuzzed against: one with yes/no questions, one with scores."""
    return {ref: loaders.load_policy(ref)[0] for ref in ("kr-public-service", "ca-dadm")}


@FUZZ
@given(text=documents(ANSWERS), pack=st.sampled_from(["ca-dadm", "kr-public-service"]))
def test_checklist_answers(folder: Path, packs: dict[str, Any], text: str, pack: str) -> None:
    path = folder / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    _outcome(loaders.load_answers, path, packs[pack])


@FUZZ
@given(text=documents(ROUND))
def test_round_files(folder: Path, text: str) -> None:
    path = folder / "round.yaml"
    path.write_text(text, encoding="utf-8")
    _outcome(load_round, path)


# Plausible values of the welfare-review profile's columns: the examples start valid.
PLAUSIBLE = {
    "case_id": st.just(""),  # unique ids are filled in by row
    "irregularity_found": st.sampled_from(["0", "1"]),
    "sex": st.sampled_from(["female", "male"]),
    "nationality": st.sampled_from(["korean", "naturalized", "foreign_resident"]),
    "disability": st.sampled_from(["no", "yes"]),
    "age": st.integers(18, 100).map(str),
    "income_decile": st.integers(1, 10).map(str),
}
CELLS = st.sampled_from(["", "0", "1", "2", "-1", "1.5", "nan", "inf", "yes", "WR-1", '"', "a,b", "a\nb"])
CELLS = CELLS | st.text(max_size=8)


@st.composite
def csv_texts(draw: st.DrawFn) -> bytes:
    """Draw a CSV of the profile's columns and plausible rows, then break up to three things in it."""
    columns = list(PLAUSIBLE)
    n = draw(st.integers(1, 12))
    rows = [[f"WR-{i}", *(draw(PLAUSIBLE[c]) for c in columns[1:])] for i in range(n)]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["cell", "cell", "cell", "column", "drop", "twice", "ragged", "rows"]))
        i, j = draw(st.integers(0, len(rows) - 1)) if rows else 0, draw(st.integers(0, len(columns) - 1))
        if kind == "cell" and rows:
            rows[i][j] = draw(CELLS)
        elif kind == "column":  # every row of one column gets the same odd value
            value = draw(CELLS)
            for row in rows:
                row[j] = value
        elif kind == "drop":
            del columns[j]
            for row in rows:
                del row[j]
        elif kind == "twice":
            columns.append(columns[j])
            for row in rows:
                row.append(row[j])
        elif kind == "ragged" and rows:
            rows[i].append(draw(CELLS))
        elif kind == "rows":
            rows = rows[: draw(st.integers(0, 1))]
        if not columns:
            break
    sep = draw(st.sampled_from([","] * 6 + [";", "\t"]))
    newline = draw(st.sampled_from(["\n"] * 4 + ["\r\n", "\r"]))
    out = io.StringIO()
    if draw(st.booleans()):
        csv.writer(out, delimiter=sep, lineterminator=newline).writerows([columns, *rows])
    else:
        out.write(newline.join(sep.join(row) for row in [columns, *rows]) + newline)
    raw = out.getvalue().encode("utf-8")
    tail = draw(st.sampled_from([b""] * 6 + [b"\x00", b"\xff\xfe", b"\xc3"]))
    return draw(st.sampled_from([raw + tail, tail + raw]))


@FUZZ
@given(raw=st.sampled_from([0] * 9 + [1]).flatmap(lambda i: [csv_texts(), st.binary(max_size=300)][i]))
def test_evaluation_csv(folder: Path, profile: ServiceProfile, raw: bytes) -> None:
    path = folder / "eval.csv"
    path.write_bytes(raw)

    def check() -> pd.Series:
        data = loaders.read_table(path)
        loaders.require_columns(data, [profile.id_column, profile.label.column], path, "the profile's")
        loaders.require_columns(data, [a.column for a in profile.sensitive_attributes], path, "sensitive")
        loaders.check_ids(data, profile, path)
        loaders.check_sensitive(data, profile, path)
        labels = loaders.binary_labels(data, profile, path)
        profile.sensitive_frame(data)  # what the audit does next must work on what was let through
        return labels

    labels = _outcome(check)
    if labels is not None:
        assert set(labels.unique()) <= {0, 1}


# Every field that names a file, each set to a string that has broken a loader, or any string.
PATH_FIELDS = {
    "candidate location": ("candidate.yaml", MANIFEST, ("location",)),
    "round candidate": ("round.yaml", ROUND, ("candidates", 0)),
    "round data": ("round.yaml", ROUND, ("data",)),
    "round answers": ("round.yaml", ROUND, ("answers",)),
    "profile contract": ("service.yaml", {**PROFILE, "contract": "contract.yaml"}, ("contract",)),
    "pack extends": ("pack.yaml", CHILD_PACK, ("extends",)),
}


def _load_any(path: Path) -> Any:
    """Load a file the way its kind is loaded: candidate, round, service profile or policy pack."""
    if path.name == "candidate.yaml":
        return load_candidate(path)
    if path.name == "round.yaml":
        return load_round(path)
    if path.name == "service.yaml":
        return loaders.load_contract(*loaders.load_profile(str(path)))
    return loaders.load_policy(str(path))


@settings(FUZZ, max_examples=EXAMPLES // 2)
@given(field=st.sampled_from(sorted(PATH_FIELDS)), value=st.sampled_from(NASTY) | st.text(max_size=300))
def test_fields_naming_files(folder: Path, field: str, value: str) -> None:
    name, base, where = PATH_FIELDS[field]
    doc = copy.deepcopy(base)
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    (folder / "base.yaml").write_text(_yaml(BASE_PACK), encoding="utf-8")
    (folder / name).write_text(_yaml(doc), encoding="utf-8")
    _outcome(_load_any, folder / name)
