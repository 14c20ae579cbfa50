"""Benchmark of the explainer each real model shape gets, each audited through `assay audit` on UCI Adult.

Run: .venv/bin/python bench/model_zoo.py [--only NAME ...] [--rows N] [--in-process] [--workdir DIR]
         [--policy P] [--seed S] [--no-pickle-fallback]
Trains a zoo of model shapes (scikit-learn pipelines, LightGBM, XGBoost, an MLP, a calibrated SVM,
PCA before a linear model, ...) on adult.data (32,561 rows, seeded), saves each with skops and
audits each on the adult.test holdout (16,281 rows; `--rows` subsamples it) with the real CLI into
a temporary ledger, then reads the sealed record (`assay show --json`). Also audits the first
shape's scores as a predictions-only candidate and prints its surrogate's fidelity. Shapes reading
pandas `category` columns get the holdout as Parquet (a CSV has no dtypes); a model whose skops
file the CLI refuses (untrusted types) is audited again as a trusted pickle (`--trust-pickle`),
and the table says so (`--no-pickle-fallback`: leave it refused). `--in-process` also times the
explanation check alone in this process (the record's time is measured beside the other checks).
Targets: every tree and linear shape gets an exact explainer (kind tree, native or linear) with an
additivity error <= 1e-6; every audit finishes (exit 0 or 1); every shape that falls back to the
permutation explainer records why, and its explanation check finishes in < 60 s or records the
budget that stopped it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from realdata import adult_split  # tests/realdata.py reads the dataset wheel

SEED = 20240601
ASSAY = str(Path(sys.executable).parent / "assay")
CHECK_ID = "explain.global_importance"
SURROGATE_ID = "explain.surrogate"
EXACT_KINDS = ("tree", "native", "linear")
ADDITIVITY_MAX = 1e-6
FALLBACK_MAX_SECONDS = 60.0
THRESHOLD = 0.5
ID, LABEL, POSITIVE = "row", "income", ">50K"
# The model inputs: Adult's features without the sensitive attributes, the label and the census weight.
FEATURES = [
    "age", "workclass", "education", "education-num", "marital-status", "occupation", "relationship",
    "capital-gain", "capital-loss", "hours-per-week", "native-country",
]  # fmt: skip
CATEGORICAL = ["workclass", "education", "marital-status", "occupation", "relationship", "native-country"]
NUMERIC = [f for f in FEATURES if f not in CATEGORICAL]
SERVICE = {
    "id": "adult-income",
    "title": {"ko": "소득 수준 판정 (UCI Adult)", "en": "Income level (UCI Adult census)"},
    "decision": {"ko": "연소득 5만 달러 초과로 판정", "en": "Judged to earn over $50K a year"},
    "risk_tier": "high-impact",
    "id_column": ID,
    "label": {"column": LABEL, "positive": POSITIVE},
    "positive_decision_is_favourable": True,
    "sensitive_attributes": [
        {"name": "race", "column": "race", "reference_group": "White"},
        {"name": "sex", "column": "sex"},
    ],
}


@dataclass(frozen=True)
class Shape:
    """One model shape of the zoo: how to fit it, its inputs' order, what explainer it should get."""

    name: str
    what: str
    fit: Callable[[pd.DataFrame, np.ndarray, int], Any]
    exact: bool  # a tree or linear model: the audit should explain it exactly
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    category_dtype: bool = False  # reads pandas `category` columns: needs a Parquet holdout


@dataclass
class Audited:
    """What one shape's audit gave: exit code, wall time, intake format and the explanation check."""

    shape: str
    exact_expected: bool | None
    intake: str = "skops"
    code: int | None = None
    seconds: float = 0.0
    error: str = ""
    explainer: str = "—"
    kind: str = "—"
    reason: str = ""
    additivity: float | None = None
    tolerance: float = 1e-6  # the record's additivity tolerance (XGBoost: its float32 rounding)
    tolerance_met: bool | None = None
    rows_explained: int | None = None
    stop: str = ""
    explain_seconds: float | None = None
    alone_seconds: float | None = None
    status: str = ""
    notes: list[str] = field(default_factory=list)


