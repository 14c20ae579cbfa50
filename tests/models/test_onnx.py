"""ONNX intake: scores equal scikit-learn's, custom operators and malformed files are refused."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest
import yaml
from onnx import TensorProto, helper
from onnx_convert import OPSETS, pipeline_to_onnx
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from assay.checks.context import ModelAccess
from assay.checks.errors import AssayInputError
from assay.models.candidate import load_candidate

MIXED = ["channel", "region", "income", "children"]
NUMERIC = ["income", "children", "debt"]


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    """Return 4,000 seeded rows of strings, floats and integers with a string outcome."""
    rng = np.random.default_rng(11)
    n = 4000
    frame = pd.DataFrame(
        {
            "channel": rng.choice(["online", "office", "phone"], n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "income": rng.normal(3.0, 1.0, n),
            "children": rng.integers(0, 5, n),
            "debt": rng.gamma(2.0, 1.5, n),
        }
    )
    logit = (
        0.9 * (frame["channel"] == "online")
        - 0.6 * frame["income"]
        + 0.35 * frame["children"]
        + 0.5 * (frame["region"] == "east")
        + 0.2 * frame["debt"]
    )
    # "review" sorts before "skip": the positive class is the first column, not the second.
    frame["outcome"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "review", "skip")
    return frame


def _manifest(folder: Path, features: list[str], positive: Any = "review", **extra: Any) -> Path:
    """Write a candidate.yaml for `folder/model.onnx` and return its path."""
    body = {
        "id": "vendor-x",
        "vendor": "X",
        "model": "x",
        "version": "1",
        "format": "onnx",
        "location": "model.onnx",
        "input_features": features,
        "output": {"positive_class": positive, "score": "risk", "threshold": 0.5},
        "intended_use": "test",
        "training_data": "synthetic",
        "contact": "x@example.org",
        **extra,
    }
    path = folder / "candidate.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def _mixed_pipeline(kind: str, train: pd.DataFrame) -> Pipeline:
    """Fit one-hot and ordinal encoding of the strings plus a linear model or a forest."""
    encode = ColumnTransformer(
        [
            ("onehot", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
            ("ordinal", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["region"]),
        ],
        remainder="passthrough",
    )
    model = (
        LogisticRegression(max_iter=1000)
        if kind == "logistic"
        else RandomForestClassifier(n_estimators=40, max_depth=7, random_state=0)
    )
    return Pipeline([("encode", encode), ("model", model)]).fit(train[MIXED], train["outcome"])


def _convert(pipe: Pipeline, sample: pd.DataFrame, zipmap: bool) -> onnx.ModelProto:
    """Convert a pipeline over a DataFrame: one input per column, floats as float32."""
    # skl2onnx's ZipMap takes float probabilities only, so float64 columns become float inputs.
    sample = sample.astype({c: np.float32 for c in sample.columns if sample[c].dtype == np.float64})
    return pipeline_to_onnx(pipe, sample, zipmap)


@pytest.mark.parametrize(
    ("kind", "zipmap"), [("logistic", True), ("logistic", False), ("forest", True), ("forest", False)]
)
def test_onnx_scores_equal_scikit_learns(mixed, tmp_path, kind, zipmap) -> None:
    train, held_out = mixed.iloc[:3000], mixed.iloc[3000:]
    pipe = _mixed_pipeline(kind, train)
    (tmp_path / "model.onnx").write_bytes(_convert(pipe, train[MIXED].head(1), zipmap).SerializeToString())
    cand = load_candidate(_manifest(tmp_path, MIXED))

    assert isinstance(cand.access, ModelAccess) and cand.access.native() is None
    column = list(pipe.classes_).index("review")
    expected = pipe.predict_proba(held_out[MIXED])[:, column]
    scores = cand.access.predict_scores(held_out)
    assert np.abs(scores - expected).max() < 1e-5
    out = cand.outputs(held_out, "id", Path("eval.csv"))
    assert out.decisions.tolist() == (scores >= 0.5).astype(int).tolist()
    assert cand.sha256 == hashlib.sha256((tmp_path / "model.onnx").read_bytes()).hexdigest()
    assert not cand.pickle_trusted


def test_session_is_cpu_only_and_single_threaded(mixed, tmp_path) -> None:
    pipe = _mixed_pipeline("logistic", mixed)
    (tmp_path / "model.onnx").write_bytes(_convert(pipe, mixed[MIXED].head(1), False).SerializeToString())
    session = load_candidate(_manifest(tmp_path, MIXED)).access._session
    assert session.get_providers() == ["CPUExecutionProvider"]
    options = session.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)


def test_one_float_matrix_input_follows_the_manifests_order(mixed, tmp_path) -> None:
    train, held_out = mixed.iloc[:3000], mixed.iloc[3000:]
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(train[NUMERIC], train["outcome"])
    model = to_onnx(
        pipe,
        initial_types=[("float_input", FloatTensorType([None, len(NUMERIC)]))],
        target_opset=OPSETS,
        options={"zipmap": False},
    )
    (tmp_path / "model.onnx").write_bytes(model.SerializeToString())
    cand = load_candidate(_manifest(tmp_path, NUMERIC))
    # The evaluation set's column order differs from the model's; the manifest's order rules.
    scores = cand.access.predict_scores(held_out[["debt", "children", "income"]])
    assert np.abs(scores - pipe.predict_proba(held_out[NUMERIC])[:, 0]).max() < 1e-5


def test_demo_vendor_c_converts_and_scores_alike(scenario, holdout, tmp_path) -> None:
    shutil.copytree(scenario / "candidates" / "vendor-c", tmp_path / "skops")
    skops = load_candidate(tmp_path / "skops" / "candidate.yaml")
    features = skops.manifest.input_features
    model = pipeline_to_onnx(skops.access.native(), holdout[features])
    (tmp_path / "model.onnx").write_bytes(model.SerializeToString())
    cand = load_candidate(_manifest(tmp_path, features, positive=1))
    rows = holdout.head(20_000)
    diff = np.abs(cand.access.predict_scores(rows) - skops.access.predict_scores(rows))
    assert diff.max() < 1e-5


def _tiny_model(node: onnx.NodeProto, extra_opsets: dict[str, int] | None = None) -> onnx.ModelProto:
    """Return a model X[N, 2] → Y[N, 2] around `node` (which reads X and writes Y)."""
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
    )
    opsets = [helper.make_opsetid("", 17)]
    opsets += [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    return helper.make_model(graph, opset_imports=opsets)


def _nested_custom_op() -> onnx.ModelProto:
    """Return a model whose custom operator hides in a branch of an If."""
    custom = helper.make_node("Exfiltrate", ["X"], ["Z"], domain="com.vendor.secret")
    branch = helper.make_graph(
        [custom], "then", [], [helper.make_tensor_value_info("Z", TensorProto.FLOAT, [None, 2])]
    )
    plain = helper.make_graph(
        [helper.make_node("Identity", ["X"], ["W"])],
        "else",
        [],
        [helper.make_tensor_value_info("W", TensorProto.FLOAT, [None, 2])],
    )
    flag = helper.make_tensor("flag", TensorProto.BOOL, [], [True])
    cond = helper.make_node("Constant", [], ["C"], value=flag)
    branch_node = helper.make_node("If", ["C"], ["Y"], then_branch=branch, else_branch=plain)
    graph = helper.make_graph(
        [cond, branch_node],
        "nested",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.vendor.secret", 1)]
    return helper.make_model(graph, opset_imports=opsets)


@pytest.mark.parametrize("where", ["top", "nested"])
def test_custom_operator_is_refused_before_a_session(tmp_path, monkeypatch, where) -> None:
    if where == "top":
        node = helper.make_node("Backdoor", ["X"], ["Y"], domain="com.vendor.secret")
        model, op = _tiny_model(node, {"com.vendor.secret": 1}), "Backdoor"
    else:
        model, op = _nested_custom_op(), "Exfiltrate"
    (tmp_path / "model.onnx").write_bytes(model.SerializeToString())

    def no_session(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a session was created for a refused model")

    monkeypatch.setattr(onnxruntime, "InferenceSession", no_session)
    with pytest.raises(AssayInputError) as info:
        load_candidate(_manifest(tmp_path, ["a", "b"]))
    message = str(info.value)
    assert f"model.onnx: refusing custom operator '{op}' in domain 'com.vendor.secret'" in message
    assert "\n" not in message


@pytest.mark.parametrize("content", [b"", b"not an onnx model\n\x00\xff\xfe garbage", b"PK\x03\x04zip"])
def test_unreadable_onnx_file_is_one_line(tmp_path, content) -> None:
    (tmp_path / "model.onnx").write_bytes(content)
    with pytest.raises(AssayInputError, match=r"model\.onnx: not a readable ONNX model") as info:
        load_candidate(_manifest(tmp_path, ["a", "b"]))
    assert "\n" not in str(info.value)


def test_manifest_missing_an_input_is_refused(mixed, tmp_path) -> None:
    pipe = _mixed_pipeline("logistic", mixed)
    (tmp_path / "model.onnx").write_bytes(_convert(pipe, mixed[MIXED].head(1), True).SerializeToString())
    with pytest.raises(AssayInputError) as info:
        load_candidate(_manifest(tmp_path, ["channel", "income", "children"]))
    assert str(info.value) == (
        f"{tmp_path / 'candidate.yaml'}: field 'input_features' does not list 'region', an input of the model"
    )


def _softmax_model() -> onnx.ModelProto:
    """Return a model with a bare probability tensor: nothing in it names the classes."""
    weights = helper.make_tensor("W", TensorProto.FLOAT, [2, 2], [1.0, -1.0, -0.5, 0.5])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["L"]), helper.make_node("Softmax", ["L"], ["Y"])],
        "softmax",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])],
        initializer=[weights],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_bare_probabilities_need_the_manifests_classes(tmp_path) -> None:
    (tmp_path / "model.onnx").write_bytes(_softmax_model().SerializeToString())
    with pytest.raises(AssayInputError, match=r"field 'onnx.classes': the model does not say"):
        load_candidate(_manifest(tmp_path, ["a", "b"], positive=1))
    with pytest.raises(AssayInputError, match=r"has shape \[None, 2\] \(expected \[N, 3\]"):
        load_candidate(_manifest(tmp_path, ["a", "b"], positive=1, onnx={"classes": [0, 1, 2]}))
    with pytest.raises(AssayInputError, match=r"field 'output.positive_class': .* do not include 'yes'"):
        load_candidate(_manifest(tmp_path, ["a", "b"], positive="yes", onnx={"classes": [0, 1]}))

    cand = load_candidate(_manifest(tmp_path, ["a", "b"], positive=1, onnx={"classes": [0, 1]}))
    data = pd.DataFrame({"b": [0.0, 2.0], "a": [1.0, -1.0]})
    logits = data[["a", "b"]].to_numpy() @ np.array([[1.0, -1.0], [-0.5, 0.5]])
    expected = np.exp(logits[:, 1]) / np.exp(logits).sum(axis=1)
    assert np.abs(cand.access.predict_scores(data) - expected).max() < 1e-6


def test_declared_classes_must_agree_with_the_model(mixed, tmp_path) -> None:
    pipe = _mixed_pipeline("logistic", mixed)
    (tmp_path / "model.onnx").write_bytes(_convert(pipe, mixed[MIXED].head(1), False).SerializeToString())
    with pytest.raises(AssayInputError, match=r"field 'onnx.classes': \['skip', 'review'\] disagrees"):
        load_candidate(_manifest(tmp_path, MIXED, onnx={"classes": ["skip", "review"]}))


def test_onnx_section_only_for_onnx_candidates(tmp_path) -> None:
    path = _manifest(tmp_path, ["a"], onnx={"classes": [0, 1]})
    body = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**body, "format": "skops"}))
    with pytest.raises(AssayInputError, match=r"field 'onnx': an 'onnx' section is for format onnx"):
        load_candidate(path)


def test_missing_onnxruntime_names_the_extra(tmp_path, monkeypatch) -> None:
    (tmp_path / "model.onnx").write_bytes(_softmax_model().SerializeToString())
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(AssayInputError, match=r"need onnxruntime: install the `onnx` extra"):
        load_candidate(_manifest(tmp_path, ["a", "b"], onnx={"classes": [0, 1]}))
