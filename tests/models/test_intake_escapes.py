"""A candidate's files stay in its folder, and its predictions are not the agency's own labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from assay.checks.errors import AssayInputError
from assay.models.candidate import MIN_ROWS_FOR_LEAK, load_candidate


def _vendor(scenario: Path, tmp_path: Path) -> Path:
    """Copy the demo's vendor-c into tmp_path/vendor and return its candidate.yaml."""
    shutil.copytree(scenario / "candidates" / "vendor-c", tmp_path / "vendor")
    return tmp_path / "vendor" / "candidate.yaml"


def _locate(path: Path, location: str) -> None:
    manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**manifest, "location": location}), encoding="utf-8")


def test_a_symlinked_model_file_leading_outside_is_refused(scenario, tmp_path) -> None:
    path = _vendor(scenario, tmp_path)
    outside = tmp_path / "agency" / "model.skops"
    outside.parent.mkdir()
    shutil.move(path.parent / "model.skops", outside)
    (path.parent / "model.skops").symlink_to(outside)
    with pytest.raises(AssayInputError) as info:
        load_candidate(path)
    assert str(info.value) == (
        f"{path}: field 'location': 'model.skops' leaves the candidate's folder "
        f"(through a symbolic link, to {outside})"
    )


def test_a_location_through_a_symlinked_folder_is_refused(scenario, tmp_path) -> None:
    path = _vendor(scenario, tmp_path)
    (tmp_path / "agency").mkdir()
    shutil.move(path.parent / "model.skops", tmp_path / "agency" / "model.skops")
    (path.parent / "package").symlink_to(tmp_path / "agency", target_is_directory=True)
    _locate(path, "package/model.skops")
    with pytest.raises(
        AssayInputError, match=r"field 'location': 'package/model.skops' leaves the candidate's"
    ):
        load_candidate(path)


def test_an_absolute_location_outside_is_refused(scenario, tmp_path) -> None:
    path = _vendor(scenario, tmp_path)
    shutil.move(path.parent / "model.skops", tmp_path / "model.skops")
    _locate(path, str(tmp_path / "model.skops"))
    with pytest.raises(AssayInputError, match=r"leaves the candidate's folder \(an absolute path"):
        load_candidate(path)


def test_links_and_absolute_paths_that_stay_inside_are_accepted(scenario, tmp_path) -> None:
    path = _vendor(scenario, tmp_path)
    (path.parent / "current.skops").symlink_to("model.skops")
    _locate(path, "current.skops")
    assert load_candidate(path).artifact_path == (path.parent / "model.skops").resolve()
    _locate(path, str(path.parent / "model.skops"))
    assert load_candidate(path).artifact_path == (path.parent / "model.skops").resolve()


def test_a_candidate_folder_reached_through_a_link_is_its_own_folder(scenario, tmp_path) -> None:
    path = _vendor(scenario, tmp_path)
    (tmp_path / "alias").symlink_to(path.parent, target_is_directory=True)
    assert load_candidate(tmp_path / "alias" / "candidate.yaml").sha256


# Evaluation rows (id, label) and a predictions candidate beside them.
ROWS = 200


def _evaluation(tmp_path: Path, rows: int = ROWS) -> tuple[pd.DataFrame, np.ndarray, Path]:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, rows)
    data = pd.DataFrame({"case_id": [f"c{i}" for i in range(rows)], "label": labels})
    data.to_csv(tmp_path / "eval.csv", index=False)
    return data, labels, tmp_path / "eval.csv"


def _predictions(tmp_path: Path, frame: pd.DataFrame, **columns: str) -> Path:
    folder = tmp_path / "vendor-p"
    folder.mkdir(exist_ok=True)
    frame.to_csv(folder / "preds.csv", index=False)
    manifest = {
        "id": "vendor-p", "vendor": "P", "model": "p", "version": "1", "format": "predictions",
        "location": "preds.csv", "output": {"score": "risk", "threshold": 0.5},
        "predictions": {"id_column": "case_id", **columns}, "intended_use": "test",
        "training_data": "n/a", "contact": "p@example.org",
    }  # fmt: skip
    (folder / "candidate.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return folder / "candidate.yaml"


def test_predictions_that_are_a_copy_of_the_evaluation_set_are_refused(tmp_path) -> None:
    data, labels, data_path = _evaluation(tmp_path)
    cand = load_candidate(_predictions(tmp_path, data, score_column="label"))
    with pytest.raises(
        AssayInputError, match=r"preds.csv: this predictions file is the evaluation set .*eval.csv"
    ):
        cand.outputs(data, "case_id", data_path, labels)


def test_predictions_that_are_the_evaluation_file_itself_are_refused(tmp_path) -> None:
    data, labels, _ = _evaluation(tmp_path)
    path = _predictions(tmp_path, data, score_column="label")
    cand = load_candidate(path)
    # The audit reads its data from the very file the candidate names.
    with pytest.raises(AssayInputError, match="is the evaluation set"):
        cand.outputs(data, "case_id", path.parent / "preds.csv", labels)


@pytest.mark.parametrize("column", ["score_column", "decision_column"])
def test_predictions_reproducing_every_label_are_refused_as_leakage(tmp_path, column) -> None:
    data, labels, data_path = _evaluation(tmp_path)
    preds = pd.DataFrame({"case_id": data["case_id"][::-1], "guess": labels[::-1]})  # another order
    cand = load_candidate(_predictions(tmp_path, preds, **{column: "guess"}))
    with pytest.raises(AssayInputError) as info:
        cand.outputs(data, "case_id", data_path, labels)
    assert str(info.value).startswith(
        f"{cand.artifact_path}: column 'guess' reproduces the evaluation labels exactly in all 200 rows"
    )


def test_predictions_right_on_all_but_one_row_are_kept(tmp_path) -> None:
    data, labels, data_path = _evaluation(tmp_path)
    guess = labels.astype(float)
    guess[7] = 1 - guess[7]
    cand = load_candidate(
        _predictions(tmp_path, pd.DataFrame({"case_id": data["case_id"], "s": guess}), score_column="s")
    )
    out = cand.outputs(data, "case_id", data_path, labels)
    assert (out.decisions == labels).sum() == ROWS - 1


def test_a_perfect_record_on_few_rows_is_no_leak(tmp_path) -> None:
    data, labels, data_path = _evaluation(tmp_path, rows=MIN_ROWS_FOR_LEAK - 1)
    cand = load_candidate(
        _predictions(tmp_path, pd.DataFrame({"case_id": data["case_id"], "s": labels}), score_column="s")
    )
    assert cand.outputs(data, "case_id", data_path, labels).scores.tolist() == labels.tolist()


def test_the_audit_refuses_leaked_labels_in_one_line_and_seals_nothing(tmp_path, holdout, assay_cli) -> None:
    frame = holdout.head(300)
    frame.to_csv(tmp_path / "eval.csv", index=False)
    preds = frame[["case_id", "irregularity_found"]].rename(columns={"irregularity_found": "score"})
    path = _predictions(tmp_path, preds, score_column="score")
    code, _, err = assay_cli(
        "audit", "--service", "welfare-review", "--candidate", str(path),
        "--data", str(tmp_path / "eval.csv"), "--ledger", str(tmp_path / "ledger"),
    )  # fmt: skip
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {path.parent / 'preds.csv'}: column 'score' reproduces the evaluation labels exactly in all "
        "300 rows (label leakage: no model predicts a holdout perfectly; these are its labels, not the "
        "candidate's predictions)"
    ]
    assert not (tmp_path / "ledger").exists()
