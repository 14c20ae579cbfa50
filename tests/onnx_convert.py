"""Converting scikit-learn pipelines to ONNX with skl2onnx, shared by the tests that need an ONNX vendor."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import onnx
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common import tree_ensemble

# Opsets onnxruntime 1.17 (the oldest the `onnx` extra allows) already runs.
OPSETS = {"": 17, "ai.onnx.ml": 3}


@contextlib.contextmanager
def int_missing_value_flags() -> Iterator[None]:
    """Work around skl2onnx 1.20 handing protobuf a bool where protobuf 6+ wants an int.

    When it converts HistGradientBoosting, skl2onnx passes a Python bool for a leaf's
    `nodes_missing_value_tracks_true`, which protobuf refuses ("Expected an int, got a boolean").
    Inside this block the same value goes in as an int, as the branch nodes already do.
    """
    original = tree_ensemble.add_node

    def add_node(*args: Any, nodes_missing_value_tracks_true: Any = 0, **kwargs: Any) -> Any:
        return original(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original


def pipeline_to_onnx(pipe: Any, sample: pd.DataFrame, zipmap: bool = False) -> onnx.ModelProto:
    """Convert a fitted pipeline over a DataFrame (one ONNX input per column, types from `sample`)."""
    with int_missing_value_flags():
        return to_onnx(pipe, sample.head(1), target_opset=OPSETS, options={"zipmap": zipmap})
