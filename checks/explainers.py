"""Choosing an explainer for what a candidate offers, and computing its SHAP values chunk by chunk.

Every explainer returns contributions per *input* feature (columns a pipeline expanded, such as
one-hot codes, are summed back onto their input) on the scale it names, with the base value and
the model output they must add up to. An explainer object is picklable, so its chunks can run in
other processes or on other machines.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.checks.context import ModelAccess
from assay.checks.feature_map import Unmappable, column_inputs
from assay.checks.permutation import evaluations, pairs_for, permutation_values

LOG_ODDS = "log-odds"
PROBABILITY = "probability"
# Audited scores are probabilities; the explained output must reproduce them this closely.
OUTPUT_TOLERANCE = 1e-6
# Native contributions are used only where they agree with shap's TreeExplainer this closely.
NATIVE_TOLERANCE = 1e-6
PROBE_ROWS = 256
# Rounding steps of float32 that XGBoost's sums of contributions may drift from its margin.
FLOAT32_ROUNDINGS = 16
ChunkMap = Callable[[Callable[[pd.DataFrame], "Attribution"], Sequence[pd.DataFrame]], list["Attribution"]]


@dataclass(frozen=True)
class Attribution:
    """SHAP values of some rows: contributions per input feature, base value, explained output."""

    values: np.ndarray  # rows × input features
    base: float
    output: np.ndarray  # the model output the contributions explain, on the explainer's scale

    def additivity_error(self) -> float:
        """Return the largest |base + sum of contributions - output| over the rows."""
        if len(self.output) == 0:
            return 0.0
        return float(np.max(np.abs(self.base + self.values.sum(axis=1) - self.output)))


def concat(parts: Sequence[Attribution]) -> Attribution:
    """Join the attributions of consecutive chunks."""
    return Attribution(
        values=np.concatenate([p.values for p in parts]),
        base=parts[0].base,
        output=np.concatenate([p.output for p in parts]),
    )


def _split_pipeline(
    native: Any, features: list[str], probe: pd.DataFrame
) -> tuple[Any, Any, list[str]] | str:
    """Return (preprocessor or None, final estimator, input feature of each column), or why not."""
    from sklearn.pipeline import Pipeline

    if not isinstance(native, Pipeline):
        return None, native, list(features)
    pre, final = native[:-1], native[-1]
    try:
        return pre, final, column_inputs(pre, features, probe)
    except Unmappable as exc:
        return f"the pipeline's transformed columns cannot be traced to its inputs: {exc}"
    except Exception as exc:  # a step that cannot transform the probe
        return f"the pipeline's preprocessing failed on the probe rows ({type(exc).__name__}: {exc})"


def _family(est: Any) -> str:
    """Return 'lightgbm', 'xgboost', 'catboost', 'tree', 'linear' or 'other' for a fitted estimator."""
    name = type(est).__module__ + "." + type(est).__name__
    for library in ("lightgbm", "xgboost", "catboost"):
        if name.startswith(library + "."):
            return library
    if any(key in name for key in ("sklearn.ensemble", "sklearn.tree")):
        return "tree"
    if linear_parts(est) is not None:
        return "linear"
    return "other"


def linear_parts(est: Any) -> tuple[np.ndarray, float] | None:
    """Return (coefficients, intercept) of a binary classifier whose log-odds are linear, else None.

    Logistic-type models (log-odds = decision function) and a linear model calibrated by one sigmoid
    (`CalibratedClassifierCV(method="sigmoid", ensemble=False)`, or a prefit estimator) qualify;
    isotonic calibration or an average of several calibrated copies does not.
    """
    if type(est).__name__ == "CalibratedClassifierCV":
        fitted = getattr(est, "calibrated_classifiers_", [])
        if est.method != "sigmoid" or len(fitted) != 1 or len(fitted[0].calibrators) != 1:
            return None
        inner = _plain_linear(fitted[0].estimator)
        if inner is None:
            return None
        coef, intercept = inner
        sigmoid = fitted[0].calibrators[0]
        # sklearn's sigmoid calibration: P(positive) = 1 / (1 + exp(a·f + b)).
        return -sigmoid.a_ * coef, float(-sigmoid.a_ * intercept - sigmoid.b_)
    if not hasattr(est, "predict_proba"):
        return None
    return _plain_linear(est)


def _plain_linear(est: Any) -> tuple[np.ndarray, float] | None:
    coef, intercept = getattr(est, "coef_", None), getattr(est, "intercept_", None)
    if coef is None or intercept is None or not hasattr(est, "decision_function"):
        return None
    coef, intercept = np.asarray(coef, dtype=float), np.asarray(intercept, dtype=float).ravel()
    if coef.ndim != 2 or coef.shape[0] != 1 or intercept.shape != (1,):
        return None  # multiclass: one score per class, not one log-odds
    return coef[0], float(intercept[0])


def _positive_slice(values: np.ndarray, base: np.ndarray, column: int) -> tuple[np.ndarray, float]:
    """Keep the positive class's slice when an explainer returns one per class."""
    if values.ndim == 3:
        return values[..., column], float(base.ravel()[column])
    return values, float(base.ravel()[0])


