"""Global explanation of the candidate's scores: SHAP importance and the share sensitive inputs take."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from assay.checks.context import AuditContext
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status

CHECK_ID = "explain.global_importance"
TITLE = "Global explanation (SHAP)"


def stratified_sample(sensitive: pd.DataFrame, per_cell: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return row positions sampled per cross of sensitive groups, and each row's weight.

    A weight is the cell's size over its sample size, so weighted means estimate population means
    while small groups still get enough rows to be measured.
    """
    rng = np.random.default_rng(seed)
    codes = sensitive.groupby(list(sensitive.columns), sort=True).ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    picked, weights = [], []
    for rows in np.split(order, bounds):
        take = rows if len(rows) <= per_cell else np.sort(rng.choice(rows, per_cell, replace=False))
        picked.append(take)
        weights.append(np.full(len(take), len(rows) / len(take)))
    positions, weights_all = np.concatenate(picked), np.concatenate(weights)
    keep = np.argsort(positions, kind="stable")
    return positions[keep], weights_all[keep]


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


def _split_pipeline(native: Any, features: list[str]) -> tuple[Any, Any, list[str]] | None:
    """Return (preprocessor or None, final estimator, input feature of each column the model sees)."""
    from sklearn.pipeline import Pipeline

    if isinstance(native, Pipeline):
        pre, final = native[:-1], native[-1]
        try:
            names_out = [str(n) for n in pre.get_feature_names_out()]
        except (AttributeError, ValueError):
            return None
        mapping = _input_feature_of(names_out, features)
        return None if mapping is None else (pre, final, mapping)
    return None, native, list(features)


def _explain(final: Any, xt: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Return SHAP values, the model output they should add up to, and the explainer's name."""
    import shap

    if hasattr(final, "coef_"):
        explainer = shap.LinearExplainer(final, shap.maskers.Independent(xt, max_samples=1000))
        name = "shap.LinearExplainer"
    else:
        explainer = shap.TreeExplainer(final)
        name = "shap.TreeExplainer"
    values = np.asarray(explainer.shap_values(xt))
    base = np.asarray(explainer.expected_value, dtype=float).ravel()
    if values.ndim == 3:  # one slice per class: keep the positive class
        values, base = values[..., -1], base[-1:]
    if hasattr(final, "decision_function"):
        output = np.asarray(final.decision_function(xt), dtype=float)
    else:
        output = final.predict_proba(xt)[:, -1]
    return values, output - base[0], name


@register(
    CHECK_ID,
    TITLE,
    (Need.MODEL_ACCESS, Need.SENSITIVE),
    ("importance", "importance_share", "sensitive_share", "additivity_error"),
)
def global_importance(ctx: AuditContext) -> CheckResult:
    """Measure each input's mean |SHAP| and the share taken by sensitive attributes, per group."""
    assert ctx.model is not None and ctx.sensitive is not None
    features = list(ctx.model.features)
    split = _split_pipeline(ctx.model.native(), features)
    if split is None:
        return CheckResult(
            check_id=CHECK_ID,
            title=TITLE,
            status=Status.NOT_ASSESSED,
            messages=["cannot map the pipeline's transformed columns back to its input features"],
        )
    pre, final, col_feature = split
    if not (hasattr(final, "coef_") or _is_tree_model(final)):
        return CheckResult(
            check_id=CHECK_ID,
            title=TITLE,
            status=Status.NOT_ASSESSED,
            messages=[f"no exact explainer for {type(final).__name__} yet (tree or linear only)"],
        )
    idx, weights = stratified_sample(ctx.sensitive, ctx.settings.explain_rows_per_cell, ctx.seed)
    x = ctx.data.iloc[idx][features]
    xt = pre.transform(x) if pre is not None else x.to_numpy()
    xt = np.asarray(xt.toarray() if hasattr(xt, "toarray") else xt, dtype=float)
    col_values, target, explainer_name = _explain(final, xt)
    additivity = float(np.max(np.abs(col_values.sum(axis=1) - target)))
    # Sum the columns an input was expanded into (e.g. one-hot) back onto that input.
    per_feature = pd.DataFrame(col_values).T.groupby(np.array(col_feature)).sum().T
    per_feature = per_feature.reindex(columns=features, fill_value=0.0)
    abs_vals = per_feature.abs().to_numpy()
    sensitive_cols = [f for f in features if f in ctx.profile.sensitive_columns()]
    is_sensitive = np.array([f in sensitive_cols for f in features])

    def importance(mask: np.ndarray) -> np.ndarray:
        return np.average(abs_vals[mask], axis=0, weights=weights[mask])

    def sensitive_share(mask: np.ndarray) -> float:
        imp = importance(mask)
        return float(imp[is_sensitive].sum() / imp.sum()) if imp.sum() > 0 else 0.0

    everyone = np.ones(len(idx), dtype=bool)
    overall = importance(everyone)
    total = overall.sum()
    rows = []
    for f, value in zip(features, overall, strict=True):
        share = value / total if total > 0 else 0.0
        rows.append(MetricRow(check_id=CHECK_ID, metric="importance", feature=f, value=value, n=len(idx)))
        rows.append(
            MetricRow(check_id=CHECK_ID, metric="importance_share", feature=f, value=share, n=len(idx))
        )
    rows.append(
        MetricRow(check_id=CHECK_ID, metric="sensitive_share", value=sensitive_share(everyone), n=len(idx))
    )
    sample_groups = ctx.sensitive.iloc[idx]
    for attr in sample_groups.columns:
        for group in sorted(sample_groups[attr].unique()):
            mask = (sample_groups[attr] == group).to_numpy()
            rows.append(
                MetricRow(
                    check_id=CHECK_ID,
                    metric="sensitive_share",
                    attribute=attr,
                    group=str(group),
                    value=sensitive_share(mask),
                    n=int(mask.sum()),
                )
            )
    rows.append(MetricRow(check_id=CHECK_ID, metric="additivity_error", value=additivity, n=len(idx)))
    ranking = [features[i] for i in np.argsort(-overall)]
    return CheckResult(
        check_id=CHECK_ID,
        title=TITLE,
        status=Status.PASSED,
        metrics=rows,
        messages=[
            f"{explainer_name} on {len(idx)} rows sampled per cross of sensitive groups "
            f"(seed {ctx.seed}); top inputs: {', '.join(ranking[:5])}",
        ],
        details={
            "explainer": explainer_name,
            "sample_rows": len(idx),
            "output_scale": "decision function (log-odds for boosted trees and logistic models)",
            "sensitive_inputs": sensitive_cols,
            "ranking": ranking,
        },
    )


def _is_tree_model(est: Any) -> bool:
    """Say whether shap's TreeExplainer supports this estimator."""
    name = type(est).__module__ + "." + type(est).__name__
    return any(key in name for key in ("sklearn.ensemble", "sklearn.tree", "lightgbm", "xgboost", "catboost"))
