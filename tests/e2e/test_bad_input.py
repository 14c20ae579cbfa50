"""Each malformed input ends in one line on stderr, exit code 2 and no ledger entry."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from assay.data import loaders

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def good(scenario: Path, holdout: pd.DataFrame, tmp_path_factory) -> dict[str, Path]:
    """A small valid evaluation CSV and a copy of vendor-c's candidate."""
    base = tmp_path_factory.mktemp("inputs")
    data = base / "eval.csv"
    holdout.head(4000).to_csv(data, index=False)
    shutil.copytree(scenario / "candidates" / "vendor-c", base / "vendor-c")
    return {"base": base, "data": data, "candidate": base / "vendor-c" / "candidate.yaml"}


def _case(good: dict[str, Path], name: str) -> dict[str, Any]:
    """Return the audit arguments for one bad-input case, writing its files."""
    base = good["base"] / name
    base.mkdir()
    args = {
        "data": str(good["data"]),
        "candidate": str(good["candidate"]),
        "policy": "kr-public-service",
        "service": "welfare-review",
    }
    extra: list[str] = []
    frame = pd.read_csv(good["data"])
    if name == "missing_column":
        frame.drop(columns=["nationality"]).to_csv(base / "eval.csv", index=False)
        args["data"] = str(base / "eval.csv")
    elif name == "non_binary_label":
        frame.loc[:2, "irregularity_found"] = 2
        frame.to_csv(base / "eval.csv", index=False)
        args["data"] = str(base / "eval.csv")
    elif name == "contract_violation":
        frame.loc[:4, "income_decile"] = 42
        frame.to_csv(base / "eval.csv", index=False)
        args["data"] = str(base / "eval.csv")
    elif name == "ids_do_not_join":
        preds = frame[["case_id"]].iloc[5:].assign(score=0.2)
        preds.to_csv(base / "preds.csv", index=False)
        manifest = yaml.safe_load(good["candidate"].read_text())
        manifest.update(format="predictions", location="preds.csv", input_features=[])
        manifest["predictions"] = {"id_column": "case_id", "score_column": "score"}
        (base / "candidate.yaml").write_text(yaml.safe_dump(manifest))
        args["candidate"] = str(base / "candidate.yaml")
    elif name == "unknown_policy":
        args["policy"] = "kr-nonexistent"
    elif name == "unreadable_candidate":
        (base / "candidate.yaml").write_text("vendor: [unclosed\n  - {")
        args["candidate"] = str(base / "candidate.yaml")
    elif name == "missing_data_file":
        args["data"] = str(base / "nope.parquet")
    elif name == "unknown_explain_id":
        extra = ["--explain-id", str(frame["case_id"].iloc[0]), "--explain-id", "WR-NOBODY"]
    elif name == "unknown_question":
        body = {
            "policy": "kr-public-service",
            "answers": {"kr.nope": {"answer": "yes", "answered_by": "K", "answered_at": "2026-11-20"}},
        }
        (base / "answers.yaml").write_text(yaml.safe_dump(body))
        extra = ["--answers", str(base / "answers.yaml")]
    elif name == "bad_feature_names":
        shipped = Path(loaders.SERVICES_DIR)
        contract = yaml.safe_load((shipped.parent / "contracts" / "welfare-review.yaml").read_text())
        contract["features"]["income_decile"] = {"label": "소득 분위"}  # needs ko and en
        (base / "contract.yaml").write_text(yaml.safe_dump(contract, allow_unicode=True))
        service = yaml.safe_load((shipped / "welfare-review.yaml").read_text())
        service["contract"] = "contract.yaml"
        (base / "service.yaml").write_text(yaml.safe_dump(service, allow_unicode=True))
        args["service"] = str(base / "service.yaml")
    return {**args, "extra": extra}


CASES = {
    "missing_column": "missing column 'nationality'",
    "non_binary_label": "must be binary, found 3 values",
    "contract_violation": "data contract failed",
    "ids_do_not_join": "5 evaluation rows have no prediction, 0 predictions match no row",
    "unknown_policy": "unknown policy 'kr-nonexistent'",
    "unreadable_candidate": "candidate.yaml: not valid YAML",
    "missing_data_file": "nope.parquet: no such file",
    "unknown_explain_id": "--explain-id WR-NOBODY: no row of",
    "bad_feature_names": "contract.yaml: field 'features.income_decile.label'",
    "unknown_question": "answers.yaml: field 'answers.kr.nope': no such question",
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_exit_2_and_no_entry(run_assay, good, tmp_path, name) -> None:
    args = _case(good, name)
    ledger = tmp_path / "ledger"
    proc = run_assay(
        "audit", "--service", args["service"], "--candidate", args["candidate"],
        "--data", args["data"], "--policy", args["policy"], "--ledger", str(ledger), *args["extra"],
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and CASES[name] in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (ledger / "entries").exists() or not any((ledger / "entries").iterdir())