def dense(xt: Any) -> np.ndarray:
    """Return transformed rows as a float matrix (sparse densified, pandas categories as codes)."""
    xt = xt.toarray() if hasattr(xt, "toarray") else xt
    if isinstance(xt, pd.DataFrame):
        xt = xt.apply(lambda c: c.cat.codes if isinstance(c.dtype, pd.CategoricalDtype) else c)
    return np.asarray(xt, dtype=float)


@dataclass
class Explainer:
    """A way to compute SHAP values for a candidate, chosen by `choose_explainer`."""

    kind: str  # tree | native | linear | permutation
    name: str
    features: list[str]
    scale: str
    note: str
    model: Any = None  # ModelAccess (permutation) or the final estimator
    pre: Any = None
    col_feature: list[str] = field(default_factory=list)
    background: Any = None
    linear: tuple[np.ndarray, float] | None = None
    sign: float = 1.0
    class_column: int = -1
    max_evals: int = 0
    seed: int = 0
    fallback: str = ""  # why no exact explainer was used, for the permutation explainer
    _cache: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = None  # shap explainers are rebuilt where the chunk runs
        return state

    def _transform(self, x: pd.DataFrame) -> Any:
        """Return the rows as the final estimator reads them (a frame stays a frame)."""
        xt = self.pre.transform(x[self.features]) if self.pre is not None else x[self.features]
        return xt.toarray() if hasattr(xt, "toarray") else xt

    def _to_inputs(self, col_values: np.ndarray) -> np.ndarray:
        """Sum the transformed columns an input was expanded into back onto that input."""
        if self.col_feature == self.features:
            return col_values
        index = {f: i for i, f in enumerate(self.features)}
        out = np.zeros((col_values.shape[0], len(self.features)))
        np.add.at(out.T, [index[f] for f in self.col_feature], col_values.T)
        return out

    def attribute(self, x: pd.DataFrame) -> Attribution:
        """Return the SHAP values of the rows of `x`."""
        if self.kind == "permutation":
            return self._permutation(x)
        xt = self._transform(x)
        values, base = self._native(xt) if self.kind == "native" else self._shap(dense(xt))
        output = self._margin(xt)
        s = self.sign
        return Attribution(s * self._to_inputs(values), s * base, s * output)

    def _margin(self, xt: Any) -> np.ndarray:
        est = self.model
        if self.linear is not None:
            coef, intercept = self.linear
            return dense(xt) @ coef + intercept
        if self.scale == LOG_ODDS:
            family = _family(est)
            if self.kind == "native" and family == "lightgbm":
                return np.asarray(est.predict(xt, raw_score=True), dtype=float)
            if self.kind == "native" and family == "catboost":
                return np.asarray(est.predict(xt, prediction_type="RawFormulaVal"), dtype=float)
            if self.kind == "native":
                return np.asarray(est.predict(xt, output_margin=True), dtype=float)
            if hasattr(est, "decision_function"):
                return np.asarray(est.decision_function(xt), dtype=float)
            return np.asarray(est.predict(xt), dtype=float)  # a regressor fitted on log-odds
        return np.asarray(est.predict_proba(xt), dtype=float)[:, self.class_column]

    def _native(self, xt: Any) -> tuple[np.ndarray, float]:
        family = _family(self.model)
        if family == "lightgbm":
            contrib = np.asarray(self.model.predict(xt, pred_contrib=True), dtype=float)
        elif family == "catboost":
            contrib = np.asarray(
                self.model.get_feature_importance(_catboost_pool(self.model, xt), type="ShapValues")
            )
        else:
            import xgboost

            booster = self.model.get_booster()
            matrix = xgboost.DMatrix(xt, enable_categorical=True)
            contrib = np.asarray(booster.predict(matrix, pred_contribs=True), dtype=float)
        return contrib[:, :-1], float(contrib[0, -1]) if len(contrib) else 0.0

    def _shap(self, xt: np.ndarray) -> tuple[np.ndarray, float]:
        import shap

        if self._cache is None:
            if self.kind == "linear":
                masker = shap.maskers.Independent(self.background, max_samples=len(self.background))
                self._cache = shap.LinearExplainer(self.linear, masker)
            else:
                self._cache = shap.TreeExplainer(self.model)
        values = np.asarray(self._cache.shap_values(xt), dtype=float)
        base = np.asarray(self._cache.expected_value, dtype=float)
        if self.kind == "linear":
            return values, float(base.ravel()[-1])
        return _positive_slice(values, base, self.class_column)

    def _permutation(self, x: pd.DataFrame) -> Attribution:
        pairs = pairs_for(self.max_evals, len(self.features))
        # Each row's feature orders come from the audit seed and the row's label, so its values do
        # not depend on how rows are chunked or which process runs them.
        seeds = [(self.seed, _row_key(label)) for label in x.index]
        if isinstance(self.background, TransformedBackground):
            rows = dense(self.pre.transform(x[self.features]))
            f, bg, inputs = self._final_logit, self.background.codes, self.background.inputs
        else:
            rows, f, bg, inputs = (
                self.background.encode(x[self.features]),
                self._logit,
                self.background.codes,
                None,
            )
        values, base = permutation_values(f, rows, bg, pairs, seeds, len(self.features), inputs)
        return Attribution(values, base, f(rows))

    def _final_logit(self, xt: np.ndarray) -> np.ndarray:
        return _logit(np.asarray(self.model.predict_proba(xt), dtype=float)[:, self.class_column])

    def _logit(self, codes: np.ndarray) -> np.ndarray:
        return _logit(np.asarray(self.model.predict_scores(self.background.decode(codes)), dtype=float))


