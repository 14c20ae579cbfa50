"""Transformed columns are traced to the inputs they come from, for every common preprocessing shape.

The mapping is read from the fitted transformers (never from column names) and confirmed on a probe;
a step that mixes inputs is refused with a reason that names the column and the inputs.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.impute import KNNImputer, MissingIndicator, SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    KBinsDiscretizer,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    SplineTransformer,
    StandardScaler,
    TargetEncoder,
)

from assay.checks.feature_map import Unmappable, column_inputs

FEATURES = ["age", "region", "income", "job", "empty"]
CATEGORICAL = ["region", "job"]
NUMERIC = ["age", "income"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """400 seeded rows: two categoricals (one with a rare level), two numbers with gaps, one all-NaN."""
    rng = np.random.default_rng(3)
    n = 400
    income = rng.lognormal(8, 1, n)
    income[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype(float),
            "region": rng.choice(
                ["north", "south", "east", "west", "isle"], n, p=[0.4, 0.3, 0.2, 0.095, 0.005]
            ),
            "income": income,
            "job": rng.choice(["clerk", "farmer", "nurse"], n),
            "empty": np.full(n, np.nan),
        }
    )


def _target(frame: pd.DataFrame) -> np.ndarray:
    return (frame["age"] > 50).to_numpy(dtype=int)


def _mapped(pre, frame: pd.DataFrame, features: list[str] = FEATURES) -> list[str]:
    pre.fit(frame[features], _target(frame))
    mapping = column_inputs(pre, features, frame.iloc[:256])
    n_out = pre.transform(frame[features].iloc[:5]).shape[1]
    assert len(mapping) == n_out
    return mapping


def _counts(mapping: list[str]) -> dict[str, int]:
    return {f: mapping.count(f) for f in dict.fromkeys(mapping)}


def test_one_hot_and_scaler_with_verbose_names_and_a_dropped_remainder(frame) -> None:
    pre = ColumnTransformer(
        [("oh", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL), ("sc", StandardScaler(), ["age"])],
        remainder="drop",
    )
    mapping = _mapped(pre, frame)
    # One column per level, in the encoder's order; the dropped inputs (income, empty) map to nothing.
    assert mapping == ["region"] * 5 + ["job"] * 3 + ["age"]


@pytest.mark.parametrize("verbose", [True, False])
def test_ordinal_encoder_with_passthrough_remainder_in_either_naming(frame, verbose) -> None:
    pre = ColumnTransformer(
        [("ord", OrdinalEncoder(), CATEGORICAL)], remainder="passthrough", verbose_feature_names_out=verbose
    )
    assert _mapped(pre, frame) == ["region", "job", "age", "income", "empty"]


def test_one_hot_dropping_first_level_and_grouping_infrequent_levels(frame) -> None:
    encoder = OneHotEncoder(drop="first", min_frequency=10, handle_unknown="infrequent_if_exist")
    pre = ColumnTransformer([("oh", encoder, CATEGORICAL)], remainder="drop")
    # region: north, south, east, west + one infrequent bucket (isle), minus the dropped first level.
    assert _counts(_mapped(pre, frame)) == {"region": 4, "job": 2}


def test_imputer_with_missing_indicators_drops_the_empty_column_and_keeps_indicators(frame) -> None:
    pre = ColumnTransformer(
        [("num", SimpleImputer(add_indicator=True), ["age", "income", "empty"])], remainder="drop"
    )
    # age, income kept (empty has no statistic and is dropped); indicators for income and empty.
    assert _mapped(pre, frame) == ["age", "income", "income", "empty"]


def test_nested_pipelines_selectors_and_pandas_output(frame) -> None:
    numeric = make_pipeline(SimpleImputer(), StandardScaler(), MinMaxScaler())
    categorical = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(sparse_output=False))
    pre = ColumnTransformer(
        [
            ("num", numeric, make_column_selector(dtype_include="number")),
            ("cat", categorical, make_column_selector(dtype_include=object)),
        ]
    ).set_output(transform="pandas")
    features = ["age", "region", "income", "job"]
    assert _counts(_mapped(pre, frame, features)) == {"age": 1, "income": 1, "region": 5, "job": 3}


def test_target_encoder_spline_bins_and_function_transformer(frame) -> None:
    pre = ColumnTransformer(
        [
            ("te", TargetEncoder(random_state=0), CATEGORICAL),
            ("spline", SplineTransformer(n_knots=4, degree=2), ["age"]),
            (
                "bins",
                KBinsDiscretizer(n_bins=3, encode="onehot", quantile_method="averaged_inverted_cdf"),
                ["age"],
            ),
            ("log", FunctionTransformer(np.log1p), ["income"]),
        ],
        remainder="drop",
    )
    features = ["age", "region", "income", "job"]
    assert _counts(_mapped(pre, frame, features)) == {"region": 1, "job": 1, "age": 5 + 3, "income": 1}


def test_feature_union_and_missing_indicator(frame) -> None:
    union = FeatureUnion(
        [("scaled", make_pipeline(SimpleImputer(), StandardScaler())), ("gaps", MissingIndicator())]
    )
    pre = ColumnTransformer([("num", union, ["age", "income"])], remainder="drop")
    assert _mapped(pre, frame) == ["age", "income", "income"]


class Doubler(TransformerMixin, BaseEstimator):
    """An unfamiliar step that keeps columns apart: traced by the probe alone."""

    def fit(self, x, y=None):
        self.n_features_in_ = np.asarray(x).shape[1]
        return self

    def transform(self, x):
        return np.asarray(x, dtype=float) * 2


class Mixer(TransformerMixin, BaseEstimator):
    """An unfamiliar step that adds its first input into every column."""

    def fit(self, x, y=None):
        self.n_features_in_ = np.asarray(x).shape[1]
        return self

    def transform(self, x):
        x = np.asarray(x, dtype=float)
        return x + x[:, :1]


def test_an_unfamiliar_step_that_keeps_columns_apart_is_traced_by_the_probe(frame) -> None:
    pre = make_pipeline(
        ColumnTransformer([("ord", OrdinalEncoder(), CATEGORICAL)], remainder="drop"), Doubler()
    )
    assert _mapped(pre, frame) == ["region", "job"]


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (PCA(n_components=2), "PCA computes each column from several inputs"),
        (PolynomialFeatures(2), "PolynomialFeatures computes each column from several inputs"),
        (KNNImputer(), "KNNImputer computes each column from several inputs"),
        (Mixer(), "transformed column 1 is computed from several inputs (age, income)"),
        (FunctionTransformer(lambda x: np.asarray(x) + np.asarray(x)[:, :1]), "moves with input 'age'"),
    ],
    ids=["pca", "polynomial", "knn-imputer", "unfamiliar-mixer", "mixing-function"],
)
def test_a_step_that_mixes_inputs_is_refused_with_the_reason(frame, step, reason) -> None:
    features = ["age", "income"]
    pre = Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler()), ("mix", step)])
    pre.fit(frame[features], _target(frame))
    with pytest.raises(Unmappable, match=re.escape(reason)):
        column_inputs(pre, features, frame.iloc[:256])


def test_columns_picked_by_label_slice_position_slice_and_mask(frame) -> None:
    features = ["age", "income", "job"]
    by_label = ColumnTransformer([("sc", StandardScaler(), slice("age", "income"))], remainder="drop")
    assert _mapped(by_label, frame, features) == ["age", "income"]  # a label slice includes its stop
    keep_job = ("keep", "passthrough", [False, False, True])
    by_position = ColumnTransformer([("sc", StandardScaler(), slice(0, 1)), keep_job])
    assert _mapped(by_position, frame, features) == ["age", "job"]
