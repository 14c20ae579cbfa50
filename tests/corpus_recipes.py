"""Recipes that make the bad-input corpus's binary, large or derived files at test time.

A corpus case (tests/corpus/*/*.yaml) names a recipe and its arguments under `make:`; nothing
binary, pickled or large is ever committed. Each recipe writes one file.
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml


@dataclass(frozen=True)
class Good:
    """The shared valid inputs every case starts from."""

    frame: pd.DataFrame  # valid evaluation rows
    data: Path  # them as CSV
    data_parquet: Path  # them as Parquet
    candidate: Path  # a valid skops candidate.yaml (vendor-c)
    model: Path  # its model.skops


class Payload:
    """Unpickling this creates `marker`: a stand-in for whatever a hostile file would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _edit(frame: pd.DataFrame, edit: dict[str, Any]) -> pd.DataFrame:
    """Apply one edit: drop, set (all or the first `rows` rows), distinct, rename or add columns."""
    if "drop" in edit:
        return frame.drop(columns=[edit["drop"]])
    if "set" in edit:
        col, n = edit["set"], edit.get("rows", len(frame))
        frame[col] = frame[col].astype(object)  # any value fits; pandas refuses lossy writes
        frame.loc[frame.index[:n], col] = edit["value"]
        return frame
    if "distinct" in edit:
        frame[edit["distinct"]] = [f"g{i}" for i in range(len(frame))]
        return frame
    if "rename" in edit:
        return frame.rename(columns=edit["rename"])
    raise ValueError(f"unknown edit {edit}")


