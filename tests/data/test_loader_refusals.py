"""Inputs the loaders used to accept silently (issue 20, items 13-14), and ids read as written.

Each mistake must end in one AssayInputError line naming the file and the field or column; ids
are compared as the text the files give, so "0" and "00" are two ids and "007" is not "7".
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from assay.checks.errors import AssayInputError
from assay.data import loaders
from assay.models.candidate import load_candidate

PROFILE = yaml.safe_load((loaders.SERVICES_DIR / "welfare-review.yaml").read_text(encoding="utf-8"))
PROFILE.pop("contract")
NATIONALITY = 1  # the index of the nationality attribute in the shipped profile


def _refused(call: Any, *args: Any) -> str:
    """Return the one-line message `call` refuses with."""
    with pytest.raises(AssayInputError) as caught:
        call(*args)
    text = str(caught.value)
    assert "\n" not in text, text
    return text


def _profile(tmp_path: Path, change: Any) -> Path:
    body = copy.deepcopy(PROFILE)
    change(body)
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


# --- a key given twice, in any YAML input ---------------------------------------------------


def test_a_key_given_twice_is_refused_naming_the_key_and_both_lines(tmp_path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(
        "id: p\nclauses:\n  - check: c\n    max: 0.3\n    why: w\n    max: 0.9\n", encoding="utf-8"
    )
    text = _refused(loaders.load_yaml, path)
    assert text == f"{path}: key 'max' given twice (lines 4 and 6); give each key once"


def test_a_key_given_twice_in_a_flow_mapping_is_refused(tmp_path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("policy: p\nanswers: {a: 1, a: 2}\n", encoding="utf-8")
    assert "key 'a' given twice (lines 2 and 2)" in _refused(loaders.load_yaml, path)


def test_a_threshold_overridden_twice_in_a_pack_is_not_sealed_as_the_last(tmp_path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text(
        "id: agency-pack\nversion: '1'\nextends: kr-public-service\ntitle: {ko: 기관, en: Agency}\n"
        "overrides:\n  - clause: KR-AGENCY-PARITY\n    check: fairness.group_metrics\n"
        "    metric: equalized_odds_difference\n    max: 0.3\n    max: 0.9\n",
        encoding="utf-8",
    )
    text = _refused(loaders.load_policy, str(path))
    assert text.startswith(str(path)) and "key 'max' given twice (lines 9 and 10)" in text


def test_merge_keys_may_still_override_what_they_merge(tmp_path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  x: 3\n", encoding="utf-8")
    assert loaders.load_yaml(path)["child"] == {"x": 3, "y": 2}


def test_every_shipped_yaml_file_gives_each_key_once() -> None:
    shipped = [*loaders.POLICIES_DIR.glob("*.yaml"), *loaders.SERVICES_DIR.glob("*.yaml")]
    shipped += [*(loaders.SERVICES_DIR.parent / "contracts").glob("*.yaml")]
    assert len(shipped) >= 5
    for path in shipped:
        loaders.load_yaml(path)


# --- population shares and sensitive attributes --------------------------------------------


@pytest.mark.parametrize(
    ("share", "message"),
    [
        (float("nan"), "Input should be a finite number"),
        (float("inf"), "Input should be a finite number"),
        (-0.07, "Input should be greater than or equal to 0"),
        (1.5, "Input should be less than or equal to 1"),
    ],
    ids=["nan", "inf", "negative", "above-one"],
)
def test_population_shares_must_be_proportions(tmp_path, share, message) -> None:
    def change(body: dict) -> None:
        body["sensitive_attributes"][NATIONALITY]["population_shares"]["foreign_resident"] = share

    path = _profile(tmp_path, change)
    text = _refused(loaders.load_profile, str(path))
    field = f"sensitive_attributes.{NATIONALITY}.population_shares.foreign_resident"
    assert text.startswith(f"{path}: field '{field}': {message}"), text


def test_the_same_attribute_listed_twice_is_refused(tmp_path) -> None:
    path = _profile(
        tmp_path, lambda body: body["sensitive_attributes"].append({"name": "sex", "column": "sex"})
    )
    text = _refused(loaders.load_profile, str(path))
    assert text == (
        f"{path}: field 'sensitive_attributes.4.name': 'sex' is listed twice "
        "(also sensitive_attributes.0); list each attribute once"
    )


def test_one_column_grouped_the_same_way_under_two_names_is_refused(tmp_path) -> None:
    path = _profile(
        tmp_path, lambda body: body["sensitive_attributes"].append({"name": "gender", "column": "sex"})
    )
    text = _refused(loaders.load_profile, str(path))
    assert text.startswith(f"{path}: field 'sensitive_attributes.4.column': column 'sex' is already")


def test_one_column_binned_two_ways_is_two_attributes(tmp_path) -> None:
    def change(body: dict) -> None:
        body["sensitive_attributes"].append(
            {"name": "age_halves", "column": "age", "bins": [0, 50, 200], "labels": ["<50", "50+"]}
        )

    profile, _ = loaders.load_profile(str(_profile(tmp_path, change)))
    assert [a.name for a in profile.sensitive_attributes][-2:] == ["age_band", "age_halves"]


# --- a real group named like the group of empty cells --------------------------------------


def _rows(**columns: list) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"case_id": [f"C{i}" for i in range(n)], "irregularity_found": [i % 2 for i in range(n)]}
    base.update(sex=["female"] * n, nationality=["korean"] * n, disability=["no"] * n, age=[40] * n)
    base.update(columns)
    return pd.DataFrame(base)


@pytest.fixture(scope="module")
def profile():
    return loaders.load_profile("welfare-review")[0]


def test_a_group_called_missing_beside_empty_cells_is_refused(profile, tmp_path) -> None:
    data = _rows(nationality=["korean", "missing", None, "korean"])
    path = tmp_path / "eval.csv"
    text = _refused(loaders.check_sensitive, data, profile, path)
    assert text.startswith(
        f"{path}: column 'nationality' (sensitive attribute 'nationality') has empty cells"
    )
    assert "the value 'missing', the group name given to empty cells" in text


def test_a_bin_labelled_missing_beside_values_outside_every_bin_is_refused(profile, tmp_path) -> None:
    binned = profile.model_copy(
        update={
            "sensitive_attributes": [
                profile.attribute("age_band").model_copy(
                    update={"labels": ["19-34", "35-49", "missing", "65+"]}
                )
            ]
        }
    )
    path = tmp_path / "eval.csv"
    text = _refused(loaders.check_sensitive, _rows(age=[40, 55, 250, 30]), binned, path)
    assert "has empty cells or values outside every bin and a bin labelled 'missing'" in text


def test_a_group_called_missing_without_empty_cells_is_a_group(profile, tmp_path) -> None:
    data = _rows(nationality=["korean", "missing", "korean", "missing"])
    loaders.check_sensitive(data, profile, tmp_path / "eval.csv")
    assert profile.sensitive_frame(data)["nationality"].tolist() == ["korean", "missing", "korean", "missing"]


def test_empty_cells_alone_form_the_missing_group(profile, tmp_path) -> None:
    data = _rows(nationality=["korean", None, "korean", "naturalized"])
    loaders.check_sensitive(data, profile, tmp_path / "eval.csv")
    assert profile.sensitive_frame(data)["nationality"].tolist() == [
        "korean",
        "missing",
        "korean",
        "naturalized",
    ]


# --- ids are read as written -----------------------------------------------------------------


def _csv(path: Path, ids: list[str], **columns: list) -> Path:
    lines = [",".join(["case_id", *columns])]
    lines += [",".join([i, *(str(v[k]) for v in columns.values())]) for k, i in enumerate(ids)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ids_0_and_00_are_two_ids(profile, tmp_path) -> None:
    path = _csv(tmp_path / "eval.csv", ["0", "00", "7", "007"], x=[1, 2, 3, 4])
    data = loaders.read_table(path, text_columns=["case_id"])
    loaders.check_ids(data, profile, path)
    assert data["case_id"].tolist() == ["0", "00", "7", "007"]


def test_ids_that_repeat_as_written_are_still_refused(profile, tmp_path) -> None:
    path = _csv(tmp_path / "eval.csv", ["7", "8", "7"], x=[1, 2, 3])
    data = loaders.read_table(path, text_columns=["case_id"])
    assert "has 1 repeated ids (first: '7')" in _refused(loaders.check_ids, data, profile, path)


def _predictions_candidate(folder: Path, ids: list[str]) -> Path:
    _csv(folder / "preds.csv", ids, score=[0.1 * (k % 10) for k in range(len(ids))])
    manifest = {
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
    path = folder / "candidate.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return path


def test_numeric_csv_ids_join_numeric_prediction_ids(tmp_path) -> None:
    data_path = _csv(tmp_path / "eval.csv", ["3", "7", "12"], x=[1, 2, 3])
    data = loaders.read_table(data_path, text_columns=["case_id"])
    candidate = load_candidate(_predictions_candidate(tmp_path, ["12", "3", "7"]))
    outputs = candidate.outputs(data, "case_id", data_path)
    assert outputs.scores is not None and outputs.scores.tolist() == pytest.approx([0.1, 0.2, 0.0])


def test_integer_parquet_ids_join_csv_prediction_ids(tmp_path) -> None:
    data_path = tmp_path / "eval.parquet"
    pd.DataFrame({"case_id": [3, 7, 12], "x": [1, 2, 3]}).to_parquet(data_path, index=False)
    data = loaders.read_table(data_path, text_columns=["case_id"])
    candidate = load_candidate(_predictions_candidate(tmp_path, ["12", "3", "7"]))
    outputs = candidate.outputs(data, "case_id", data_path)
    assert outputs.scores is not None and outputs.scores.tolist() == pytest.approx([0.1, 0.2, 0.0])


def test_prediction_id_007_does_not_join_evaluation_id_7(tmp_path) -> None:
    data_path = _csv(tmp_path / "eval.csv", ["3", "7"], x=[1, 2])
    data = loaders.read_table(data_path, text_columns=["case_id"])
    candidate = load_candidate(_predictions_candidate(tmp_path, ["3", "007"]))
    text = _refused(candidate.outputs, data, "case_id", data_path)
    assert (
        "ids do not join" in text
        and "1 evaluation rows have no prediction, 1 predictions match no row" in text
    )


def _age_band(body: dict) -> dict:
    return next(a for a in body["sensitive_attributes"] if a["name"] == "age_band")


def test_a_nan_bin_edge_is_refused(tmp_path) -> None:
    # NaN compares false with every edge, so an order check alone would let it through.
    path = _profile(tmp_path, lambda body: _age_band(body)["bins"].__setitem__(1, float("nan")))
    text = _refused(loaders.load_profile, str(path))
    assert "'bins' must be numbers, not NaN" in text and text.startswith(f"{path}: field"), text


def test_an_open_ended_last_bin_is_allowed(tmp_path) -> None:
    path = _profile(tmp_path, lambda body: _age_band(body)["bins"].__setitem__(-1, float("inf")))
    profile, _ = loaders.load_profile(str(path))
    (age_band,) = (a for a in profile.sensitive_attributes if a.name == "age_band")
    assert age_band.bins is not None and age_band.bins[-1] == float("inf")