def _logit(scores: np.ndarray) -> np.ndarray:
    """Return the log-odds of probabilities, kept finite at 0 and 1."""
    scores = np.clip(scores, 1e-12, 1 - 1e-12)
    return np.log(scores) - np.log1p(-scores)


def _catboost_pool(model: Any, xt: Any) -> Any:
    """Return CatBoost's Pool of the rows, with the model's categorical features marked."""
    import catboost

    return catboost.Pool(xt, cat_features=model.get_cat_feature_indices())


@dataclass
class TransformedBackground:
    """Background rows as the final estimator reads them, with the input each column comes from."""

    codes: np.ndarray
    inputs: np.ndarray


@dataclass
class Background:
    """A seeded background sample for the permutation explainer, with inputs coded as numbers."""

    features: list[str]
    codes: np.ndarray
    categories: dict[str, list[Any]]
    dtypes: dict[str, Any]

    @classmethod
    def sample(cls, data: pd.DataFrame, features: list[str], rows: int, seed: int) -> Background:
        """Draw `rows` rows of `data` at random (seeded) and code its categorical inputs."""
        rng = np.random.default_rng(seed)
        take = np.sort(rng.choice(len(data), size=min(rows, len(data)), replace=False))
        categories = {
            f: sorted(data[f].dropna().unique().tolist(), key=str)
            for f in features
            if not pd.api.types.is_numeric_dtype(data[f]) or pd.api.types.is_bool_dtype(data[f])
        }
        bg = cls(features, np.empty((0, len(features))), categories, {f: data[f].dtype for f in features})
        bg.codes = bg.encode(data.iloc[take][features])
        return bg

    def encode(self, x: pd.DataFrame) -> np.ndarray:
        """Return the rows as a float matrix: categories by their index, numbers as they are."""
        cols = []
        for f in self.features:
            if f in self.categories:
                lookup = {v: i for i, v in enumerate(self.categories[f])}
                cols.append(x[f].map(lookup).to_numpy(dtype=float, na_value=np.nan))
            else:
                cols.append(x[f].to_numpy(dtype=float, na_value=np.nan))
        return np.column_stack(cols) if cols else np.empty((len(x), 0))

    def decode(self, codes: np.ndarray) -> pd.DataFrame:
        """Return coded rows as a frame the model accepts."""
        out = {}
        for j, f in enumerate(self.features):
            col = codes[:, j]
            if f in self.categories:
                cats = np.array(self.categories[f] + [None], dtype=object)
                idx = np.where(np.isnan(col), len(self.categories[f]), col).astype(int)
                out[f] = pd.Series(cats[idx]).astype(self.dtypes[f])
            else:
                out[f] = pd.Series(col).astype(self.dtypes[f]) if np.isfinite(col).all() else col
        return pd.DataFrame(out)


