"""Which input feature each column of a fitted preprocessor comes from, so SHAP values computed on
the transformed columns can be summed back onto the inputs a vendor's model reads.

The mapping is read from the fitted transformers' own structure (never guessed from column names),
then confirmed on a probe: changing one input of the probe rows may move only the columns mapped
to it. A step whose structure is unknown is mapped by the probe alone, and a step that mixes
inputs (PCA, polynomial features, row normalisation) is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# Sources of each output column of a step: the indices of the step's inputs it depends on.
Sources = list[frozenset[int]]


class Unmappable(Exception):
    """A transformed column cannot be traced to exactly one input feature; the message says why."""


# Steps known to compute each output from several inputs: refused without probing, because a probe
# may miss the mixing (an imputer only mixes on rows with missing values).
MIXING = {
    "KNNImputer",
    "IterativeImputer",
    "Normalizer",
    "PCA",
    "IncrementalPCA",
    "KernelPCA",
    "TruncatedSVD",
    "PolynomialFeatures",
    "Nystroem",
    "RBFSampler",
}


def _name(step: Any) -> str:
    return type(step).__name__


def _one_each(n: int) -> Sources:
    return [frozenset({i}) for i in range(n)]


def _blocks(counts: Sequence[int]) -> Sources:
    """Return sources for outputs laid out input by input, `counts[i]` columns for input i."""
    return [frozenset({i}) for i, k in enumerate(counts) for _ in range(int(k))]


def _resolve(columns: Any, names_in: Sequence[str] | None, n_in: int) -> list[int]:
    """Return the input indices a ColumnTransformer entry selects (names, ints, a slice or a mask)."""
    if isinstance(columns, slice):
        if not (isinstance(columns.start, str) or isinstance(columns.stop, str)):
            return list(range(n_in))[columns]
        if names_in is None:
            raise Unmappable("a ColumnTransformer selects columns by name but recorded no input names")
        lookup = {c: i for i, c in enumerate(names_in)}
        # A slice of labels includes its stop, as in pandas.
        start = lookup[columns.start] if columns.start is not None else 0
        stop = lookup[columns.stop] + 1 if columns.stop is not None else n_in
        return list(range(start, stop))
    picked = [columns] if np.isscalar(columns) else list(columns)
    if picked and all(isinstance(c, bool | np.bool_) for c in picked):
        return [i for i, keep in enumerate(picked) if keep]
    if picked and all(isinstance(c, str) for c in picked):
        if names_in is None:
            raise Unmappable("a ColumnTransformer selects columns by name but recorded no input names")
        lookup = {c: i for i, c in enumerate(names_in)}
        return [lookup[c] for c in picked]
    return [int(c) for c in picked]


def _compose(outer: Sources, inner: Sources) -> Sources:
    """Return the sources of `outer` (a step applied to `inner`'s outputs) in terms of inner's inputs."""
    return [frozenset().union(*(inner[j] for j in cols)) if cols else frozenset() for cols in outer]


def _column_transformer(step: Any, n_in: int) -> Sources:
    names_in = getattr(step, "feature_names_in_", None)
    names_in = [str(c) for c in names_in] if names_in is not None else None
    n_out = sum(s.stop - s.start for s in step.output_indices_.values())
    out: Sources = [frozenset()] * n_out
    for name, trans, columns in step.transformers_:
        place = step.output_indices_.get(name, slice(0, 0))
        if trans == "drop" or place.stop == place.start:
            continue
        idx = _resolve(columns, names_in, n_in)
        local = _one_each(len(idx)) if trans == "passthrough" else structure(trans, len(idx))
        if len(local) != place.stop - place.start:
            raise Unmappable(f"the ColumnTransformer's part {name!r} has an unexpected number of columns")
        out[place] = [frozenset(idx[i] for i in cols) for cols in local]
    return out


def _one_hot_counts(step: Any) -> list[int]:
    counts = getattr(step, "_n_features_outs", None)
    if counts is not None:
        return [int(k) for k in counts]
    drop = getattr(step, "drop_idx_", None)
    return [
        len(c) - (1 if drop is not None and drop[i] is not None else 0)
        for i, c in enumerate(step.categories_)
    ]


def _imputer(step: Any, n_in: int) -> Sources:
    stats = np.asarray(step.statistics_, dtype=object)
    keep_empty = getattr(step, "keep_empty_features", False)
    missing = [i for i in range(n_in) if not keep_empty and _is_nan(stats[i])]
    out = [frozenset({i}) for i in range(n_in) if i not in missing]
    indicator = getattr(step, "indicator_", None)
    if indicator is not None:
        out += [frozenset({int(i)}) for i in indicator.features_]
    return out


def _is_nan(value: Any) -> bool:
    try:
        return bool(np.isnan(value))
    except TypeError:
        return False


def structure(step: Any, n_in: int) -> Sources:
    """Return the inputs each output column of a fitted step comes from, read off its structure.

    Raises Unmappable for a step known to mix inputs, and LookupError (naming the step) for a step
    whose structure is not known here; the caller then maps the preprocessor by probing.
    """
    from sklearn.base import OneToOneFeatureMixin
    from sklearn.feature_selection import SelectorMixin
    from sklearn.pipeline import FeatureUnion, Pipeline

    name = _name(step)
    if step is None or step == "passthrough":
        return _one_each(n_in)
    if name in MIXING:
        raise Unmappable(f"its step {name} computes each column from several inputs")
    if isinstance(step, Pipeline):
        sources = _one_each(n_in)
        for _, inner in step.steps:
            sources = _compose(structure(inner, len(sources)), sources)
        return sources
    if name == "ColumnTransformer":
        return _column_transformer(step, n_in)
    if isinstance(step, FeatureUnion):
        return [s for _, part in step.transformer_list if part != "drop" for s in structure(part, n_in)]
    if name == "OneHotEncoder":
        return _blocks(_one_hot_counts(step))
    if name == "TargetEncoder" and getattr(step, "target_type_", "") == "multiclass":
        return _blocks([len(step.classes_)] * n_in)
    if name == "KBinsDiscretizer" and step.encode != "ordinal":
        return _blocks(_one_hot_counts(step._encoder))
    if name == "SplineTransformer":
        return _blocks([step.n_features_out_ // n_in] * n_in)
    if name == "SimpleImputer":
        return _imputer(step, n_in)
    if name == "MissingIndicator":
        return [frozenset({int(i)}) for i in step.features_]
    if isinstance(step, SelectorMixin):
        return [frozenset({int(i)}) for i in step.get_support(indices=True)]
    if isinstance(step, OneToOneFeatureMixin) or name == "KBinsDiscretizer":
        return _one_each(n_in)
    if name == "FunctionTransformer":
        # Taken as column by column; the column count and the probe refuse one that is not.
        return _one_each(n_in)
    raise LookupError(name)


def _cells(xt: Any) -> np.ndarray:
    """Return transformed rows as an object matrix, whatever the step returned (sparse, frame)."""
    xt = xt.toarray() if hasattr(xt, "toarray") else xt
    return xt.to_numpy(dtype=object) if isinstance(xt, pd.DataFrame) else np.asarray(xt, dtype=object)


def moved_by(pre: Any, probe: pd.DataFrame) -> tuple[int, list[set[int]]]:
    """Return the number of transformed columns and, per input, those that move when it changes."""
    base = _cells(pre.transform(probe))
    base_missing = pd.isna(base)
    moved = []
    for j in range(probe.shape[1]):
        shifted = probe.copy()
        # Each row takes another probe row's value of this input: valid values the step has seen.
        shifted.iloc[:, j] = np.roll(probe.iloc[:, j].to_numpy(), 1)
        after = _cells(pre.transform(shifted))
        same = (after == base) | (pd.isna(after) & base_missing)
        moved.append(set(np.flatnonzero(~same.all(axis=0)).tolist()))
    return base.shape[1], moved


def column_inputs(pre: Any, features: list[str], probe: pd.DataFrame) -> list[str]:
    """Return the input feature each transformed column of `pre` comes from, confirmed on `probe`.

    Raises Unmappable, saying which column and inputs, when a column cannot be traced to one input.
    """
    n_out, moved = moved_by(pre, probe[features])
    try:
        sources = structure(pre, len(features))
    except LookupError as unknown:
        sources = _probed(moved, n_out, str(unknown))
    if len(sources) != n_out:
        raise Unmappable(f"its structure gives {len(sources)} columns but it outputs {n_out}")
    mixed = [c for c, s in enumerate(sources) if len(s) != 1]
    if mixed:
        c = mixed[0]
        if not sources[c]:
            raise Unmappable(f"transformed column {c} comes from no input feature")
        inputs = ", ".join(features[i] for i in sorted(sources[c]))
        raise Unmappable(f"transformed column {c} is computed from several inputs ({inputs})")
    for j, columns in enumerate(moved):
        for c in sorted(columns):
            if sources[c] != {j}:
                said = ", ".join(features[i] for i in sorted(sources[c])) or "no input"
                raise Unmappable(
                    f"transformed column {c} moves with input {features[j]!r}, but the preprocessor's "
                    f"structure traces it to {said}"
                )
    return [features[next(iter(s))] for s in sources]


def _probed(moved: list[set[int]], n_out: int, step: str) -> Sources:
    """Return sources found by probing alone, for a preprocessor with a step of unknown structure."""
    found: list[set[int]] = [set() for _ in range(n_out)]
    for j, cols in enumerate(moved):
        for c in cols:
            found[c].add(j)
    if any(not s for s in found):
        c = next(i for i, s in enumerate(found) if not s)
        raise Unmappable(
            f"its step {step} is not one whose columns can be traced, and transformed column {c} "
            "did not move with any input on the probe"
        )
    return [frozenset(s) for s in found]
