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

LOG_ODDS = "log-odds"
PROBABILITY = "probability"
# Audited scores are probabilities; the explained output must reproduce them this closely.
OUTPUT_TOLERANCE = 1e-6
# Native contributions are used only where they agree with shap's TreeExplainer this closely.
NATIVE_TOLERANCE = 1e-6
PROBE_ROWS = 256
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


def _input_feature_of(names_out: list[str], features: list[str]) -> list[str] | None:
    """Map each transformed column to the input feature it came from (exact name or `feature_…`)."""
    mapping = []
    for name in names_out:
        if name in features:
            mapping.append(name)
            continue
        matches = [f for f in features if name.startswith(f + "_")]
        if not matches:
            return None
        mapping.append(max(matches, key=len))
    return mapping


def _split_pipeline(native: Any, features: list[str]) -> tuple[Any, Any, list[str]] | str:
    """Return (preprocessor or None, final estimator, input feature of each column), or why not."""
    from sklearn.pipeline import Pipeline

    if not isinstance(native, Pipeline):
        return None, native, list(features)
    pre, final = native[:-1], native[-1]
    try:
        names_out = [str(n) for n in pre.get_feature_names_out()]
    except (AttributeError, ValueError) as exc:
        return f"the pipeline's transformed columns have no names ({type(exc).__name__})"
    mapping = _input_feature_of(names_out, features)
    if mapping is None:
        return "cannot map the pipeline's transformed columns back to its input features"
    return pre, final, mapping


def _family(est: Any) -> str:
    """Return 'lightgbm', 'xgboost', 'tree', 'linear' or 'other' for a fitted estimator."""
    name = type(est).__module__ + "." + type(est).__name__
    if name.startswith("lightgbm."):
        return "lightgbm"
    if name.startswith("xgboost."):
        return "xgboost"
    if any(key in name for key in ("sklearn.ensemble", "sklearn.tree", "catboost")):
        return "tree"
    if hasattr(est, "coef_") and hasattr(est, "decision_function"):
        return "linear"
    return "other"


def _positive_slice(values: np.ndarray, base: np.ndarray, column: int) -> tuple[np.ndarray, float]:
    """Keep the positive class's slice when an explainer returns one per class."""
    if values.ndim == 3:
        return values[..., column], float(base.ravel()[column])
    return values, float(base.ravel()[0])


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
    sign: float = 1.0
    class_column: int = -1
    max_evals: int = 0
    seed: int = 0
    _cache: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = None  # shap explainers are rebuilt where the chunk runs
        return state

    def _transform(self, x: pd.DataFrame) -> np.ndarray:
        xt = self.pre.transform(x[self.features]) if self.pre is not None else x[self.features]
        xt = xt.toarray() if hasattr(xt, "toarray") else xt
        return np.asarray(xt, dtype=float)

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
        values, base = self._native(xt) if self.kind == "native" else self._shap(xt)
        output = self._margin(xt)
        s = self.sign
        return Attribution(s * self._to_inputs(values), s * base, s * output)

    def _margin(self, xt: np.ndarray) -> np.ndarray:
        est = self.model
        if self.scale == LOG_ODDS:
            if self.kind == "native" and _family(est) == "lightgbm":
                return np.asarray(est.predict(xt, raw_score=True), dtype=float)
            if self.kind == "native":
                return np.asarray(est.predict(xt, output_margin=True), dtype=float)
            if hasattr(est, "decision_function"):
                return np.asarray(est.decision_function(xt), dtype=float)
            return np.asarray(est.predict(xt), dtype=float)  # a regressor fitted on log-odds
        return np.asarray(est.predict_proba(xt), dtype=float)[:, self.class_column]

    def _native(self, xt: np.ndarray) -> tuple[np.ndarray, float]:
        if _family(self.model) == "lightgbm":
            contrib = np.asarray(self.model.predict(xt, pred_contrib=True), dtype=float)
        else:
            import xgboost

            booster = self.model.get_booster()
            contrib = np.asarray(booster.predict(xgboost.DMatrix(xt), pred_contribs=True), dtype=float)
        return contrib[:, :-1], float(contrib[0, -1]) if len(contrib) else 0.0

    def _shap(self, xt: np.ndarray) -> tuple[np.ndarray, float]:
        import shap

        if self._cache is None:
            if self.kind == "linear":
                masker = shap.maskers.Independent(self.background, max_samples=len(self.background))
                self._cache = shap.LinearExplainer(self.model, masker)
            else:
                self._cache = shap.TreeExplainer(self.model)
        values = np.asarray(self._cache.shap_values(xt), dtype=float)
        base = np.asarray(self._cache.expected_value, dtype=float)
        if self.kind == "linear" and values.ndim == 2:
            return values, float(base.ravel()[-1])
        return _positive_slice(values, base, self.class_column)

    def _permutation(self, x: pd.DataFrame) -> Attribution:
        import shap

        codes = self.background.encode(x[self.features])
        if self._cache is None:
            masker = shap.maskers.Independent(self.background.codes, max_samples=len(self.background.codes))
            self._cache = shap.PermutationExplainer(self._logit, masker)
        # shap draws its permutations from numpy's global generator. Seeding it per row from the
        # audit seed and the row's label makes a row's values independent of how rows are chunked
        # or which process runs them; the caller's generator state is put back afterwards.
        saved = np.random.get_state()
        values, base = np.zeros(codes.shape), 0.0
        try:
            for i, label in enumerate(x.index):
                np.random.seed([self.seed, _row_key(label)])
                one = self._cache(codes[i : i + 1], max_evals=self.max_evals, silent=True)
                values[i] = np.asarray(one.values, dtype=float)[0]
                base = float(np.asarray(one.base_values, dtype=float).ravel()[0])
        finally:
            np.random.set_state(saved)
        return Attribution(values, base, self._logit(codes))

    def _logit(self, codes: np.ndarray) -> np.ndarray:
        scores = np.asarray(self.model.predict_scores(self.background.decode(codes)), dtype=float)
        scores = np.clip(scores, 1e-12, 1 - 1e-12)
        return np.log(scores) - np.log1p(-scores)


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