def _row_key(label: Any) -> int:
    """Return a stable non-negative integer for a row label (its value, or a hash of its text)."""
    if isinstance(label, int | np.integer) and label >= 0:
        return int(label)
    return int.from_bytes(hashlib.sha256(str(label).encode()).digest()[:8], "little")


def _positive_column(model: ModelAccess, final: Any) -> int:
    """Return the index of the positive class among the estimator's classes (last by default)."""
    column = getattr(model, "positive_column", None)
    if column is not None:
        return int(column)
    return len(getattr(final, "classes_", [0, 1])) - 1


def _orient(explainer: Explainer, probe: pd.DataFrame, scores: np.ndarray) -> str | None:
    """Set the explainer's sign so its output reproduces the probe's audited scores; say why if not."""
    from threadpoolctl import threadpool_limits

    # A few hundred rows: OpenMP threads only contend for busy cores (60x slower under load).
    with threadpool_limits(1):
        att = explainer.attribute(probe)
    if att.additivity_error() > additivity_tolerance(explainer, att):
        # The contributions must add up to the model's own output, or they explain another model
        # (shap reading categorical splits as numeric thresholds, for one).
        off = att.additivity_error()
        return f"{explainer.name}'s values do not add up to the model's output (off by {off:.3g})"
    explained = 1.0 / (1.0 + np.exp(-att.output)) if explainer.scale == LOG_ODDS else att.output
    if np.allclose(explained, scores, atol=OUTPUT_TOLERANCE, rtol=0):
        return None
    if explainer.scale == LOG_ODDS and np.allclose(1.0 - explained, scores, atol=OUTPUT_TOLERANCE, rtol=0):
        explainer.sign = -1.0  # the estimator's margin is for the other class
        return None
    worst = float(np.max(np.abs(explained - scores)))
    return f"{explainer.name}'s output differs from the audited scores by up to {worst:.3g}"


def additivity_tolerance(explainer: Explainer, att: Attribution) -> float:
    """Return how far an explainer's values may miss the model's output and still be exact.

    XGBoost computes its margin and contributions in float32, so their sums part by float32
    rounding (about 1e-6 on a margin of a few units): its tolerance is that rounding, every other
    explainer's is OUTPUT_TOLERANCE.
    """
    if explainer.kind != "native" or _family(explainer.model) != "xgboost" or len(att.output) == 0:
        return OUTPUT_TOLERANCE
    magnitude = float(np.max(np.abs(att.values).sum(axis=1) + abs(att.base)))
    return max(OUTPUT_TOLERANCE, FLOAT32_ROUNDINGS * float(np.finfo(np.float32).eps) * magnitude)


def _exact_fails(explainer: Explainer, probe: pd.DataFrame, scores: np.ndarray) -> str | None:
    """Say why an exact explainer cannot stand for this model; None if it adds up and matches the scores.

    shap refuses some estimators it cannot read (e.g. AdaBoost, stacking, pandas categories);
    those fall back to the permutation explainer instead of losing the explanation.
    """
    try:
        return _orient(explainer, probe, scores)
    except Exception as exc:
        return f"{explainer.name} cannot read {type(explainer.model).__name__} ({type(exc).__name__}: {exc})"