def table(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write good rows (some columns), edited, as CSV or Parquet; optionally tiled, re-encoded or cut."""
    frame = good.frame[args.get("columns", list(good.frame.columns))].copy()
    if "rows" in args:
        # Tile the good rows to `rows`, with ids that stay unique.
        frame = frame.iloc[np.resize(np.arange(len(frame)), args["rows"])].reset_index(drop=True)
        frame["case_id"] = [f"WR-T{i:07d}" for i in range(len(frame))]
    for edit in args.get("edits", []):
        frame = _edit(frame, edit)
    if target.suffix == ".parquet":
        frame.to_parquet(target, index=False)
    else:
        frame.to_csv(target, index=False, sep=args.get("sep", ","), encoding=args.get("encoding", "utf-8"))
    if "keep" in args:  # keep only this share of the bytes: a truncated file
        raw = target.read_bytes()
        target.write_bytes(raw[: int(len(raw) * args["keep"])])


def wide(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write a table of `columns` numeric columns and two rows."""
    names = [f"c{i}" for i in range(args["columns"])]
    if target.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        # pyarrow directly: pandas takes seconds over the metadata of 10,000 columns.
        column = pa.array([0, 0], type=pa.int8())
        pq.write_table(pa.Table.from_arrays([column] * len(names), names=names), target)
    else:
        target.write_text(",".join(names) + "\n" + ",".join("0" * len(names)) + "\n", encoding="utf-8")


def sparse(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write the good CSV's header, then extend the file to `bytes` without writing them (sparse)."""
    header = good.data.read_text(encoding="utf-8").splitlines()[0]
    target.write_text(header + "\n", encoding="utf-8")
    os.truncate(target, int(args["bytes"]))


def bomb(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write a Parquet file of `rows` rows of one repeated value: megabytes that decode to gigabytes.

    Written in row groups of the same small table, so making it takes seconds and little memory.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, group = int(args.get("rows", 300_000_000)), 10_000_000
    names = args.get("columns", ["case_id"])
    chunk = pa.table({name: pa.array(np.zeros(min(rows, group), dtype=np.int8)) for name in names})
    with pq.ParquetWriter(target, chunk.schema, compression="zstd") as writer:
        for start in range(0, rows, group):
            writer.write_table(chunk.slice(0, min(group, rows - start)), row_group_size=group)


def garbage(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write `bytes` of deterministic binary noise."""
    rng = np.random.default_rng(0)
    target.write_bytes(rng.integers(0, 256, int(args.get("bytes", 4096)), dtype=np.uint8).tobytes())


def manifest(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write the good candidate.yaml with fields set or removed (location: a copy of the good model).

    The copy sits beside the manifest: a location must not lead out of the candidate's folder.
    """
    body = yaml.safe_load(good.candidate.read_text(encoding="utf-8"))
    body["location"] = "model.skops"
    if "location" not in args.get("set", {}) and not (target.parent / "model.skops").exists():
        shutil.copyfile(good.model, target.parent / "model.skops")
    for key in args.get("unset", []):
        body.pop(key, None)
    body.update(_fill(args.get("set", {}), case))
    target.write_text(yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")


def link(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Make `target` a symbolic link to `to` (a file or a folder, anywhere)."""
    target.symlink_to(args["to"])


def _fill(value: Any, case: Path) -> Any:
    """Replace `{case}` in the strings of a loaded YAML value."""
    if isinstance(value, str):
        return value.replace("{case}", str(case))
    if isinstance(value, dict):
        return {k: _fill(v, case) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, case) for v in value]
    return value


def skops_model(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write a skops file: one naming an untrusted function, or a classifier fitted on other features."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    if args["kind"] == "untrusted":
        # Loading it would hand os.system to the pipeline: skops lists it as an untrusted type.
        model = make_pipeline(FunctionTransformer(func=os.system), LogisticRegression())
    else:
        x = pd.DataFrame({"a": [0.0, 1, 2, 3], "b": [1.0, 0, 1, 0], "c": [0.0, 0, 1, 1]})
        model = LogisticRegression().fit(x, [0, 1, 0, 1])
    sio.dump(model, target)


def tampered_tree(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write the good candidate's features fitted by a tree model whose `tree`-th Tree was edited.

    `estimator` is `tree` or `forest`; `edit` is `child` (a child index out of range), `cycle` (a
    child pointing back at the root), `feature` (a feature index out of range) or `threshold` (NaN).
    The arrays are changed inside the skops zip, as a hostile vendor would.
    """
    import io
    import json
    import zipfile

    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    features = yaml.safe_load(good.candidate.read_text(encoding="utf-8"))["input_features"]
    x, y = good.frame[features], good.frame["irregularity_found"]
    if args.get("estimator", "tree") == "forest":
        model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0)
    else:
        model = DecisionTreeClassifier(max_depth=4, random_state=0)
    sio.dump(model.fit(x, y), target)
    with zipfile.ZipFile(target) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    trees: list[str] = []

    def find(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("__class__") == "Tree" and node.get("__module__") == "sklearn.tree._tree":
                trees.append(node["content"]["content"]["nodes"]["file"])
            for value in node.values():
                find(value)
        elif isinstance(node, list):
            for value in node:
                find(value)

    find(json.loads(members["schema.json"]))
    name = trees[int(args.get("tree", 0))]
    nodes = np.load(io.BytesIO(members[name]), allow_pickle=False)
    inner = int(np.flatnonzero(nodes["left_child"] != -1)[-1])  # the last split node
    edit = args["edit"]
    if edit == "child":
        nodes["left_child"][inner] = int(args.get("child", 99_999))
    elif edit == "cycle":
        nodes["right_child"][inner] = 0
    elif edit == "feature":
        nodes["feature"][inner] = int(args.get("feature", 4_000_000))
    elif edit == "threshold":
        nodes["threshold"][inner] = np.nan
    else:
        raise ValueError(f"unknown edit {edit}")
    buffer = io.BytesIO()
    np.save(buffer, nodes, allow_pickle=False)
    members[name] = buffer.getvalue()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, raw in members.items():
            zf.writestr(member, raw)


def cut(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write the first `keep` share of the good model's bytes: a truncated model file."""
    raw = good.model.read_bytes()
    target.write_bytes(raw[: int(len(raw) * args.get("keep", 0.5))])


def onnx_model(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write an ONNX model: one calling a custom operator, or one taking a matrix of `width` columns."""
    from onnx import TensorProto, helper

    width = int(args.get("width", 8))
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, width])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, width])
    opsets = [helper.make_opsetid("", 17)]
    if args["kind"] == "custom_op":
        node = helper.make_node("Evil", ["X"], ["Y"], domain="com.example")
        opsets.append(helper.make_opsetid("com.example", 1))
    else:
        node = helper.make_node("Identity", ["X"], ["Y"])
    graph = helper.make_graph([node], "corpus", [x], [y])
    target.write_bytes(helper.make_model(graph, opset_imports=opsets, ir_version=8).SerializeToString())


def pickled(target: Path, args: dict[str, Any], good: Good, case: Path) -> None:
    """Write a pickle whose loading would create `{case}/<marker>`."""
    target.write_bytes(pickle.dumps(Payload(case / args.get("marker", "pwned"))))


RECIPES: dict[str, Callable[[Path, dict[str, Any], Good, Path], None]] = {
    "table": table,
    "wide": wide,
    "sparse": sparse,
    "bomb": bomb,
    "garbage": garbage,
    "manifest": manifest,
    "link": link,
    "skops": skops_model,
    "tampered_tree": tampered_tree,
    "cut": cut,
    "onnx": onnx_model,
    "pickle": pickled,
}
