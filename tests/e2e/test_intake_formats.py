"""`assay audit` on pickle candidates: refused without --trust-pickle, recorded as trusted with it."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from assay.models.candidate import load_candidate

pytestmark = pytest.mark.e2e


class Payload:
    """Unpickling this creates `marker`: a stand-in for whatever a hostile file would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def inputs(scenario: Path, holdout: pd.DataFrame, tmp_path_factory) -> dict[str, Path]:
    """A small evaluation CSV and vendor-c's manifest and estimator, ready to re-package."""
    base = tmp_path_factory.mktemp("intake")
    data = base / "eval.csv"
    holdout.head(4000).to_csv(data, index=False)
    shutil.copytree(scenario / "candidates" / "vendor-c", base / "vendor-c")
    return {"base": base, "data": data, "candidate": base / "vendor-c" / "candidate.yaml"}


def _pickle_candidate(inputs: dict[str, Path], name: str, obj: Any) -> Path:
    """Write `obj` as vendor-c's model in pickle format; return the new candidate.yaml."""
    folder = inputs["base"] / name
    folder.mkdir()
    (folder / "model.pickle").write_bytes(pickle.dumps(obj))
    manifest = yaml.safe_load(inputs["candidate"].read_text())
    manifest.update(format="pickle", location="model.pickle")
    (folder / "candidate.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True))
    return folder / "candidate.yaml"


def _audit(run_assay, inputs: dict[str, Path], candidate: Path, ledger: Path, *extra: str) -> Any:
    return run_assay(
        "audit", "--service", "welfare-review", "--candidate", str(candidate),
        "--data", str(inputs["data"]), "--ledger", str(ledger), *extra,
    )  # fmt: skip


def test_untrusted_pickle_is_exit_2_one_line_no_entry_no_code_run(run_assay, inputs, tmp_path) -> None:
    marker = tmp_path / "pwned"
    candidate = _pickle_candidate(inputs, "hostile", Payload(marker))
    ledger = tmp_path / "ledger"
    proc = _audit(run_assay, inputs, candidate, ledger)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "runs code when loaded" in lines[0]
    assert "--trust-pickle" in lines[0] and "Traceback" not in proc.stderr
    assert not marker.exists()
    assert not (ledger / "entries").exists() or not any((ledger / "entries").iterdir())


def test_trusted_pickle_audits_and_the_record_says_so(run_assay, inputs, tmp_path) -> None:
    estimator = load_candidate(inputs["candidate"]).access.native()
    candidate = _pickle_candidate(inputs, "trusted", estimator)
    ledger = tmp_path / "ledger"
    proc = _audit(run_assay, inputs, candidate, ledger, "--trust-pickle")
    assert proc.returncode in (0, 1), proc.stderr
    summary = json.loads(proc.stdout)
    record = json.loads((Path(summary["entry"]) / "record.json").read_text())
    assert record["candidate"]["format"] == "pickle"
    assert record["candidate"]["pickle_trusted"] is True
    assert record["command"].endswith(" --trust-pickle")
    model = candidate.parent / "model.pickle"
    assert record["inputs"]["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
