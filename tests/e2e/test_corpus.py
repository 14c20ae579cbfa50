"""The bad-input corpus (tests/corpus/): every case ends in one line on stderr, exit 2, nothing written.

Cases run in this process through `assay.flows.cli.main` (a subprocess costs seconds each), with
the audit and round flows replaced by a failing stub: every input is refused before Prefect starts.
The few marked `subprocess: true` also run as the real command, to prove no traceback gets out.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from corpus_recipes import RECIPES, Good
from loopback import drip_headers, send_json, serving

from assay.flows.cli import main

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
CASES = sorted(p for p in CORPUS.rglob("*.yaml") if p.parent != CORPUS)
KEYS = {"about", "argv", "files", "make", "endpoint", "expect", "absent", "subprocess"}
OFFLINE = "http://127.0.0.1:9/unused"  # the discard port: nothing answers there
PLACEHOLDER = re.compile(r"\{(case|data|data_parquet|candidate|model|ledger|endpoint)\}")


def _load(path: Path) -> dict[str, Any]:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(case) <= KEYS, f"{path}: unknown keys {set(case) - KEYS}"
    assert {"about", "argv", "expect"} <= set(case), f"{path}: needs about, argv and expect"
    return case


def _endpoint(behaviour: str) -> type[BaseHTTPRequestHandler]:
    """Return a handler that answers every batch in one wrong way."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if behaviour == "drip_headers":
                drip_headers(self)
                return
            rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["rows"]
            n = len(rows)
            answers = {
                "wrong_shape": (200, {"score": [0.5] * n}),
                "wrong_length": (200, {"scores": [0.5] * (n - 1)}),
                "not_numbers": (200, {"scores": ["high"] * n}),
                "out_of_range": (200, {"scores": [1.5] * n}),
                "http_500": (500, {"error": "down"}),
                "oversize": (200, {"scores": [0.5] * n, "padding": "x" * 65536}),
            }
            status, payload = answers[behaviour]
            send_json(self, status=status, body=json.dumps(payload).encode())

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


FEATURES = [
    "household_size", "children", "income_decile", "months_employed_24", "months_on_benefits",
    "prior_reviews", "prior_irregularity",
]  # fmt: skip


@pytest.fixture(scope="module")
def good(holdout: pd.DataFrame, scenario: Path, tmp_path_factory) -> Good:
    """Valid inputs: 1,000 evaluation rows (CSV and Parquet) and a small skops candidate.

    The candidate is vendor-c's manifest over a logistic regression on its numeric features: it
    loads in milliseconds, where the demo's boosted trees take a second per case.
    """
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    base = tmp_path_factory.mktemp("corpus-good")
    frame = holdout.head(1000).reset_index(drop=True)
    frame.to_csv(base / "eval.csv", index=False)
    frame.to_parquet(base / "eval.parquet", index=False)
    vendor = base / "vendor-c"
    vendor.mkdir()
    model = LogisticRegression(max_iter=1000).fit(frame[FEATURES], frame["irregularity_found"])
    sio.dump(model, vendor / "model.skops")
    manifest = yaml.safe_load((scenario / "candidates" / "vendor-c" / "candidate.yaml").read_text())
    manifest.update(location="model.skops", input_features=FEATURES)
    (vendor / "candidate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return Good(
        frame, base / "eval.csv", base / "eval.parquet", vendor / "candidate.yaml", vendor / "model.skops"
    )


def _prepare(case: dict[str, Any], good: Good, work: Path, url: str) -> list[str]:
    """Write the case's files into `work` and return its command line with placeholders filled."""
    work.mkdir()
    values = {
        "case": str(work), "data": str(good.data), "data_parquet": str(good.data_parquet),
        "candidate": str(good.candidate), "model": str(good.model), "ledger": str(work / "ledger"),
        "endpoint": url,
    }  # fmt: skip

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)

    for name, text in (case.get("files") or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(fill(text), encoding="utf-8")
    for name, spec in (case.get("make") or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        spec = dict(spec)
        recipe = RECIPES[spec.pop("recipe")]
        recipe(work / name, yaml.safe_load(fill(yaml.safe_dump(spec))), good, work)
    return [fill(arg) for arg in case["argv"]]


def _check(case: dict[str, Any], work: Path, code: Any, out: str, err: str) -> None:
    assert code == 2, f"exit {code}; stderr: {err}"
    assert "Traceback" not in err + out, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {err}"
    assert lines[0].startswith("error: "), lines[0]
    assert case["expect"] in lines[0], f"{case['expect']!r} not in {lines[0]!r}"
    # Nothing written: not an entry, not a temporary folder, not even the ledger folder.
    assert not (work / "ledger").exists(), sorted(p.name for p in (work / "ledger").rglob("*"))
    for name in case.get("absent", []):
        assert not (work / name).exists(), f"{name} was created: the input ran code"


def _no_flow(*args: Any, **kwargs: Any) -> None:
    pytest.fail("a Prefect flow started: the input should have been refused before")


@pytest.mark.parametrize("path", CASES, ids=[str(p.relative_to(CORPUS).with_suffix("")) for p in CASES])
def test_corpus_case(path, good, tmp_path, monkeypatch, capsys, session_env) -> None:
    case = _load(path)
    # Every case is refused before Prefect starts: no flow, no server, no check has run.
    monkeypatch.setattr("assay.flows.audit.audit_candidate", _no_flow)
    monkeypatch.setattr("assay.flows.procure.procurement_round", _no_flow)
    with contextlib.ExitStack() as stack:
        url = OFFLINE
        if case.get("endpoint"):
            url = stack.enter_context(serving(_endpoint(case["endpoint"]))) + "/score"
        argv = _prepare(case, good, tmp_path / "case", url)
        monkeypatch.setattr(sys, "argv", ["assay", *argv])
        with pytest.raises(SystemExit) as exit_info:
            main()
    captured = capsys.readouterr()
    _check(case, tmp_path / "case", exit_info.value.code, captured.out, captured.err)


SUBPROCESS = [p for p in CASES if _load(p).get("subprocess")]


@pytest.mark.parametrize("path", SUBPROCESS, ids=[p.stem for p in SUBPROCESS])
def test_corpus_case_as_a_real_process(path, run_assay, good, tmp_path) -> None:
    case = _load(path)
    assert "endpoint" not in case, "subprocess cases stay offline"
    argv = _prepare(case, good, tmp_path / "case", OFFLINE)
    proc = run_assay(*argv)
    _check(case, tmp_path / "case", proc.returncode, proc.stdout, proc.stderr)


def test_the_corpus_covers_every_kind_of_input() -> None:
    kinds = {p.parent.name: 0 for p in CASES}
    for p in CASES:
        kinds[p.parent.name] += 1
    expected = {"data", "limits", "service", "candidate", "model", "policy", "answers", "round", "endpoint"}
    assert expected <= set(kinds), kinds
    assert len(CASES) >= 40 and 2 <= len(SUBPROCESS) <= 3
