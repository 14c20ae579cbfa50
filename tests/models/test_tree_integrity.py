"""Fitted trees are checked before they score: a tampered tree is refused in one line, not a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from corpus_recipes import Good, tampered_tree
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import make_column_transformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    StackingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from assay.checks.errors import AssayInputError
from assay.models.candidate import load_candidate
from assay.models.trees import _walk, check_trees

FEATURES = ["household_size", "children", "income_decile", "months_employed_24"]
ASSAY = str(Path(sys.executable).parent / "assay")


@pytest.fixture(scope="module")
def good(holdout: pd.DataFrame, scenario: Path, tmp_path_factory) -> Good:
    """A valid skops candidate and 300 evaluation rows, as the corpus recipes expect them."""
    base = tmp_path_factory.mktemp("trees-good")
    frame = holdout.head(300).reset_index(drop=True)
    frame.to_csv(base / "eval.csv", index=False)
    model = LogisticRegression(max_iter=1000).fit(frame[FEATURES], frame["irregularity_found"])
    sio.dump(model, base / "model.skops")
    manifest = yaml.safe_load((scenario / "candidates" / "vendor-c" / "candidate.yaml").read_text())
    manifest.update(location="model.skops", input_features=FEATURES)
    (base / "candidate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return Good(
        frame, base / "eval.csv", base / "eval.parquet", base / "candidate.yaml", base / "model.skops"
    )


def _tampered(good: Good, folder: Path, **args) -> Path:
    """Write a candidate whose model.skops was made by the `tampered_tree` recipe with `args`."""
    folder.mkdir()
    tampered_tree(folder / "model.skops", args, good, folder)
    manifest = yaml.safe_load(good.candidate.read_text(encoding="utf-8"))
    (folder / "candidate.yaml").write_text(yaml.safe_dump({**manifest, "location": "model.skops"}))
    return folder / "candidate.yaml"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"edit": "child"}, r"node \d+ has child 99999 outside 0\.\.\d+"),
        ({"edit": "cycle"}, r"node \d+ has child 0, which does not come after it \(a cycle\)"),
        ({"edit": "feature"}, r"node \d+ splits on feature 4000000 outside 0\.\.3"),
        # One past the last column the rows have: the tree's own n_features alone would allow it.
        ({"edit": "feature", "feature": 4}, r"node \d+ splits on feature 4 outside 0\.\.3"),
        ({"edit": "threshold"}, r"node \d+ has threshold NaN"),
        (
            {"edit": "child", "estimator": "forest", "tree": 2},
            r"tree 3 of 5 in 'RandomForestClassifier' is malformed: node \d+ has child 99999",
        ),
    ],
    ids=["child", "cycle", "feature", "feature-one-past", "nan-threshold", "forest"],
)
def test_a_tampered_tree_is_refused_naming_the_file_and_the_node(good, tmp_path, args, expected) -> None:
    path = _tampered(good, tmp_path / "vendor", **args)
    with pytest.raises(AssayInputError, match=expected) as info:
        load_candidate(path)
    message = str(info.value)
    assert message.startswith(f"{path.parent / 'model.skops'}: tree ")
    assert "\n" not in message


def _edit_tree(tree, **fields) -> None:
    """Change fields of a fitted Tree's first split node in place, as a tampered file would."""
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    for name, value in fields.items():
        nodes[name][0] = value
    tree.__setstate__({**state, "nodes": nodes})


def test_members_of_a_forest_cannot_claim_more_columns_than_the_forest_checks() -> None:
    # The forest checks a row's width against its own n_features_in_, then hands rows to its trees
    # unchecked: a tree that claims (and splits on) a wider row must be refused.
    x = np.random.default_rng(0).normal(size=(200, 4))
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, x[:, 0] > 0)
    member = forest.estimators_[1]
    member.n_features_in_ = 50
    _edit_tree(member.tree_, feature=30)
    with pytest.raises(AssayInputError, match=r"tree 2 of 3 .* splits on feature 30 outside 0\.\.3"):
        check_trees(forest, 4)


def test_a_tree_nested_deep_inside_the_model_is_still_checked() -> None:
    # A depth limit on the walk would let a tampered tree hide below it.
    x = np.random.default_rng(0).normal(size=(200, 4))
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, x[:, 0] > 0)
    _edit_tree(tree.tree_, left_child=99999)
    model = make_pipeline(tree)
    for _ in range(40):
        model = make_pipeline(model)
    with pytest.raises(AssayInputError, match=r"has child 99999"):
        check_trees(model, 4)


