"""Integrity of the fitted trees inside a loaded model, checked before the model scores a row.

scikit-learn's tree code (C, without bounds checks) follows a tree's child and feature indices
as stored: a file that sets them out of range crashes the process or reads memory it does not
own, and a cycle never ends. skops loads such arrays as they are, so every tree is checked here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from assay.checks.errors import AssayInputError

# Attributes of the estimators that give their parts other columns than their own input: a
# pipeline's steps, a union's or column transformer's parts, a stack's final estimator.
RESETS = ("steps", "transformer_list", "transformers_", "final_estimator_")


def check_trees(model: Any, width: int) -> None:
    """Raise AssayInputError if any tree inside `model` is malformed, naming the tree and the fault.

    `width` is the number of columns the model is given to score.
    """
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    found = list(_walk(model, width))
    trees = [(obj, owner, cols) for obj, owner, cols in found if isinstance(obj, Tree | TreePredictor)]
    for number, (tree, owner, cols) in enumerate(trees, start=1):
        fault = _tree_fault(tree, owner, cols) if isinstance(tree, Tree) else _predictor_fault(tree, cols)
        if fault:
            raise AssayInputError(
                f"tree {number} of {len(trees)} in {type(model).__name__!r} is malformed: {fault}"
            )
    for obj, _, _ in found:
        fault = _stages_fault(obj)
        if fault:
            raise AssayInputError(f"{type(obj).__name__!r} in the model is malformed: {fault}")


def _resets(obj: Any) -> bool:
    """Say whether `obj` hands its parts other columns than its own input (pipeline, union, stack)."""
    return any(hasattr(obj, name) for name in RESETS)


def _walk(root: Any, width: int | None) -> Iterator[tuple[Any, Any, int | None]]:
    """Yield every object in the graph of `root`, with the estimator holding it and the columns it sees.

    The columns are the fewest any estimator on the way declares (`n_features_in_`): scikit-learn
    checks a row's width at the outermost of them, then hands the row on unchecked. Below a
    pipeline, union or stack each part declares its own; a part that declares none gives None.
    """
    seen: set[int] = set()
    # No depth limit: a tree nested deeper than any limit would go unchecked; `seen` ends cycles.
    stack: list[tuple[Any, Any, int | None]] = [(root, None, width)]
    while stack:
        obj, owner, cols = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj, owner, cols
        children: list[Any]
        if isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, list | tuple):
            children = list(obj)
        elif isinstance(obj, np.ndarray):
            children = list(obj.ravel()) if obj.dtype == object else []
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            children = list(vars(obj).values())
            if hasattr(obj, "get_params"):
                owner = obj
                declared = getattr(obj, "n_features_in_", None)
                if not isinstance(declared, int | np.integer):
                    cols = None
                elif cols is not None:
                    cols = min(cols, int(declared))
                if _resets(obj):
                    # Each part declares its own width, and is left None when it does not.
                    cols = 1 << 62
        else:
            continue
        # Reversed, so that trees are numbered in the order the model holds them.
        stack.extend((child, owner, cols) for child in reversed(children))


def _structure_fault(left: np.ndarray, right: np.ndarray, internal: np.ndarray) -> str | None:
    """Say how child links fail to form one tree rooted at node 0, if they do.

    Every internal node's children must come after it (as scikit-learn builds them) and every
    node but the root must be the child of exactly one node: then no walk can loop or stray.
    """
    n = len(left)
    for child in (left, right):
        bad = np.flatnonzero(internal & ((child < 0) | (child >= n)))
        if len(bad):
            node = int(bad[0])
            return f"node {node} has child {int(child[node])} outside 0..{n - 1}"
        bad = np.flatnonzero(internal & (child <= np.arange(n)))
        if len(bad):
            node = int(bad[0])
            return f"node {node} has child {int(child[node])}, which does not come after it (a cycle)"
    parents = np.bincount(np.concatenate([left[internal], right[internal]]), minlength=n)
    shared = np.flatnonzero(parents[1:] != 1)
    if len(shared):
        node = int(shared[0]) + 1
        return f"node {node} is the child of {int(parents[node])} nodes (expected exactly one)"
    return None


def _tree_fault(tree: Any, owner: Any, width: int | None) -> str | None:
    """Say what is wrong with a scikit-learn Tree, if anything."""
    n = int(tree.node_count)
    if n < 1:
        return "it has no nodes"
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    if len(left) != n or len(right) != n:
        return f"its node arrays do not hold node_count={n} nodes"
    internal = left != -1
    half = np.flatnonzero(internal != (right != -1))
    if len(half):
        return f"node {int(half[0])} has one child (expected two, or none for a leaf)"
    fault = _structure_fault(left, right, internal)
    if fault:
        return fault
    fault = _feature_fault(np.asarray(tree.feature), internal, int(tree.n_features), width)
    if fault:
        return fault
    # A split on missing values alone has an infinite threshold; NaN compares false every way.
    nan = np.flatnonzero(internal & np.isnan(np.asarray(tree.threshold)))
    if len(nan):
        return f"node {int(nan[0])} has threshold NaN"
    value = np.asarray(tree.value)
    expected = (n, int(tree.n_outputs), int(np.max(tree.n_classes)))
    if value.shape != expected:
        return f"its values have shape {value.shape}, expected {expected}"
    if not np.isfinite(value).all():
        return "its leaf values are not all finite"
    classes = getattr(owner, "classes_", None)
    one_output = classes is not None and int(tree.n_outputs) == 1 and np.ndim(classes) == 1
    if one_output and int(tree.n_classes[0]) != len(classes):
        return f"it has {int(tree.n_classes[0])} classes, its estimator {len(classes)}"
    return None


def _feature_fault(
    feature: np.ndarray, internal: np.ndarray, n_features: int, width: int | None
) -> str | None:
    """Say which split reads a column the model's rows do not have, if one does."""
    if width is None:
        return "its estimator does not declare how many input columns it takes (n_features_in_)"
    limit = min(n_features, width)
    bad = np.flatnonzero(internal & ((feature < 0) | (feature >= limit)))
    if len(bad):
        node = int(bad[0])
        return f"node {node} splits on feature {int(feature[node])} outside 0..{limit - 1}"
    return None


