"""Every common shape of a vendor's model gets an exact explainer, or says why it cannot.

Each shape is fitted on seeded synthetic rows, wrapped as the audit wraps a skops model, and must
get an exact explainer whose contributions add up to the model's output within 1e-6 and reproduce
the audited scores, with one contribution per input the vendor declared (one-hot columns summed).
Shapes no exact explainer reads fall back to permutation SHAP with the reason recorded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from assay.checks.explainers import additivity_tolerance, choose_explainer
from assay.models.candidate import EstimatorModel

FEATURES = ["age", "region", "income", "job"]
CATEGORICAL = ["region", "job"]
NUMERIC = ["age", "income"]

pytestmark = [
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """1,500 seeded rows; income has gaps; the label rises with age, income and region north."""
    rng = np.random.default_rng(19)
    n = 1500
    data = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype(float),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "income": rng.lognormal(8, 0.7, n),
            "job": rng.choice(["clerk", "farmer", "nurse"], n),
        }
    )
    logit = 0.05 * (data["age"] - 50) + 0.6 * np.log(data["income"] / 3000) + (data["region"] == "north")
    data["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    data.loc[rng.random(n) < 0.08, "income"] = np.nan
    return data


def _ordinal(verbose: bool = True) -> ColumnTransformer:
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return ColumnTransformer(
        [("cat", encoder, CATEGORICAL)], remainder="passthrough", verbose_feature_names_out=verbose
    )


def _one_hot_scaled() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("num", make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()), NUMERIC),
        ]
    )


def _target_encoded() -> ColumnTransformer:
    return ColumnTransformer(
        [("cat", TargetEncoder(random_state=0), CATEGORICAL), ("num", SimpleImputer(), NUMERIC)]
    ).set_output(transform="pandas")


def _lightgbm():
    lightgbm = pytest.importorskip("lightgbm")
    return lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, verbose=-1, random_state=0, n_jobs=1)


def _xgboost(**extra):
    xgboost = pytest.importorskip("xgboost")
    return xgboost.XGBClassifier(n_estimators=30, max_depth=4, n_jobs=1, random_state=0, **extra)


SHAPES = {
    "ordinal+hist-gradient-boosting": (
        lambda: make_pipeline(_ordinal(), HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        "tree",
    ),
    "ordinal-short-names+random-forest": (
        lambda: make_pipeline(
            _ordinal(False),
            SimpleImputer(),
            RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0, n_jobs=1),
        ),
        "tree",
    ),
    "one-hot-scaled+logistic": (
        lambda: make_pipeline(_one_hot_scaled(), LogisticRegression(max_iter=500)),
        "linear",
    ),
    "one-hot-scaled+gradient-boosting": (
        lambda: make_pipeline(_one_hot_scaled(), GradientBoostingClassifier(n_estimators=30, random_state=0)),
        "tree",
    ),
    "one-hot-scaled+calibrated-linear-svm": (
        lambda: make_pipeline(
            _one_hot_scaled(), CalibratedClassifierCV(LinearSVC(), method="sigmoid", ensemble=False)
        ),
        "linear",
    ),
    "target-encoded-pandas+logistic": (
        lambda: make_pipeline(_target_encoded(), StandardScaler(), LogisticRegression()),
        "linear",
    ),
    "ordinal+lightgbm": (lambda: make_pipeline(_ordinal(), _lightgbm()), "native"),
    "one-hot-scaled+xgboost": (lambda: make_pipeline(_one_hot_scaled(), _xgboost()), "native"),
}


def _audited(model, frame: pd.DataFrame, features: list[str] = FEATURES) -> EstimatorModel:
    model.fit(frame[features], frame["y"])
    return EstimatorModel(model, features, positive_class=1)


def _assert_exact(explainer, access, rows: pd.DataFrame) -> np.ndarray:
    att = explainer.attribute(rows)
    assert att.values.shape == (len(rows), len(access.features))
    # 1e-6, or XGBoost's float32 rounding (about 1e-6 on its margins)
    assert att.additivity_error() <= additivity_tolerance(explainer, att) <= 1e-5
    explained = 1 / (1 + np.exp(-att.output)) if explainer.scale == "log-odds" else att.output
    np.testing.assert_allclose(explained, access.predict_scores(rows), rtol=0, atol=1e-6)
    return att.values


@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_pipeline_shape_gets_an_exact_explainer_per_input(frame, shape) -> None:
    build, kind = SHAPES[shape]
    access = _audited(build(), frame.iloc[:1000])
    explainer = choose_explainer(access, frame.iloc[:1000], seed=1, background_rows=20, max_evals=50)
    assert explainer.kind == kind, explainer.fallback
    values = _assert_exact(explainer, access, frame.iloc[1000:])
    # The inputs the label depends on carry more attribution than the one it ignores.
    share = np.abs(values).mean(axis=0)
    assert share[FEATURES.index("job")] < min(share[FEATURES.index("age")], share[FEATURES.index("region")])


def test_a_linear_model_on_one_hot_columns_sums_their_coefficients_back_onto_the_input(frame) -> None:
    access = _audited(SHAPES["one-hot-scaled+logistic"][0](), frame.iloc[:1000])
    explainer = choose_explainer(access, frame.iloc[:1000], seed=1, background_rows=20, max_evals=50)
    rows = frame.iloc[1000:1010]
    values = explainer.attribute(rows).values
    # Exact linear SHAP of region: its one-hot coefficients times (indicator − background mean).
    pre, final = access.native()[:-1], access.native()[-1]
    coef = final.coef_[0][:4]
    centred = pre.transform(rows[FEATURES])[:, :4] - explainer.background[:, :4].mean(axis=0)
    np.testing.assert_allclose(values[:, FEATURES.index("region")], np.asarray(centred) @ coef, atol=1e-9)


def test_inputs_in_another_order_than_the_data_are_explained_in_the_models_order(frame) -> None:
    order = ["job", "income", "region", "age"]
    access = _audited(
        make_pipeline(_ordinal(), HistGradientBoostingClassifier(max_iter=20)), frame.iloc[:1000], order
    )
    explainer = choose_explainer(access, frame.iloc[:1000], seed=1, background_rows=20, max_evals=50)
    assert explainer.kind == "tree" and explainer.features == order
    _assert_exact(explainer, access, frame.iloc[1000:1100])


def test_lightgbm_and_xgboost_on_pandas_categories_use_their_own_tree_shap(frame) -> None:
    cats = frame.astype({c: "category" for c in CATEGORICAL})
    for model in (_lightgbm(), _xgboost(enable_categorical=True, tree_method="hist")):
        access = _audited(model, cats.iloc[:1000])
        explainer = choose_explainer(access, cats.iloc[:1000], seed=1, background_rows=20, max_evals=50)
        assert explainer.kind == "native", explainer.fallback
        _assert_exact(explainer, access, cats.iloc[1000:])
    # shap misreads XGBoost's categorical splits without raising (its values miss the model's output
    # by 0.03-0.1 here): it is not taken as the reference that would refuse the library's own values.
    assert "shap.TreeExplainer cannot read this model" in explainer.note


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (
            lambda: make_pipeline(_one_hot_scaled(), PCA(n_components=5), LogisticRegression()),
            "cannot be traced to its inputs: its step PCA computes each column from several inputs",
        ),
        (
            lambda: make_pipeline(
                _one_hot_scaled(), CalibratedClassifierCV(LinearSVC(), method="isotonic", cv=3)
            ),
            "no exact explainer reads CalibratedClassifierCV",
        ),
    ],
    ids=["pca", "isotonic-calibration"],
)
def test_shapes_without_an_exact_explainer_fall_back_and_say_why(frame, build, reason) -> None:
    access = _audited(build(), frame.iloc[:1000])
    explainer = choose_explainer(access, frame.iloc[:1000], seed=1, background_rows=10, max_evals=20)
    assert explainer.kind == "permutation"
    assert reason in explainer.fallback
    _assert_exact(explainer, access, frame.iloc[1000:1010])


def test_permutation_on_the_preprocessed_columns_equals_permutation_through_the_scores(frame) -> None:
    from sklearn.neural_network import MLPClassifier

    from assay.checks.explainers import Background, Explainer, TransformedBackground

    model = make_pipeline(
        _one_hot_scaled(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)
    )
    access = _audited(model, frame.iloc[:1000])
    fast = choose_explainer(access, frame.iloc[:1000], seed=4, background_rows=15, max_evals=30)
    assert fast.kind == "permutation" and isinstance(fast.background, TransformedBackground)
    assert "through the final MLPClassifier on the preprocessed columns" in fast.note
    assert "no exact explainer reads MLPClassifier" in fast.fallback
    # The same orders and background rows, sent through the vendor's whole pipeline row by row.
    slow = Explainer(
        **{**fast.__dict__, "model": access, "pre": None, "col_feature": [], "_cache": None},
    )
    slow.background = Background.sample(frame.iloc[:1000], FEATURES, 15, 4)
    rows = frame.iloc[1000:1040]
    a, b = fast.attribute(rows), slow.attribute(rows)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-9)
    assert a.base == pytest.approx(b.base, abs=1e-12)
    _assert_exact(fast, access, rows)


def test_catboost_with_its_own_categorical_features_uses_its_own_tree_shap(frame) -> None:
    catboost = pytest.importorskip("catboost")
    x = frame.fillna({"income": frame["income"].median()})
    model = catboost.CatBoostClassifier(
        iterations=40,
        depth=4,
        verbose=0,
        random_seed=0,
        thread_count=1,
        cat_features=CATEGORICAL,
        allow_writing_files=False,
    )
    access = _audited(model, x.iloc[:1000])
    explainer = choose_explainer(access, x.iloc[:1000], seed=1, background_rows=20, max_evals=50)
    assert explainer.kind == "native", explainer.fallback
    _assert_exact(explainer, access, x.iloc[1000:])