def test_a_forest_that_does_not_declare_its_width_is_refused() -> None:
    x = np.random.default_rng(0).normal(size=(200, 4))
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(x, x[:, 0] > 0)
    del forest.n_features_in_  # scikit-learn then checks no row's width before the trees read it
    with pytest.raises(AssayInputError, match=r"does not declare how many input columns"):
        check_trees(forest, 4)


def test_a_split_on_missing_values_alone_is_no_fault() -> None:
    # scikit-learn stores such a split with an infinite threshold: it must not be refused.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    x[:200, 1] = np.nan
    tree = DecisionTreeClassifier(random_state=0).fit(x, np.isnan(x[:, 1]))
    assert np.isinf(tree.tree_.threshold).any()
    check_trees(tree, 3)


MODELS = [
    "tree", "forest", "extra-trees", "gradient-boosting", "hist-gradient-boosting", "pipeline-one-hot",
    "calibrated", "stacked-passthrough",
]  # fmt: skip


@pytest.fixture(scope="module")
def fitted_models() -> dict[str, tuple[object, int]]:
    """Well-formed tree models of every shape the walk must see through, with their input width."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] + rng.normal(size=300) > 0).astype(int)
    with_category = np.c_[x[:, :3], rng.integers(0, 5, 300)]
    return {
        "tree": (DecisionTreeClassifier(max_depth=6).fit(x, y), 4),
        "forest": (RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y), 4),
        "extra-trees": (ExtraTreesClassifier(n_estimators=5, random_state=0).fit(x, y), 4),
        "gradient-boosting": (GradientBoostingClassifier(n_estimators=5).fit(x, rng.integers(0, 3, 300)), 4),
        "hist-gradient-boosting": (
            HistGradientBoostingClassifier(max_iter=5, categorical_features=[3]).fit(with_category, y),
            4,
        ),
        "pipeline-one-hot": (
            make_pipeline(
                make_column_transformer((OneHotEncoder(), [3]), remainder="passthrough"),
                RandomForestClassifier(n_estimators=3, random_state=0),
            ).fit(with_category, y),
            4,
        ),
        "calibrated": (CalibratedClassifierCV(RandomForestClassifier(n_estimators=3), cv=2).fit(x, y), 4),
        "stacked-passthrough": (
            StackingClassifier(
                [("forest", RandomForestClassifier(n_estimators=3))],
                final_estimator=DecisionTreeClassifier(),
                passthrough=True,
            ).fit(x, y),
            4,
        ),
    }


def test_the_walk_finds_every_tree(fitted_models) -> None:
    from sklearn.tree._tree import Tree

    forest = fitted_models["forest"][0]
    found = [obj for obj, _, _ in _walk(forest, 4) if isinstance(obj, Tree)]
    assert found == [member.tree_ for member in forest.estimators_]
    pipeline = fitted_models["pipeline-one-hot"][0]
    widths = {cols for obj, _, cols in _walk(pipeline, 4) if isinstance(obj, Tree)}
    assert widths == {8}  # the one-hot columns the forest sees, not the pipeline's 4 inputs


@pytest.mark.parametrize("name", MODELS)
def test_well_formed_tree_models_pass(fitted_models, name) -> None:
    assert set(fitted_models) == set(MODELS)
    model, width = fitted_models[name]
    check_trees(model, width)


def test_well_formed_forest_in_skops_loads_and_scores(good, tmp_path) -> None:
    folder = tmp_path / "vendor"
    folder.mkdir()
    forest = RandomForestClassifier(n_estimators=5, random_state=0)
    sio.dump(forest.fit(good.frame[FEATURES], good.frame["irregularity_found"]), folder / "model.skops")
    manifest = yaml.safe_load(good.candidate.read_text(encoding="utf-8"))
    (folder / "candidate.yaml").write_text(yaml.safe_dump(manifest))
    out = load_candidate(folder / "candidate.yaml").outputs(good.frame, "case_id", good.data)
    assert out.scores is not None and len(out.scores) == len(good.frame)


@pytest.mark.e2e
def test_the_real_command_refuses_a_crashing_tree_in_one_line(good, tmp_path, session_env) -> None:
    # Before the check this process died of SIGSEGV (exit -11), with no message, and left its
    # Prefect server running.
    path = _tampered(good, tmp_path / "vendor", edit="child")
    ledger = tmp_path / "ledger"
    proc = subprocess.run(
        [ASSAY, "audit", "--service", "welfare-review", "--candidate", str(path), "--data", str(good.data),
         "--ledger", str(ledger)],
        capture_output=True, text=True, timeout=300, env={**os.environ, **session_env},
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "model.skops: tree 1 of 1 in 'DecisionTreeClassifier' is malformed" in lines[0]
    assert not ledger.exists()