def _native_fails(explainer: Explainer, probe: pd.DataFrame) -> tuple[str | None, str]:
    """Return (why the library's own contributions cannot be used or None, how they were checked)."""
    try:
        native = explainer.attribute(probe)
    except Exception as exc:
        return f"the library's contributions failed ({type(exc).__name__}: {exc})", ""
    try:
        exact = Explainer(**{**explainer.__dict__, "kind": "tree", "_cache": None}).attribute(probe)
    except Exception:
        exact = None
    if exact is None or exact.additivity_error() > OUTPUT_TOLERANCE:
        # shap cannot read the model (it raises, or misreads XGBoost's categorical splits so its
        # values miss the model's output): the library's own TreeSHAP stands, gated like every
        # explainer by adding up and reproducing the audited scores.
        return None, "shap.TreeExplainer cannot read this model, so it stands on its own"
    if not np.allclose(native.values, exact.values, atol=NATIVE_TOLERANCE, rtol=0):
        worst = float(np.max(np.abs(native.values - exact.values)))
        return f"the library's contributions differ from shap.TreeExplainer's by up to {worst:.3g}", ""
    return None, "checked against shap.TreeExplainer"


def _exact_candidate(
    model: ModelAccess,
    data: pd.DataFrame,
    probe: pd.DataFrame,
    scores: np.ndarray,
    split: tuple[Any, Any, list[str]],
    seed: int,
    background_rows: int,
) -> Explainer | str:
    """Return the exact explainer the candidate's model allows, or why there is none."""
    features = list(model.features)
    pre, final, col_feature = split
    family = _family(final)
    common = {"features": features, "model": final, "pre": pre, "col_feature": col_feature}
    common["class_column"] = _positive_column(model, final)
    refused: list[str] = []
    if family in ("lightgbm", "xgboost", "catboost"):
        chosen = Explainer(
            kind="native",
            name=f"{family} native contributions (TreeSHAP)",
            scale=LOG_ODDS,
            note="exact TreeSHAP computed by the library itself",
            **common,
        )
        why, checked = _native_fails(chosen, probe)
        chosen.note += f"; {checked}" if checked else ""
        why = why or _exact_fails(chosen, probe, scores)
        if why is None:
            return chosen
        refused.append(why)
    if family in ("lightgbm", "xgboost", "catboost", "tree"):
        margin = hasattr(final, "decision_function") or not hasattr(final, "predict_proba")
        chosen = Explainer(
            kind="tree",
            name="shap.TreeExplainer",
            scale=LOG_ODDS if margin or family != "tree" else PROBABILITY,
            note="exact TreeSHAP (path-dependent: the trees' own cover is the background)",
            **common,
        )
    elif family == "linear":
        rng = np.random.default_rng(seed)
        take = rng.choice(len(data), size=min(background_rows * 10, len(data)), replace=False)
        rows = data.iloc[np.sort(take)][features]
        chosen = Explainer(
            kind="linear",
            name="shap.LinearExplainer",
            scale=LOG_ODDS,
            note=f"exact for a model linear in the log-odds; feature means from {len(take)} seeded rows",
            background=dense(pre.transform(rows) if pre is not None else rows),
            linear=linear_parts(final),
            **common,
        )
    else:
        return "; ".join([*refused, f"no exact explainer reads {type(final).__name__}"])
    why = _exact_fails(chosen, probe, scores)
    return chosen if why is None else "; ".join([*refused, why])


def choose_explainer(
    model: ModelAccess, data: pd.DataFrame, seed: int, background_rows: int, max_evals: int
) -> Explainer:
    """Pick the exact explainer the candidate allows (tree, linear, native), else permutation.

    An exact explainer is kept only if it adds up and reproduces the audited scores on a seeded
    probe; the permutation explainer records why none was.
    """
    from threadpoolctl import threadpool_limits

    features = list(model.features)
    rng = np.random.default_rng(seed)
    probe = data.iloc[np.sort(rng.choice(len(data), size=min(PROBE_ROWS, len(data)), replace=False))]
    native = model.native()
    split = _split_pipeline(native, features, probe) if native is not None else None
    scores = np.empty(0)
    if isinstance(split, tuple):
        # A few hundred rows: OpenMP threads only contend for busy cores (60x slower under load).
        with threadpool_limits(1):
            scores = np.asarray(model.predict_scores(probe), dtype=float)
        exact = _exact_candidate(model, data, probe, scores, split, seed, background_rows)
        if isinstance(exact, Explainer):
            return exact
    else:
        exact = split or "the candidate is queried through its scores only"
    bg = Background.sample(data, features, background_rows, seed)
    pairs = pairs_for(max_evals, len(features))
    evals = evaluations(pairs, len(features))
    chosen = Explainer(
        kind="permutation",
        name="permutation SHAP",
        features=features,
        scale=LOG_ODDS,
        note=(
            f"model-agnostic, through the candidate's scores: {pairs} antithetic pairs of feature "
            f"orders ({evals} evaluations per row) against a background of {len(bg.codes)} rows drawn "
            f"at random (seed {seed}) from the evaluation set"
        ),
        model=model,
        background=bg,
        max_evals=evals,
        seed=seed,
        fallback=exact,
    )
    if isinstance(split, tuple) and split[0] is not None:
        return (
            _on_transformed_columns(chosen, split, probe, scores, _positive_column(model, split[1])) or chosen
        )
    # Its output is the logit of the audited scores by construction: nothing to orient.
    return chosen