def _orient(explainer: Explainer, model: ModelAccess, probe: pd.DataFrame) -> str | None:
    """Set the explainer's sign so its output reproduces the audited scores; say why if it cannot."""
    from threadpoolctl import threadpool_limits

    # A few hundred rows: OpenMP threads only contend for busy cores (60x slower under load).
    with threadpool_limits(1):
        att = explainer.attribute(probe)
        scores = np.asarray(model.predict_scores(probe), dtype=float)
    explained = 1.0 / (1.0 + np.exp(-att.output)) if explainer.scale == LOG_ODDS else att.output
    if np.allclose(explained, scores, atol=OUTPUT_TOLERANCE, rtol=0):
        return None
    if explainer.scale == LOG_ODDS and np.allclose(1.0 - explained, scores, atol=OUTPUT_TOLERANCE, rtol=0):
        explainer.sign = -1.0  # the estimator's margin is for the other class
        return None
    worst = float(np.max(np.abs(explained - scores)))
    return f"{explainer.name}'s output differs from the audited scores by up to {worst:.3g}"


def _exact_works(explainer: Explainer, model: ModelAccess, probe: pd.DataFrame) -> bool:
    """Say whether an exact explainer runs on this model and reproduces its audited scores.

    shap refuses some estimators it cannot read (e.g. AdaBoost, stacking, pandas categories);
    those fall back to the permutation explainer instead of losing the explanation.
    """
    try:
        return _orient(explainer, model, probe) is None
    except Exception:
        return False


def _native_agrees(explainer: Explainer, probe: pd.DataFrame) -> bool:
    """Say whether the library's native contributions match shap's TreeExplainer on a probe."""
    try:
        native = explainer.attribute(probe)
        exact = Explainer(**{**explainer.__dict__, "kind": "tree", "_cache": None}).attribute(probe)
    except Exception:
        return False
    return bool(np.allclose(native.values, exact.values, atol=NATIVE_TOLERANCE, rtol=0))


def choose_explainer(
    model: ModelAccess, data: pd.DataFrame, seed: int, background_rows: int, max_evals: int
) -> Explainer:
    """Pick the exact explainer the candidate allows (tree, linear, native), else permutation.

    An exact explainer is kept only if it reproduces the audited scores on a seeded probe.
    """
    features = list(model.features)
    rng = np.random.default_rng(seed)
    probe = data.iloc[np.sort(rng.choice(len(data), size=min(PROBE_ROWS, len(data)), replace=False))]
    native = model.native()
    split = _split_pipeline(native, features) if native is not None else None
    if isinstance(split, tuple):
        pre, final, col_feature = split
        family = _family(final)
        common = {"features": features, "model": final, "pre": pre, "col_feature": col_feature}
        common["class_column"] = _positive_column(model, final)
        chosen: Explainer | None = None
        if family in ("lightgbm", "xgboost"):
            chosen = Explainer(
                kind="native",
                name=f"{family} native contributions (TreeSHAP)",
                scale=LOG_ODDS,
                note="exact TreeSHAP computed by the library itself; checked against shap.TreeExplainer",
                **common,
            )
            if not _native_agrees(chosen, probe):
                chosen = None
        if chosen is None and family in ("lightgbm", "xgboost", "tree"):
            margin = hasattr(final, "decision_function") or not hasattr(final, "predict_proba")
            margin = margin or family != "tree"
            chosen = Explainer(
                kind="tree",
                name="shap.TreeExplainer",
                scale=LOG_ODDS if margin else PROBABILITY,
                note="exact TreeSHAP (path-dependent: the trees' own cover is the background)",
                **common,
            )
        if chosen is None and family == "linear":
            rng = np.random.default_rng(seed)
            take = rng.choice(len(data), size=min(background_rows * 10, len(data)), replace=False)
            chosen = Explainer(
                kind="linear",
                name="shap.LinearExplainer",
                scale=LOG_ODDS,
                note=f"exact for a linear model; feature means from {len(take)} seeded rows",
                background=_background_rows(pre, data.iloc[np.sort(take)][features]),
                **common,
            )
        if chosen is not None and _exact_works(chosen, model, probe):
            return chosen
    bg = Background.sample(data, features, background_rows, seed)
    evals = max(max_evals, 2 * len(features) + 1)
    chosen = Explainer(
        kind="permutation",
        name="shap.PermutationExplainer",
        features=features,
        scale=LOG_ODDS,
        note=(
            f"model-agnostic, through the candidate's scores: {evals} evaluations per row against a "
            f"background of {len(bg.codes)} rows drawn at random (seed {seed}) from the evaluation set"
        ),
        model=model,
        background=bg,
        max_evals=evals,
        seed=seed,
    )
    # Its output is the logit of the audited scores by construction: nothing to orient.
    return chosen


def _background_rows(pre: Any, x: pd.DataFrame) -> np.ndarray:
    """Return background rows in the space the final estimator sees."""
    xt = pre.transform(x) if pre is not None else x
    xt = xt.toarray() if hasattr(xt, "toarray") else xt
    return np.asarray(xt, dtype=float)


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
