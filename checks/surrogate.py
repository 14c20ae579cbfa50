"""Surrogate explanation for a candidate that hands over only its outputs.

A gradient-boosted model is fitted to mimic the vendor's scores (or decisions) from the inputs the
vendor declares, its fidelity is measured on rows it did not see, and that surrogate is explained
like a real model. Every number says it is about the surrogate, not the vendor's model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assay.checks.context import AuditContext
from assay.checks.explain import METRICS as EXPLAIN_METRICS
from assay.checks.explain import explain_model
from assay.checks.phrase import N_, Phrase, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status

CHECK_ID = "explain.surrogate"
TITLE = "Surrogate explanation of a candidate known only by its outputs"
METRICS = (*EXPLAIN_METRICS, "surrogate_r2", "surrogate_agreement")
EPS = 1e-6


class SurrogateModel:
    """A fitted surrogate, queried like a candidate: scores from the vendor's declared inputs."""

    def __init__(self, pipeline: Any, features: list[str], regression: bool) -> None:
        self._pipeline = pipeline
        self.features = list(features)
        self._regression = regression

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        """Return the surrogate's estimate of the vendor's score for each row."""
        x = data[self.features]
        if self._regression:
            return 1.0 / (1.0 + np.exp(-np.asarray(self._pipeline.predict(x), dtype=float)))
        return np.asarray(self._pipeline.predict_proba(x)[:, 1], dtype=float)

    def native(self) -> Any:
        """Return the fitted surrogate pipeline."""
        return self._pipeline


def _pipeline(data: pd.DataFrame, features: list[str], regression: bool, seed: int) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = [f for f in features if not pd.api.types.is_numeric_dtype(data[f])]
    encode = ColumnTransformer(
        [("categorical", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), categorical)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    kind = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
    booster = kind(max_iter=100, learning_rate=0.15, early_stopping=False, random_state=seed)
    return Pipeline([("encode", encode), ("boost", booster)])


def _not_assessed(reason: Phrase) -> CheckResult:
    return CheckResult.of(check_id=CHECK_ID, title=TITLE, status=Status.NOT_ASSESSED, phrases=[reason])


def fit_surrogate(ctx: AuditContext, features: list[str]) -> tuple[SurrogateModel, dict[str, Any]]:
    """Fit the surrogate on one half of a seeded sample and measure its fidelity on the other."""
    assert ctx.decisions is not None
    rng = np.random.default_rng(ctx.seed)
    n = len(ctx.data)
    rows = np.sort(rng.choice(n, size=min(n, ctx.settings.surrogate_rows), replace=False))
    fit = np.sort(rng.permutation(rows)[: len(rows) // 2])
    held = np.setdiff1d(rows, fit)
    regression = ctx.scores is not None
    decisions = np.asarray(ctx.decisions).astype(int)
    if regression:
        scores = np.clip(np.asarray(ctx.scores, dtype=float), EPS, 1 - EPS)
        target = np.log(scores) - np.log1p(-scores)
    else:
        target = decisions
    x = ctx.data[features]
    pipeline = _pipeline(ctx.data, features, regression, ctx.seed).fit(x.iloc[fit], target[fit])
    model = SurrogateModel(pipeline, features, regression)
    mimic = model.predict_scores(x.iloc[held])
    threshold = ctx.threshold if ctx.threshold is not None else 0.5
    fidelity: dict[str, Any] = {
        "fit_rows": len(fit),
        "held_out_rows": len(held),
        "agreement": float(np.mean((mimic >= threshold).astype(int) == decisions[held])),
        "threshold": threshold,
        "target": "the vendor's scores (log-odds)" if regression else "the vendor's decisions",
    }
    if regression:
        logit = np.log(np.clip(mimic, EPS, 1 - EPS)) - np.log1p(-np.clip(mimic, EPS, 1 - EPS))
        residual = np.sum((target[held] - logit) ** 2)
        spread = np.sum((target[held] - target[held].mean()) ** 2)
        fidelity["r2"] = float(1.0 - residual / spread) if spread > 0 else None
    return model, fidelity


@register(CHECK_ID, TITLE, (Need.DECISIONS, Need.SENSITIVE), METRICS)
def surrogate(ctx: AuditContext) -> CheckResult:
    """Explain a predictions-only candidate through a surrogate model, with the surrogate's fidelity."""
    if ctx.model is not None:
        return _not_assessed(phrase(N_("the candidate's own model is explained (explain.global_importance)")))
    reserved = {ctx.profile.id_column, ctx.profile.label.column}
    features = [f for f in (ctx.features or []) if f in ctx.data.columns and f not in reserved]
    if not features:
        return _not_assessed(
            phrase(N_("the candidate declares no input features found in the evaluation data"))
        )
    model, fidelity = fit_surrogate(ctx, features)
    result = explain_model(ctx, model, CHECK_ID, TITLE)
    n = fidelity["held_out_rows"]
    rows = [
        *result.metrics,
        MetricRow(check_id=CHECK_ID, metric="surrogate_r2", value=fidelity.get("r2"), n=n),
        MetricRow(check_id=CHECK_ID, metric="surrogate_agreement", value=fidelity["agreement"], n=n),
    ]
    r2 = fidelity.get("r2")
    agreement = {"rows": str(n), "agreement": f"{fidelity['agreement']:.1%}"}
    if r2 is None:
        head = phrase(
            N_(
                "explains a SURROGATE fitted to the vendor's outputs, not the vendor's model: on "
                "{rows} held-out rows it agrees with {agreement} of the decisions"
            ),
            **agreement,
        )
    else:
        head = phrase(
            N_(
                "explains a SURROGATE fitted to the vendor's outputs, not the vendor's model: on "
                "{rows} held-out rows it agrees with {agreement} of the decisions and explains "
                "R² = {r2} of the scores' log-odds"
            ),
            r2=f"{r2:.3f}",
            **agreement,
        )
    return result.model_copy(
        update={
            "metrics": rows,
            "messages": [str(head), *result.messages],
            "phrases": [head, *result.phrases],
            "details": {**result.details, "surrogate": {"features": features, **fidelity}},
        }
    )
