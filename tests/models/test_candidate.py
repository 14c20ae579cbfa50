"""Candidate intake: skops trust, manifest errors and the predictions join."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from assay.checks.errors import AssayInputError
from assay.models.candidate import load_candidate


def _vendor_code(x):
    """Stand-in for code a vendor ships inside a model file."""
    return x


def _copy_candidate(scenario: Path, tmp_path: Path, vendor: str = "vendor-c") -> Path:
    folder = tmp_path / vendor
    shutil.copytree(scenario / "candidates" / vendor, folder)
    return folder / "candidate.yaml"


def test_demo_candidate_loads_and_scores(scenario, holdout, tmp_path) -> None:
    cand = load_candidate(_copy_candidate(scenario, tmp_path))
    out = cand.outputs(holdout.head(500), "case_id", Path("holdout.parquet"))
    assert out.scores is not None and ((out.scores >= 0) & (out.scores <= 1)).all()
    assert set(np.unique(out.decisions)) <= {0, 1}
    assert len(cand.sha256) == 64


def test_skops_file_with_untrusted_types_is_refused(scenario, tmp_path) -> None:
    path = _copy_candidate(scenario, tmp_path)
    x = np.random.default_rng(0).random((50, 2))
    labels = (x[:, 0] > 0.5).astype(int)
    risky = make_pipeline(FunctionTransformer(_vendor_code), LogisticRegression()).fit(x, labels)
    sio.dump(risky, path.parent / "model.skops")
    with pytest.raises(AssayInputError, match=r"refusing untrusted types .*_vendor_code"):
        load_candidate(path)


def test_unreadable_model_file_is_a_one_line_error(scenario, tmp_path) -> None:
    path = _copy_candidate(scenario, tmp_path)
    (path.parent / "model.skops").write_bytes(b"not a zip file")
    with pytest.raises(AssayInputError, match="not a readable skops file") as info:
        load_candidate(path)
    assert "\n" not in str(info.value)


def test_manifest_field_errors_name_the_field(scenario, tmp_path) -> None:
    path = _copy_candidate(scenario, tmp_path)
    manifest = yaml.safe_load(path.read_text())
    manifest["output"]["threshold"] = 3
    path.write_text(yaml.safe_dump(manifest))
    with pytest.raises(AssayInputError, match=r"candidate.yaml: field 'output.threshold'"):
        load_candidate(path)


@pytest.mark.parametrize(
    ("declared", "expect"),
    [
        (
            [{"metric": "f1", "value": 0.8}],
            r"field 'declared_performance.0.metric': Input should be 'accuracy', 'balanced_accuracy', "
            r"'roc_auc' or 'brier_score'",
        ),
        (
            [{"metric": "roc_auc", "value": 85}],
            r"field 'declared_performance.0.value': Input should be less than or equal to 1",
        ),
        (
            [{"metric": "accuracy", "value": -0.1}],
            r"field 'declared_performance.0.value': Input should be greater than or equal to 0",
        ),
        (
            [{"metric": "roc_auc", "value": 0.8}, {"metric": "roc_auc", "value": 0.9}],
            r"field 'declared_performance': 'roc_auc' is declared twice",
        ),
    ],
)
def test_declared_performance_errors_name_the_field(scenario, tmp_path, declared, expect) -> None:
    path = _copy_candidate(scenario, tmp_path)
    manifest = yaml.safe_load(path.read_text())
    manifest["declared_performance"] = declared
    path.write_text(yaml.safe_dump(manifest))
    with pytest.raises(AssayInputError, match=r"candidate.yaml: " + expect) as info:
        load_candidate(path)
    assert "\n" not in str(info.value)


def test_declared_performance_is_read_and_absent_means_none(scenario, tmp_path) -> None:
    path = _copy_candidate(scenario, tmp_path)
    assert load_candidate(path).manifest.declared_performance == []
    manifest = yaml.safe_load(path.read_text())
    manifest["declared_performance"] = [{"metric": "roc_auc", "value": 0.85}]
    path.write_text(yaml.safe_dump(manifest))
    (level,) = load_candidate(path).manifest.declared_performance
    assert (level.metric, level.value) == ("roc_auc", 0.85)


def _predictions_candidate(tmp_path: Path, ids: list[str]) -> Path:
    pd.DataFrame({"case_id": ids, "score": np.linspace(0, 1, len(ids))}).to_csv(
        tmp_path / "preds.csv", index=False
    )
    manifest = {
        "id": "vendor-p",
        "vendor": "P",
        "model": "p",
        "version": "1",
        "format": "predictions",
        "location": "preds.csv",
        "output": {"score": "risk", "threshold": 0.5},
        "predictions": {"id_column": "case_id", "score_column": "score"},
        "intended_use": "test",
        "training_data": "n/a",
        "contact": "p@example.org",
    }
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_predictions_join_on_the_id_in_evaluation_order(tmp_path) -> None:
    data = pd.DataFrame({"case_id": ["c", "a", "b"]})
    cand = load_candidate(_predictions_candidate(tmp_path, ["a", "b", "c"]))
    out = cand.outputs(data, "case_id", Path("eval.csv"))
    assert out.scores.tolist() == [1.0, 0.0, 0.5]
    assert out.decisions.tolist() == [1, 0, 1]


def test_predictions_that_do_not_join_are_counted(tmp_path) -> None:
    data = pd.DataFrame({"case_id": ["a", "b", "c", "d"]})
    cand = load_candidate(_predictions_candidate(tmp_path, ["a", "b", "x"]))
    with pytest.raises(AssayInputError, match="2 evaluation rows have no prediction, 1 predictions"):
        cand.outputs(data, "case_id", Path("eval.csv"))