def _on_transformed_columns(
    chosen: Explainer,
    split: tuple[Any, Any, list[str]],
    probe: pd.DataFrame,
    scores: np.ndarray,
    class_column: int,
) -> Explainer | None:
    """Return the permutation explainer run on the preprocessed columns, or None if it cannot be.

    The preprocessor was traced column by column, so masking an input's transformed columns equals
    transforming the masked row: each masked row then costs only the final estimator, not the
    vendor's whole preprocessing (10-100x cheaper for a one-hot pipeline). It is kept only if the
    final estimator's probabilities reproduce the audited `scores` of the probe rows.
    """
    pre, final, col_feature = split
    if not hasattr(final, "predict_proba"):
        return None
    background = TransformedBackground(
        codes=dense(pre.transform(chosen.background.decode(chosen.background.codes))),
        inputs=np.array([chosen.features.index(f) for f in col_feature], dtype=np.int64),
    )
    note = chosen.note.replace(
        "through the candidate's scores",
        f"through the final {type(final).__name__} on the preprocessed columns",
    )
    changed = {"model": final, "pre": pre, "col_feature": col_feature, "class_column": class_column}
    moved = Explainer(**{**chosen.__dict__, **changed, "background": background, "note": note})
    try:
        logit = moved._final_logit(dense(pre.transform(probe[chosen.features])))
    except Exception:
        return None
    return moved if np.allclose(1.0 / (1.0 + np.exp(-logit)), scores, atol=OUTPUT_TOLERANCE, rtol=0) else None


def _picklable(explainer: Explainer) -> bool:
    """Say whether the explainer (with its model) can be sent to another process."""
    import cloudpickle  # what joblib sends to its processes with (a dependency of joblib)

    try:
        cloudpickle.dumps(explainer)
    except Exception:
        return False
    return True


def attribute_rows(
    explainer: Explainer,
    x: pd.DataFrame,
    chunk_rows: int,
    workers: int = 1,
    chunk_map: ChunkMap | None = None,
) -> Attribution:
    """Return the SHAP values of every row of `x`, computed chunk by chunk.

    `chunk_map` runs the chunks elsewhere (a Dask cluster); without it, more than one chunk runs
    on `workers` local processes.
    """
    if len(x) == 0:
        return Attribution(np.empty((0, len(explainer.features))), 0.0, np.empty(0))
    if chunk_map is None and workers > 1 and not _picklable(explainer):
        # An ONNX session or an HTTP endpoint (with its call budget) stays in this process.
        workers = 1
    if chunk_map is None and workers > 1:
        # Even chunks, so that every process has work (2,213 rows in chunks of 2,000 left one idle).
        chunk_rows = min(chunk_rows, math.ceil(len(x) / workers))
    n_chunks = math.ceil(len(x) / chunk_rows)
    chunks = [x.iloc[i * chunk_rows : (i + 1) * chunk_rows] for i in range(n_chunks)]
    if chunk_map is not None:
        parts = chunk_map(explainer.attribute, chunks)
    elif workers > 1 and n_chunks > 1:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=min(workers, n_chunks), backend="loky")(
            delayed(explainer.attribute)(c) for c in chunks
        )
    else:
        parts = [explainer.attribute(c) for c in chunks]
    return concat(parts)