# --- the zoo -------------------------------------------------------------------------------------


def _ordinal(verbose: bool = False) -> Any:
    """Return a ColumnTransformer that ordinal-codes the categoricals and passes the numbers through."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    code = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return ColumnTransformer(
        [("categorical", code, CATEGORICAL)], remainder="passthrough", verbose_feature_names_out=verbose
    )


def _onehot(scale: bool = True, sparse: bool = True) -> Any:
    """Return a ColumnTransformer that one-hot codes the categoricals and (optionally) scales the numbers."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=sparse)
    numbers = StandardScaler() if scale else "passthrough"
    return ColumnTransformer([("categorical", onehot, CATEGORICAL), ("numeric", numbers, NUMERIC)])


def _hgb(seed: int, **kwargs: Any) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=200, early_stopping=False, random_state=seed, **kwargs)


def _lgbm(seed: int) -> Any:
    from lightgbm import LGBMClassifier

    # `deterministic` gives the same trees for the same data, parameters and number of threads.
    return LGBMClassifier(
        n_estimators=200, learning_rate=0.05, deterministic=True, n_jobs=1, random_state=seed, verbose=-1
    )


def fit_hgb_ordinal(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit OrdinalEncoder (names without prefixes) + HistGradientBoostingClassifier."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("encode", _ordinal()), ("model", _hgb(seed))]).fit(x, y)


def fit_rf_ordinal(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit OrdinalEncoder (prefixed names) + a small RandomForestClassifier (NaN handled by the trees)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    forest = RandomForestClassifier(n_estimators=100, max_depth=12, random_state=seed, n_jobs=-1)
    return Pipeline([("encode", _ordinal(verbose=True)), ("model", forest)]).fit(x, y)


def fit_logreg_onehot(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit OneHotEncoder + StandardScaler + LogisticRegression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([("encode", _onehot()), ("model", LogisticRegression(max_iter=1000))]).fit(x, y)


def fit_gb_onehot(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit OneHotEncoder (numbers passed through) + GradientBoostingClassifier."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    boost = GradientBoostingClassifier(random_state=seed)
    return Pipeline([("encode", _onehot(scale=False)), ("model", boost)]).fit(x, y)


def fit_lgbm_ordinal(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit OrdinalEncoder + LightGBM's LGBMClassifier."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("encode", _ordinal()), ("model", _lgbm(seed))]).fit(x, y)


def fit_lgbm_category(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit a bare LGBMClassifier on a frame whose categoricals are pandas `category` columns."""
    return _lgbm(seed).fit(x, y)


def fit_xgb_category(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit a bare XGBClassifier with native categorical splits on `category` columns."""
    from xgboost import XGBClassifier

    model = XGBClassifier(
        n_estimators=200,
        learning_rate=0.1,
        max_depth=6,
        tree_method="hist",
        enable_categorical=True,
        random_state=seed,
    )
    return model.fit(x, y)


def fit_mlp_onehot(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit OneHotEncoder + StandardScaler + a small MLPClassifier (no exact explainer exists)."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline

    mlp = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, max_iter=200, random_state=seed)
    return Pipeline([("encode", _onehot()), ("model", mlp)]).fit(x, y)


def fit_hgb_reordered(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit shape 1 on the inputs in reverse order (the manifest follows the model, not the CSV)."""
    return fit_hgb_ordinal(x, y, seed)


def fit_hgb_missing(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit HistGradientBoosting behind imputers that add missing-value indicators ('?' read as NaN)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent", add_indicator=True)),
            ("code", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)),
        ]
    )
    numeric = SimpleImputer(strategy="median", add_indicator=True)
    encode = ColumnTransformer([("categorical", categorical, CATEGORICAL), ("numeric", numeric, NUMERIC)])
    return Pipeline([("encode", encode), ("model", _hgb(seed))]).fit(x, y)


def fit_svc_calibrated(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit OneHot + StandardScaler + CalibratedClassifierCV(LinearSVC, sigmoid, ensemble=False)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    svc = CalibratedClassifierCV(LinearSVC(random_state=seed), method="sigmoid", ensemble=False)
    return Pipeline([("encode", _onehot()), ("model", svc)]).fit(x, y)


def fit_pca_logreg(x: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    """Fit OneHot + StandardScaler + PCA(20) + LogisticRegression (PCA mixes inputs: must fall back)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    steps = [
        ("encode", _onehot(sparse=False)),
        ("pca", PCA(n_components=20, random_state=seed)),
        ("model", LogisticRegression(max_iter=1000)),
    ]
    return Pipeline(steps).fit(x, y)


ZOO = [
    Shape("hgb-ordinal", "OrdinalEncoder (verbose names off) + HistGradientBoosting", fit_hgb_ordinal, True),
    Shape("rf-ordinal", "OrdinalEncoder (prefixed names) + RandomForest 100×depth 12", fit_rf_ordinal, True),
    Shape("logreg-onehot", "OneHot + StandardScaler + LogisticRegression", fit_logreg_onehot, True),
    Shape("gb-onehot", "OneHot + GradientBoosting", fit_gb_onehot, True),
    Shape("lgbm-ordinal", "OrdinalEncoder + LGBMClassifier", fit_lgbm_ordinal, True),
    Shape("lgbm-category", "bare LGBMClassifier on pandas category columns", fit_lgbm_category, True,
          category_dtype=True),
    Shape("xgb-category", "bare XGBClassifier(enable_categorical) on category columns", fit_xgb_category,
          True, category_dtype=True),
    Shape("mlp-onehot", "OneHot + StandardScaler + MLPClassifier", fit_mlp_onehot, False),
    Shape("hgb-reordered", "shape 1 fitted on the inputs in reverse order", fit_hgb_reordered, True,
          features=FEATURES[::-1]),
    Shape("hgb-missing", "imputers with missing indicators + HistGradientBoosting", fit_hgb_missing, True),
    Shape("svc-calibrated", "OneHot + StandardScaler + CalibratedClassifierCV(LinearSVC, sigmoid)",
          fit_svc_calibrated, True),
    Shape("pca-logreg", "OneHot + StandardScaler + PCA(20) + LogisticRegression", fit_pca_logreg, False),
]  # fmt: skip
PREDICTIONS = "predictions-hgb"  # the first shape's scores as a predictions file: its surrogate


# --- data and files ------------------------------------------------------------------------------


def with_categories(frame: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """Return the frame with its categorical inputs as pandas `category` columns of the given categories."""
    out = frame.copy()
    for column, cats in categories.items():
        out[column] = pd.Categorical(out[column].astype(object), categories=cats)
    return out


def holdout_rows(test: pd.DataFrame, rows: int | None, seed: int) -> pd.DataFrame:
    """Return adult.test with its id column (the row number in the file), seeded-subsampled to `rows`."""
    holdout = test.assign(**{ID: np.arange(len(test))})[[ID, *test.columns]]
    if rows is not None and rows < len(holdout):
        rng = np.random.default_rng([seed, 1])
        holdout = holdout.iloc[np.sort(rng.choice(len(holdout), size=rows, replace=False))]
    return holdout.reset_index(drop=True)


def manifest(shape: str, features: list[str], fmt: str, location: str, what: str, **extra: Any) -> dict:
    """Return a candidate.yaml mapping for one shape."""
    return {
        "id": shape,
        "vendor": "Model zoo benchmark",
        "model": what,
        "version": "1.0.0",
        "format": fmt,
        "location": location,
        "input_features": features,
        "output": {"positive_class": 1, "score": "probability of earning over $50K", "threshold": THRESHOLD},
        **extra,
        "intended_use": "benchmark of the explanation check on real data (not a real service)",
        "training_data": f"UCI Adult adult.data, 32,561 people (seed {SEED})",
        "contact": "bench@example.org",
    }


def write_candidate(folder: Path, shape: Shape, model: Any, fmt: str) -> Path:
    """Save the model as skops or pickle beside its candidate.yaml; return the manifest's path."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "skops":
        import skops.io as sio

        location = "model.skops"
        sio.dump(model, folder / location)
    else:
        location = "model.pkl"
        (folder / location).write_bytes(pickle.dumps(model))
    path = folder / f"candidate-{fmt}.yaml"
    path.write_text(
        yaml.safe_dump(manifest(shape.name, shape.features, fmt, location, shape.what), sort_keys=False)
    )
    return path


# --- running the CLI and reading the record ------------------------------------------------------


def run_assay(args: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
    """Run the `assay` CLI; return its exit code, stdout, stderr and wall seconds."""
    start = time.perf_counter()
    proc = subprocess.run([ASSAY, *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start


def audit(
    candidate: Path,
    data: Path,
    service: Path,
    policy: str,
    ledger: Path,
    env: dict[str, str],
    pickle_ok: bool,
) -> tuple[int, str, str, float]:
    """Run `assay audit` on one candidate, as a user would."""
    args = [
        "audit", "--service", str(service), "--candidate", str(candidate), "--data", str(data),
        "--policy", policy, "--ledger", str(ledger), "--seed", str(SEED),
    ]  # fmt: skip
    return run_assay([*args, "--trust-pickle"] if pickle_ok else args, env)


def sealed(audit_id: str, ledger: Path, env: dict[str, str]) -> dict:
    """Return the sealed record of an audit (`assay show --json`)."""
    code, out, err, _ = run_assay(["show", audit_id, "--ledger", str(ledger), "--json"], env)
    if code != 0:
        raise RuntimeError(f"assay show {audit_id} exited {code}: {err.strip()[-500:]}")
    return json.loads(out)


def result_of(record: dict, check_id: str) -> dict | None:
    """Return one check's result from a record, if it ran."""
    return next((r for r in record["results"] if r["check_id"] == check_id), None)


def metric(result: dict, name: str) -> float | None:
    """Return the overall value of a metric of a check's result (no attribute, group or feature)."""
    for row in result.get("metrics", []):
        if row["metric"] == name and not row.get("attribute") and not row.get("feature"):
            return row["value"]
    return None


def stop_reason(result: dict) -> str:
    """Return why the explained sample stopped growing, as the record says, with a budget's size."""
    sample = result.get("details", {}).get("sample", {})
    by = sample.get("stopped_by", "")
    if by == "rows":
        return f"rows ({sample['row_budget']:,})"
    if by == "time":
        return f"time ({sample['time_budget_seconds']:g} s)"
    return by


def budget_stopped(row: Audited) -> bool:
    """Say whether the record names a budget (of rows or of time) that stopped the explanation."""
    return row.stop.startswith(("rows", "time"))


def read_explanation(row: Audited, result: dict | None) -> None:
    """Fill a row from the explanation check's result in the record."""
    if result is None:
        row.status = "absent"
        return
    row.status = result["status"]
    row.explain_seconds = result.get("seconds")
    details = result.get("details", {})
    if result["status"] != "passed" and not details:
        row.reason = "; ".join(result.get("messages", []))[:200]
        return
    explainer = details.get("explainer", {})
    row.explainer, row.kind = explainer.get("name", "—"), explainer.get("kind", "—")
    row.reason = explainer.get("fallback", "")
    row.additivity = metric(result, "additivity_error")
    row.tolerance = float(explainer.get("additivity_tolerance", ADDITIVITY_MAX))
    sample = details.get("sample", {})
    row.tolerance_met = sample.get("tolerance_met")
    row.rows_explained = sample.get("rows")
    row.stop = stop_reason(result)


def explain_alone(candidate: Path, data: Path, service: Path, policy: str, pickle_ok: bool) -> float:
    """Time the explanation check alone in this process, on the audit's inputs and the pack's settings.

    The record's time is measured while the other checks run beside it on the same cores.
    """
    from assay.checks.context import AuditContext
    from assay.checks.explain import global_importance
    from assay.data import loaders
    from assay.models.candidate import load_candidate

    profile, _ = loaders.load_profile(str(service))
    pack, _ = loaders.load_policy(policy)
    cand = load_candidate(candidate, trust_pickle=pickle_ok)
    table = loaders.read_table(data, text_columns=[profile.id_column])
    frame, labels = loaders.evaluation_rows(table, profile, data)
    outputs = cand.outputs(frame, profile.id_column, data)
    ctx = AuditContext(
        profile=profile,
        data=frame,
        settings=pack.parameters,
        seed=SEED,
        labels=labels.to_numpy(),
        scores=outputs.scores,
        decisions=outputs.decisions,
        sensitive=profile.sensitive_frame(frame),
        model=cand.access,
        threshold=cand.manifest.output.threshold,
        features=list(cand.manifest.input_features),
        workers=os.cpu_count() or 1,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's notes on LightGBM's output format
        global_importance(ctx)
    return time.perf_counter() - start


# --- one shape ------------------------------------------------------------------------------------


def run_shape(
    shape: Shape, model: Any, files: dict[str, Path], work: Path, args: Any, env: dict[str, str]
) -> Audited:
    """Save one shape's model, audit it through the CLI and read its explanation from the record."""
    row = Audited(shape.name, shape.exact)
    data = files["parquet" if shape.category_dtype else "csv"]
    folder = work / "candidates" / shape.name
    candidate = write_candidate(folder, shape, model, "skops")
    code, out, err, seconds = audit(
        candidate, data, files["service"], args.policy, files["ledger"], env, False
    )
    if code == 2 and "untrusted types" in err and not args.no_pickle_fallback:
        refused = err.strip().splitlines()[-1].split("untrusted types in the skops file:")[-1].strip()
        row.notes.append(
            f"the CLI refused its skops file (untrusted types: {refused}); audited as a trusted pickle"
        )
        row.intake = "pickle (skops refused)"
        candidate = write_candidate(folder, shape, model, "pickle")
        code, out, err, seconds = audit(
            candidate, data, files["service"], args.policy, files["ledger"], env, True
        )
    row.code, row.seconds = code, seconds
    if code not in (0, 1):
        row.error = (err.strip().splitlines() or ["(no message)"])[-1][:300]
        return row
    record = sealed(json.loads(out)["audit_id"], files["ledger"], env)
    read_explanation(row, result_of(record, CHECK_ID))
    if args.in_process:
        try:
            row.alone_seconds = explain_alone(
                candidate, data, files["service"], args.policy, row.intake != "skops"
            )
        except Exception as exc:  # the audit's own result is already read; report and go on
            row.notes.append(f"the in-process explanation failed: {type(exc).__name__}: {exc}"[:300])
    return row


def run_predictions(
    model: Any, holdout: pd.DataFrame, files: dict[str, Path], work: Path, args: Any, env: dict[str, str]
) -> tuple[Audited, dict[str, float | None]]:
    """Audit the first shape's scores as a predictions-only candidate; return its row and fidelity."""
    row = Audited(PREDICTIONS, None, intake="predictions")
    folder = work / "candidates" / PREDICTIONS
    folder.mkdir(parents=True, exist_ok=True)
    scores = model.predict_proba(holdout[FEATURES])[:, 1]
    pd.DataFrame({ID: holdout[ID], "score": scores}).to_csv(folder / "scores.csv", index=False)
    what = "scores of the hgb-ordinal shape, handed over without the model"
    spec = manifest(
        PREDICTIONS,
        FEATURES,
        "predictions",
        "scores.csv",
        what,
        predictions={"id_column": ID, "score_column": "score"},
    )
    candidate = folder / "candidate.yaml"
    candidate.write_text(yaml.safe_dump(spec, sort_keys=False))
    code, out, err, seconds = audit(
        candidate, files["csv"], files["service"], args.policy, files["ledger"], env, False
    )
    row.code, row.seconds = code, seconds
    fidelity: dict[str, float | None] = {"surrogate_r2": None, "surrogate_agreement": None}
    if code not in (0, 1):
        row.error = (err.strip().splitlines() or ["(no message)"])[-1][:300]
        return row, fidelity
    record = sealed(json.loads(out)["audit_id"], files["ledger"], env)
    result = result_of(record, SURROGATE_ID)
    read_explanation(row, result)
    if result is not None:
        fidelity = {m: metric(result, m) for m in fidelity}
    return row, fidelity


# --- the report -----------------------------------------------------------------------------------


def num(value: float | None, fmt: str) -> str:
    """Return a number formatted, or a dash."""
    return "—" if value is None else format(value, fmt)


HEADER = [
    "shape", "intake", "exit", "explainer (kind)", "fallback reason", "additivity error",
    "tolerance met (rows)", "stopped by", "explain s (record)", "explain s (alone)", "audit s",
]  # fmt: skip


def table_row(row: Audited) -> list[str]:
    """Return one row of the markdown table."""
    explainer = f"{row.explainer} ({row.kind})" if row.kind != "—" else (row.error or row.status or "—")
    reason = row.reason or ("none recorded" if row.kind == "permutation" else "—")
    met = (
        "—"
        if row.tolerance_met is None
        else f"{'yes' if row.tolerance_met else 'no'} ({row.rows_explained:,})"
    )
    return [
        row.shape, row.intake, str(row.code), explainer, reason.replace("|", "/"), num(row.additivity, ".2e"),
        met, (row.stop or "—").replace("|", "/"), num(row.explain_seconds, ".1f"),
        num(row.alone_seconds, ".1f"), f"{row.seconds:.1f}",
    ]  # fmt: skip


def markdown(rows: list[Audited]) -> str:
    """Return the results as a markdown table for bench/README.md."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(table_row(r)) + " |" for r in rows]
    return "\n".join(lines)


def targets(rows: list[Audited]) -> list[tuple[str, bool, str]]:
    """Return each target with whether it is met and what was measured."""
    models = [r for r in rows if r.exact_expected is not None]
    exact = [r for r in models if r.exact_expected]
    missed = [
        f"{r.shape} ({r.kind}, {num(r.additivity, '.1e')})"
        for r in exact
        if r.kind not in EXACT_KINDS
        or r.additivity is None
        or r.additivity > max(ADDITIVITY_MAX, r.tolerance)
    ]
    unfinished = [f"{r.shape} (exit {r.code})" for r in rows if r.code not in (0, 1)]
    fallbacks = [r for r in models if not r.exact_expected]
    unexplained = [r.shape for r in fallbacks if r.kind != "permutation" or not r.reason]

    def took(r: Audited) -> float | None:
        return r.alone_seconds if r.alone_seconds is not None else r.explain_seconds

    slow = [
        f"{r.shape} ({num(took(r), '.0f')} s)"
        for r in fallbacks
        if not ((took(r) or float("inf")) < FALLBACK_MAX_SECONDS or budget_stopped(r))
    ]
    return [
        (
            f"tree and linear shapes use an exact explainer, additivity error <= {ADDITIVITY_MAX:g} "
            "(XGBoost: its float32 rounding, as the record states)",
            not missed,
            f"{len(exact) - len(missed)} of {len(exact)}"
            + (f"; missed: {', '.join(missed)}" if missed else ""),
        ),
        (
            "every audit finishes (exit 0 or 1)",
            not unfinished,
            f"{len(rows) - len(unfinished)} of {len(rows)}"
            + (f"; not: {', '.join(unfinished)}" if unfinished else ""),
        ),
        (
            "shapes without an exact explainer fall back to permutation and record why",
            not unexplained,
            f"{len(fallbacks) - len(unexplained)} of {len(fallbacks)}"
            + (f"; not: {', '.join(unexplained)}" if unexplained else ""),
        ),
        (
            f"fallbacks explain in < {FALLBACK_MAX_SECONDS:.0f} s or record the budget that stopped them",
            not slow,
            f"{len(fallbacks) - len(slow)} of {len(fallbacks)}"
            + (f"; not: {', '.join(slow)}" if slow else ""),
        ),
    ]


def verdict(ok: bool) -> str:
    """Return PASS or FAIL."""
    return "PASS" if ok else "FAIL"


# --- main -----------------------------------------------------------------------------------------


def main() -> int:
    """Train the zoo, audit every shape through the CLI, print the table and targets; 1 if one is missed."""
    names = [s.name for s in ZOO] + [PREDICTIONS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"audit only this shape (repeatable): {', '.join(names)}",
    )
    parser.add_argument("--rows", type=int, help="subsample the 16,281-row holdout to N rows (seeded)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="also time the explanation check alone in this process (pack settings)",
    )
    parser.add_argument("--policy", default="kr-public-service", help="policy pack: shipped id or YAML path")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the models and the subsample")
    parser.add_argument(
        "--workdir", type=Path, help="keep models, data and ledger here (default: a temp dir)"
    )
    parser.add_argument(
        "--no-pickle-fallback",
        action="store_true",
        help="no re-audit as a trusted pickle when the CLI refuses a skops file",
    )
    args = parser.parse_args()
    chosen = [s for s in ZOO if not args.only or s.name in args.only]
    predictions = not args.only or PREDICTIONS in args.only

    train, test = adult_split()
    holdout = holdout_rows(test, args.rows, args.seed)
    x, y = train[FEATURES], (train[LABEL] == POSITIVE).to_numpy(int)
    categories = {c: sorted(train[c].dropna().unique()) for c in CATEGORICAL}
    print(
        f"UCI Adult: {len(train):,} training rows, holdout {len(holdout):,} of {len(test):,} rows "
        f"(seed {args.seed}); {len(FEATURES)} inputs; {os.cpu_count()} cores; policy {args.policy}"
    )

    rows: list[Audited] = []
    fidelity: dict[str, float | None] = {}
    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="assay-zoo-")))
        work.mkdir(parents=True, exist_ok=True)
        files = {
            "csv": work / "holdout.csv",
            "parquet": work / "holdout-categories.parquet",
            "service": work / "service.yaml",
            "ledger": work / f"ledger-{time.time_ns()}",
        }
        holdout.to_csv(files["csv"], index=False)
        # pandas `category` columns survive only in Parquet; their categories are the training file's.
        with_categories(holdout, categories).to_parquet(files["parquet"], index=False)
        files["service"].write_text(yaml.safe_dump(SERVICE, allow_unicode=True, sort_keys=False))
        env = {
            **os.environ,
            "PREFECT_HOME": str(work / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
            "GX_ANALYTICS_ENABLED": "false",
        }
        fitted: dict[str, Any] = {}
        for shape in chosen:
            xs = with_categories(x, categories) if shape.category_dtype else x
            start = time.perf_counter()
            # One OpenMP thread: on a busy machine spinning threads made one fit take minutes.
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore")  # convergence and feature-name chatter
                fitted[shape.name] = shape.fit(xs[shape.features], y, args.seed)
            fit_seconds = time.perf_counter() - start
            row = run_shape(shape, fitted[shape.name], files, work, args, env)
            rows.append(row)
            print(
                f"{shape.name}: fit {fit_seconds:.1f} s; {row.intake}; exit {row.code}; {row.kind} "
                f"{row.explainer}; additivity {num(row.additivity, '.2e')}; audit {row.seconds:.1f} s"
                + (f"; {row.error}" if row.error else ""),
                flush=True,
            )
            for note in row.notes:
                print(f"  note: {note}", flush=True)
        if predictions:
            model = fitted.get("hgb-ordinal")
            if model is None:
                with threadpool_limits(1):
                    model = fit_hgb_ordinal(x, y, args.seed)
            row, fidelity = run_predictions(model, holdout, files, work, args, env)
            rows.append(row)
            print(
                f"{PREDICTIONS}: exit {row.code}; surrogate {row.explainer} ({row.kind}); "
                f"surrogate_r2 {num(fidelity['surrogate_r2'], '.4f')}, "
                f"surrogate_agreement {num(fidelity['surrogate_agreement'], '.4f')}; "
                f"audit {row.seconds:.1f} s",
                flush=True,
            )

    print("\n" + markdown(rows))
    if fidelity:
        print(
            f"\n{PREDICTIONS} (explain.surrogate): surrogate_r2 {num(fidelity['surrogate_r2'], '.4f')}, "
            f"surrogate_agreement {num(fidelity['surrogate_agreement'], '.4f')}"
        )
    notes = [f"{r.shape}: {note}" for r in rows for note in r.notes]
    if notes:
        print("\nnotes:\n" + "\n".join(f"  {line}" for line in notes))
    print()
    checks = targets(rows)
    for name, ok, measured in checks:
        print(f"{verdict(ok)}  {name}: {measured}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