def _predictor_fault(predictor: Any, width: int | None) -> str | None:
    """Say what is wrong with a histogram gradient boosting tree, if anything."""
    nodes = np.asarray(predictor.nodes)
    if len(nodes) < 1:
        return "it has no nodes"
    internal = nodes["is_leaf"] == 0
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    fault = _structure_fault(left, right, internal)
    if fault:
        return fault
    feature = nodes["feature_idx"].astype(np.int64)
    fault = _feature_fault(feature, internal, width if width is not None else 0, width)
    if fault:
        return fault
    if np.isnan(nodes["num_threshold"][internal]).any():
        node = int(np.flatnonzero(internal & np.isnan(nodes["num_threshold"]))[0])
        return f"node {node} has threshold NaN"
    sets = len(np.asarray(predictor.raw_left_cat_bitsets))
    categorical = internal & (nodes["is_categorical"] != 0)
    bad = np.flatnonzero(categorical & (nodes["bitset_idx"].astype(np.int64) >= sets))
    if len(bad):
        node = int(bad[0])
        return f"node {node} names category set {int(nodes['bitset_idx'][node])} of {sets}"
    return None


def _stages_fault(obj: Any) -> str | None:
    """Say where a gradient boosting model's grid of trees does not fit its outputs, if it does not."""
    stages = getattr(obj, "estimators_", None)
    per_iteration = getattr(obj, "n_trees_per_iteration_", None)
    grid = isinstance(stages, np.ndarray) and stages.ndim == 2 and per_iteration is not None
    if grid and stages.shape[1] != int(per_iteration):
        return f"its trees form {stages.shape[1]} columns, expected {int(per_iteration)}"
    return None
