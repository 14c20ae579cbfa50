"""ONNX candidates: standard operators only, scored by onnxruntime on the CPU as a black box."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.checks.errors import AssayInputError
from assay.models.manifest import CandidateManifest

# The operator sets of the ONNX standard. Anything else needs an operator library outside the file
# (code the audit would have to run and could not fingerprint), so it is refused.
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})

# onnxruntime's input element types → the numpy dtype each input is fed as.
INPUT_DTYPES: dict[str, Any] = {
    "tensor(string)": object,
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}
# Outputs skl2onnx and other converters name for class probabilities, preferred when there are several.
PROBABILITY_NAMES = ("output_probability", "probabilities", "probability")
# Attributes of ai.onnx.ml classifier operators (and ZipMap) that carry the class labels in order.
CLASS_ATTRIBUTES = ("classlabels_ints", "classlabels_int64s", "classlabels_strings")


@dataclass(frozen=True)
class _Input:
    """One model input and how to fill it from the evaluation data."""

    name: str
    dtype: Any
    columns: list[str]  # one column, or the whole feature matrix in `input_features` order
    rank: int


def _import_onnx(path: Path) -> tuple[Any, Any]:
    """Import onnx and onnxruntime only when an ONNX candidate is loaded."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise AssayInputError(
            f"{path}: ONNX candidates need {exc.name}: install the `onnx` extra (pip install 'assay[onnx]')"
        ) from None
    return onnx, onnxruntime


def _subgraphs(onnx: Any, attr: Any) -> list[Any]:
    """Return the graphs an attribute holds (the branches and bodies of If, Loop and Scan)."""
    if attr.type == onnx.AttributeProto.GRAPH:
        return [attr.g]
    return list(attr.graphs) if attr.type == onnx.AttributeProto.GRAPHS else []


def _walk(onnx: Any, nodes: Any) -> Iterator[Any]:
    """Yield the nodes and every node of their subgraphs."""
    for node in nodes:
        yield node
        for attr in node.attribute:
            for sub in _subgraphs(onnx, attr):
                yield from _walk(onnx, sub.node)


def _nodes(onnx: Any, model: Any) -> Iterator[Any]:
    """Yield every node of the model: main graph, subgraphs and the bodies of its local functions."""
    yield from _walk(onnx, model.graph.node)
    for function in model.functions:
        yield from _walk(onnx, function.node)


def _tensors(onnx: Any, model: Any) -> Iterator[Any]:
    """Yield every stored tensor: initializers of all graphs and constants in attributes."""
    yield from model.graph.initializer
    for node in _nodes(onnx, model):
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                yield attr.t
            for sub in _subgraphs(onnx, attr):
                yield from sub.initializer


