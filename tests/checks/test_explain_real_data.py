"""Explanations of models trained on real published data: the UCI Adult census files.

The shapes vendors ship most (a ColumnTransformer before gradient boosting or a logistic regression)
must get exact explainers on Adult's 11 inputs, with one-hot levels summed back onto their input;
a PCA in the pipeline falls back to permutation SHAP with the reason; and the explanation check
run on a real holdout records its explainer, the precision it reached and what stopped it.
bench/model_zoo.py runs 12 shapes through the whole audit on all 16,281 test rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from realdata import adult_split
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from synthetic import make_profile
from threadpoolctl import threadpool_limits

from assay.checks.context import AuditContext, CheckSettings
from assay.checks.explain import global_importance
from assay.checks.explainers import choose_explainer
from assay.models.candidate import EstimatorModel

FEATURES = [
    "age", "workclass", "education", "education-num", "marital-status", "occupation", "relationship",
    "capital-gain", "capital-loss", "hours-per-week", "native-country",
]  # fmt: skip

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Return 8,000 training rows, their labels and 3,000 test rows (seeded draws of the files)."""
    train, test = adult_split()
    train = train.sample(8000, random_state=1).reset_index(drop=True)
    test = test.sample(3000, random_state=2).reset_index(drop=True)
    return train, (train["income"] == ">50K").to_numpy(int), test


def _categorical(frame: pd.DataFrame) -> list[str]:
    return [f for f in FEATURES if not pd.api.types.is_numeric_dtype(frame[f])]


def _one_hot(frame: pd.DataFrame) -> ColumnTransformer:
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    numeric = [f for f in FEATURES if f not in _categorical(frame)]
    return ColumnTransformer([("cat", categorical, _categorical(frame)), ("num", StandardScaler(), numeric)])


def _fitted(model, adult) -> EstimatorModel:
    train, y, _ = adult
    with threadpool_limits(1):
        model.fit(train[FEATURES], y)
    return EstimatorModel(model, FEATURES, positive_class=1)


def test_real_pipelines_get_exact_explainers_and_pca_falls_back(adult) -> None:
    train, _, test = adult
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    ordinal = ColumnTransformer([("cat", encoder, _categorical(train))], remainder="passthrough")
    shapes = {
        "tree": make_pipeline(ordinal, HistGradientBoostingClassifier(max_iter=50, random_state=0)),
        "linear": make_pipeline(_one_hot(train), LogisticRegression(max_iter=300)),
        "permutation": make_pipeline(_one_hot(train), PCA(n_components=10), LogisticRegression()),
    }
    for kind, model in shapes.items():
        access = _fitted(model, adult)
        explainer = choose_explainer(access, test, seed=3, background_rows=20, max_evals=30)
        assert explainer.kind == kind, explainer.fallback
        att = explainer.attribute(test.iloc[:200])
        assert att.values.shape == (200, len(FEATURES)) and att.additivity_error() <= 1e-6
        np.testing.assert_allclose(
            1 / (1 + np.exp(-att.output)), access.predict_scores(test.iloc[:200]), rtol=0, atol=1e-6
        )
    assert "its step PCA computes each column from several inputs" in explainer.fallback


def test_the_check_on_a_real_holdout_records_explainer_precision_and_stop(adult) -> None:
    _, _, test = adult
    access = _fitted(make_pipeline(_one_hot(test), LogisticRegression(max_iter=300)), adult)
    scores = access.predict_scores(test)
    sensitive = test[["race", "sex"]].astype(str)
    ctx = AuditContext(
        profile=make_profile("race", "sex", favourable=True, reference={"race": "White"}),
        data=test,
        settings=CheckSettings(n_boot=200, explain_seconds=1e9),  # not stopped by a loaded machine
        seed=5,
        scores=scores,
        decisions=(scores >= 0.5).astype(int),
        sensitive=sensitive,
        model=access,
    )
    result = global_importance(ctx)
    explainer, sample = result.details["explainer"], result.details["sample"]
    assert explainer["name"] == "shap.LinearExplainer" and explainer["fallback"] == ""
    assert explainer["additivity_tolerance"] == 1e-6
    assert sample["stopped_by"] in ("tolerance", "census") and sample["time_budget_seconds"] == 1e9
    halfwidth = next(m.value for m in result.metrics if m.metric == "importance_halfwidth")
    # 0 when every row was explained: a census has no sampling error left.
    assert 0 <= halfwidth < 0.05 and f"± {halfwidth:.3f}" in " ".join(result.messages)
    # Relationship and marital status lead a linear model of Adult's income: 7 and 6 one-hot
    # levels, each summed onto its input.
    assert set(result.details["ranking"][:3]) & {"relationship", "marital-status"}