def _refuse_unsafe(onnx: Any, model: Any, path: Path) -> None:
    """Refuse custom operators and weights kept outside the file."""
    # A call to a function defined in the file itself is fine: its body is checked like the graph.
    local = {(f.domain, f.name) for f in model.functions}
    for node in _nodes(onnx, model):
        if node.domain not in STANDARD_DOMAINS and (node.domain, node.op_type) not in local:
            raise AssayInputError(
                f"{path}: refusing custom operator {node.op_type!r} in domain {node.domain!r} "
                "(only the standard domains '', 'ai.onnx' and 'ai.onnx.ml' are allowed)"
            )
    # Weights in side files would escape the model's SHA-256, which covers this one file.
    for tensor in _tensors(onnx, model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise AssayInputError(
                f"{path}: tensor {tensor.name!r} keeps its data in an external file "
                "(need one self-contained .onnx file)"
            )


def _graph_classes(onnx: Any, model: Any) -> list[Any] | None:
    """Return the class labels the model's classifier operators declare, if they agree on one list."""
    found: set[tuple[Any, ...]] = set()
    for node in _nodes(onnx, model):
        if node.domain != "ai.onnx.ml":
            continue
        for attr in node.attribute:
            if attr.name in CLASS_ATTRIBUTES:
                labels = attr.ints if attr.ints else [s.decode() for s in attr.strings]
                found.add(tuple(labels))
    return list(found.pop()) if len(found) == 1 else None


class OnnxModel:
    """An ONNX classifier scored by onnxruntime; a black box to the explainers (no native estimator)."""

    def __init__(
        self,
        session: Any,
        features: list[str],
        inputs: list[_Input],
        output: str,
        positive_class: Any,
        column: int | None,
    ) -> None:
        self._session = session
        self.features = list(features)
        self._inputs = inputs
        self._output = output
        self._positive = str(positive_class)
        self._column = column  # None: the output is a ZipMap, read by the positive class's key

    def _feeds(self, data: pd.DataFrame) -> dict[str, np.ndarray]:
        """Return the model's inputs built from the evaluation rows."""
        feeds = {}
        for spec in self._inputs:
            # One column is read as a Series: selecting a frame costs a millisecond a call, and the
            # permutation explainer makes thousands of small calls.
            frame = data[spec.columns[0]] if len(spec.columns) == 1 else data[spec.columns]
            if spec.dtype is object:
                # onnxruntime wants Python str objects; missing values become the text 'nan'.
                value = frame.astype(str).to_numpy(dtype=object)
            else:
                value = frame.to_numpy(dtype=spec.dtype)
            feeds[spec.name] = value.reshape(len(data)) if spec.rank == 1 else value.reshape(len(data), -1)
        return feeds

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        """Return the probability of the positive class for each row."""
        if len(data) == 0:
            return np.zeros(0)
        (probs,) = self._session.run([self._output], self._feeds(data))
        if self._column is not None:
            return np.asarray(probs, dtype=np.float64)[:, self._column]
        keys = {str(k): k for k in probs[0]}
        if self._positive not in keys:
            raise ValueError(f"the model's classes {sorted(keys)} do not include {self._positive!r}")
        key = keys[self._positive]
        return np.fromiter((row[key] for row in probs), dtype=np.float64, count=len(probs))

    def native(self) -> None:
        """Return None: the explainers treat an ONNX model as a black box."""
        return None


def _session(onnxruntime: Any, raw: bytes, path: Path) -> Any:
    """Create a CPU-only, single-threaded inference session (Prefect runs checks in threads)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: warnings would break the CLI's one-line errors
    try:
        return onnxruntime.InferenceSession(raw, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AssayInputError(f"{path}: onnxruntime cannot load the model ({first})") from None


def _inputs(session: Any, features: list[str], path: Path, manifest_path: Path) -> list[_Input]:
    """Match the model's inputs to the manifest's input features."""
    inputs = session.get_inputs()
    for node in inputs:
        if node.type not in INPUT_DTYPES:
            raise AssayInputError(f"{path}: input {node.name!r} has unsupported type {node.type}")
    missing = [node.name for node in inputs if node.name not in features]
    if not missing:
        # One input per column (skl2onnx's shape for a DataFrame): [N, 1] or [N].
        specs = []
        for node in inputs:
            if len(node.shape) not in (1, 2) or (len(node.shape) == 2 and node.shape[1] not in (1, None)):
                raise AssayInputError(
                    f"{path}: input {node.name!r} has shape {node.shape} (expected [N, 1] for one column)"
                )
            specs.append(_Input(node.name, INPUT_DTYPES[node.type], [node.name], len(node.shape)))
        return specs
    only = inputs[0]
    if len(inputs) == 1 and len(only.shape) == 2 and INPUT_DTYPES[only.type] is not object:
        # One numeric matrix whose columns are the input features in the manifest's order.
        width = only.shape[1]
        if isinstance(width, int) and width != len(features):
            raise AssayInputError(
                f"{manifest_path}: field 'input_features' lists {len(features)} features but the "
                f"model's input {only.name!r} takes {width} columns"
            )
        return [_Input(only.name, INPUT_DTYPES[only.type], list(features), 2)]
    raise AssayInputError(
        f"{manifest_path}: field 'input_features' does not list {missing[0]!r}, an input of the model"
    )


def _holds_probabilities(kind: str) -> bool:
    """Say whether an output of this onnxruntime type can hold class probabilities."""
    return kind.startswith("seq(map(") or kind in ("tensor(float)", "tensor(double)")


def _probability_output(session: Any, manifest: CandidateManifest, manifest_path: Path) -> Any:
    """Return the output holding class probabilities (a tensor [N, classes] or a ZipMap)."""
    outputs = session.get_outputs()
    named = manifest.onnx.probability_output if manifest.onnx else None
    if named is not None:
        found = [o for o in outputs if o.name == named]
        if not found:
            names = ", ".join(o.name for o in outputs)
            raise AssayInputError(
                f"{manifest_path}: field 'onnx.probability_output': the model has no output "
                f"{named!r} (it has {names})"
            )
        chosen = found[0]
    else:
        usable = [o for o in outputs if _holds_probabilities(o.type)]
        if len(usable) > 1:
            usable = [o for o in usable if o.name in PROBABILITY_NAMES]
        if len(usable) != 1:
            names = ", ".join(o.name for o in outputs)
            raise AssayInputError(
                f"{manifest_path}: field 'onnx.probability_output': name the output that holds the "
                f"class probabilities (the model's outputs: {names})"
            )
        chosen = usable[0]
    if not _holds_probabilities(chosen.type):
        raise AssayInputError(
            f"{manifest_path}: field 'onnx.probability_output': output {chosen.name!r} is {chosen.type} "
            "(expected a float tensor [N, classes] or a sequence of maps)"
        )
    return chosen


def load_onnx(path: Path, raw: bytes, manifest: CandidateManifest, manifest_path: Path) -> OnnxModel:
    """Check an ONNX file's operators, open it with onnxruntime and find its positive-class score."""
    onnx, onnxruntime = _import_onnx(path)
    try:
        model = onnx.load_model_from_string(raw)
    except Exception:
        model = None
    if model is None or not model.graph.node or not model.graph.output:
        raise AssayInputError(f"{path}: not a readable ONNX model")
    _refuse_unsafe(onnx, model, path)
    session = _session(onnxruntime, raw, path)
    features = list(manifest.input_features)
    inputs = _inputs(session, features, path, manifest_path)
    output = _probability_output(session, manifest, manifest_path)
    positive = manifest.output.positive_class
    declared = manifest.onnx.classes if manifest.onnx else None
    graph = _graph_classes(onnx, model)
    if declared is not None and graph is not None and [str(c) for c in declared] != [str(c) for c in graph]:
        raise AssayInputError(
            f"{manifest_path}: field 'onnx.classes': {declared} disagrees with the model's classes {graph}"
        )
    classes = declared if declared is not None else graph
    if classes is None and output.type.startswith("seq(map("):
        # A ZipMap's keys are the classes: they are checked on the first scores.
        return OnnxModel(session, features, inputs, output.name, positive, None)
    if classes is None:
        raise AssayInputError(
            f"{manifest_path}: field 'onnx.classes': the model does not say which class each column of "
            f"{output.name!r} is; list them in column order"
        )
    names = [str(c) for c in classes]
    if str(positive) not in names:
        raise AssayInputError(
            f"{manifest_path}: field 'output.positive_class': the model's classes {names} do not include "
            f"{positive!r}"
        )
    if output.type.startswith("seq(map("):
        return OnnxModel(session, features, inputs, output.name, positive, None)
    width = output.shape[1] if len(output.shape) == 2 else None
    if len(output.shape) != 2 or (isinstance(width, int) and width != len(names)):
        raise AssayInputError(
            f"{path}: output {output.name!r} has shape {output.shape} (expected [N, {len(names)}], "
            "one column per class)"
        )
    return OnnxModel(session, features, inputs, output.name, positive, names.index(str(positive)))
