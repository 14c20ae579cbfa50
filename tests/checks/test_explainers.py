"""Explainers are chosen per model family, add up exactly and reproduce the audited scores.

What this file proves, on small seeded synthetic data:
- `choose_explainer` picks the exact explainer a model family allows (shap's TreeExplainer for
  scikit-learn trees and pipelines, LightGBM's own contributions, shap's LinearExplainer for linear
  models) and the permutation explainer otherwise; every choice adds up (base + contributions ==
  explained output to 1e-6), reports one column per *input* feature and reproduces the audited
  scores (sigmoid of the output on the log-odds scale, the output itself on the probability scale).
- a positive class that is not the estimator's last class, or scores that are not the estimator's
  own probabilities, are oriented or sent through the scores (permutation), never explained wrongly.
- `attribute_rows` gives the same values serially, on two local processes and through a chunk hook.
- the stratified sampler of `attribution.py` draws nested samples with the allotments, census flags
  and weights it promises, and the summaries built on it (weighted means, bootstrap replicates,
  stability, rank correlation, dependence bins) behave as documented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from assay.checks.attribution import (
    StratifiedSampler,
    rank_correlation,
    replicate_means,
    shares,
    split_halves_stability,
    top_halfwidth,
    weighted_mean,
)
from assay.checks.attribution import dependence as dependence_bins
from assay.checks.explainers import Attribution, Background, Explainer, attribute_rows, choose_explainer
from assay.models.candidate import EstimatorModel

FEATURES = ["x1", "x2", "noise", "region"]
NUMBERS = ["x1", "x2", "noise"]
ROWS = 2000

# Explainers feed arrays to estimators fitted on frames (sklearn warns about the missing names); the
# small networks here stop before they converge, on purpose.
pytestmark = [
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread_per_process():
    """Keep OpenMP and BLAS to one thread: spinning threads on a shared 2-core box cost seconds."""
    with threadpool_limits(limits=1):
        yield


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Rows whose positive class grows with x1 and `north`, falls with x2, ignores `noise`."""
    rng = np.random.default_rng(11)
    x = pd.DataFrame(
        {
            "x1": rng.normal(size=ROWS),
            "x2": rng.normal(size=ROWS),
            "noise": rng.normal(size=ROWS),
            "region": rng.choice(["north", "south", "east"], size=ROWS),
        }
    )
    logit = 1.5 * x["x1"] - 1.0 * x["x2"] + 1.0 * (x["region"] == "north")
    x["y"] = (rng.random(ROWS) < _sigmoid(logit.to_numpy())).astype(int)
    return x


class Access:
    """A ModelAccess over a fitted classifier; `column` picks the predict_proba column audited."""

    def __init__(self, est, features, column=1, positive_column=None, transform=None) -> None:
        self.est, self.features, self.column, self.transform = est, list(features), column, transform
        if positive_column is not None:
            self.positive_column = positive_column

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        p = self.est.predict_proba(data[self.features])[:, self.column]
        return self.transform(p) if self.transform is not None else p

    def native(self):
        return self.est


class BlackBox:
    """No estimator, only scores: logit = 2·x1 − x2 + [region = north] (additive, so SHAP is exact)."""

    features = FEATURES

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        return _sigmoid(self.logit(data))

    @staticmethod
    def logit(data: pd.DataFrame) -> np.ndarray:
        north = (data["region"] == "north").to_numpy(dtype=float)
        return 2.0 * data["x1"].to_numpy(dtype=float) - data["x2"].to_numpy(dtype=float) + north

    def native(self):
        return None


def _explained(explainer: Explainer, att: Attribution) -> np.ndarray:
    return _sigmoid(att.output) if explainer.scale == "log-odds" else att.output


def _assert_exact(explainer: Explainer, access, x: pd.DataFrame) -> Attribution:
    """Attribute `x`: one column per input, additive to 1e-6, reproducing the audited scores."""
    att = explainer.attribute(x)
    assert att.values.shape == (len(x), len(access.features))
    assert att.additivity_error() < 1e-6
    np.testing.assert_allclose(_explained(explainer, att), access.predict_scores(x), rtol=0, atol=1e-6)
    return att


def _choose(access, data: pd.DataFrame, seed: int = 3, background_rows: int = 20, max_evals: int = 0):
    chosen = choose_explainer(access, data, seed=seed, background_rows=background_rows, max_evals=max_evals)
    assert isinstance(chosen, Explainer), chosen
    return chosen


def _one_hot_pipeline(final) -> object:
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(), ["region"])], remainder="passthrough", verbose_feature_names_out=False
    )
    return make_pipeline(pre, final)


# --- choice per model family ----------------------------------------------------------------------


def test_pipeline_with_one_hot_and_hist_gradient_boosting_gets_tree_shap_per_input(frame) -> None:
    model = _one_hot_pipeline(HistGradientBoostingClassifier(max_iter=25, random_state=0))
    model.fit(frame[FEATURES], frame["y"])
    access = Access(model, FEATURES)
    explainer = _choose(access, frame)
    assert (explainer.kind, explainer.name, explainer.scale) == ("tree", "shap.TreeExplainer", "log-odds")
    x = frame.iloc[:300]
    att = _assert_exact(explainer, access, x)

    # Independently: shap on the transformed columns, the one-hot codes summed onto `region`.
    pre, hgb = model[:-1], model[-1]
    names = list(pre.get_feature_names_out())
    raw = np.asarray(shap.TreeExplainer(hgb).shap_values(pre.transform(x[FEATURES])), dtype=float)
    assert raw.shape[1] == len(names) == 6  # three codes + three numbers
    for j, feature in enumerate(FEATURES):  # values follow model.features, not the transformed order
        cols = [i for i, n in enumerate(names) if n == feature or n.startswith(feature + "_")]
        np.testing.assert_allclose(att.values[:, j], raw[:, cols].sum(axis=1), rtol=0, atol=1e-9)
    region = FEATURES.index("region")
    north = (x["region"] == "north").to_numpy()
    assert att.values[north, region].mean() > 0 > att.values[~north, region].mean()


def test_gradient_boosting_gets_tree_shap_on_log_odds(frame) -> None:
    model = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)
    model.fit(frame[NUMBERS], frame["y"])
    access = Access(model, NUMBERS)
    explainer = _choose(access, frame)
    assert (explainer.kind, explainer.scale, explainer.sign) == ("tree", "log-odds", 1.0)
    att = _assert_exact(explainer, access, frame.iloc[:500])
    np.testing.assert_allclose(att.output, model.decision_function(frame[NUMBERS].iloc[:500]), atol=1e-12)


def test_random_forest_gets_tree_shap_on_probabilities(frame) -> None:
    model = RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0, n_jobs=1)
    model.fit(frame[NUMBERS], frame["y"])
    access = Access(model, NUMBERS)
    explainer = _choose(access, frame)
    assert (explainer.kind, explainer.name, explainer.scale) == ("tree", "shap.TreeExplainer", "probability")
    att = _assert_exact(explainer, access, frame.iloc[:500])
    np.testing.assert_allclose(att.output, access.predict_scores(frame.iloc[:500]), rtol=0, atol=1e-12)
    assert 0.0 < att.base < 1.0


def test_logistic_pipeline_gets_linear_shap_equal_to_coef_times_centred_inputs(frame) -> None:
    pre = ColumnTransformer(
        [("cat", OneHotEncoder(), ["region"]), ("num", StandardScaler(), NUMBERS)],
        verbose_feature_names_out=False,
    )
    model = make_pipeline(pre, LogisticRegression()).fit(frame[FEATURES], frame["y"])
    names = list(model[:-1].get_feature_names_out())
    lr = model[-1]
    lr.coef_[0, names.index("noise")] = 0.0  # a feature the model ignores exactly
    access = Access(model, FEATURES)
    explainer = _choose(access, frame, background_rows=30)
    assert (explainer.kind, explainer.name, explainer.scale) == ("linear", "shap.LinearExplainer", "log-odds")
    assert explainer.background.shape == (300, len(names))  # background_rows × 10 seeded rows
    assert "300 seeded rows" in explainer.note
    x = frame.iloc[:400]
    att = _assert_exact(explainer, access, x)

    mean = explainer.background.mean(axis=0)
    per_column = lr.coef_[0] * (model[:-1].transform(x[FEATURES]) - mean)
    for j, feature in enumerate(FEATURES):
        cols = [i for i, n in enumerate(names) if n == feature or n.startswith(feature + "_")]
        np.testing.assert_allclose(att.values[:, j], per_column[:, cols].sum(axis=1), rtol=0, atol=1e-9)
    assert att.base == pytest.approx(lr.intercept_[0] + lr.coef_[0] @ mean, abs=1e-9)
    assert np.all(att.values[:, FEATURES.index("noise")] == 0.0)
    assert np.abs(att.values[:, FEATURES.index("x1")]).mean() > 0.1


@pytest.mark.filterwarnings("ignore:LightGBM binary classifier with TreeExplainer")
def test_lightgbm_uses_native_contributions_equal_to_tree_shap(frame) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    model = lightgbm.LGBMClassifier(n_estimators=30, num_leaves=15, n_jobs=1, verbose=-1, random_state=0)
    model.fit(frame[NUMBERS], frame["y"])
    access = Access(model, NUMBERS)
    explainer = _choose(access, frame)
    assert explainer.kind == "native"
    assert explainer.name == "lightgbm native contributions (TreeSHAP)"
    assert explainer.scale == "log-odds"
    x = frame.iloc[:500]
    att = _assert_exact(explainer, access, x)
    reference = np.asarray(shap.TreeExplainer(model).shap_values(x[NUMBERS].to_numpy()), dtype=float)
    if reference.ndim == 3:
        reference = reference[..., 1]
    np.testing.assert_allclose(att.values, reference, rtol=0, atol=1e-6)
    assert np.corrcoef(x["x1"], att.values[:, 0])[0, 1] > 0.8


def test_mlp_without_trees_or_coefficients_gets_the_permutation_explainer(frame) -> None:
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0)
    model.fit(frame[NUMBERS].iloc[:600], frame["y"].iloc[:600])
    access = Access(model, NUMBERS)
    data = frame.iloc[:200]
    explainer = _choose(access, data, seed=5, background_rows=20, max_evals=4)
    assert (explainer.kind, explainer.name, explainer.scale) == (
        "permutation",
        "permutation SHAP",
        "log-odds",
    )
    # Raised to the least one antithetic pair of orders needs: both ends and 2 × (3 − 1) steps.
    assert explainer.max_evals == 2 + 2 * (len(NUMBERS) - 1)
    assert (
        "1 antithetic pairs" in explainer.note
        and "no exact explainer reads MLPClassifier" in explainer.fallback
    )
    assert "background of 20 rows" in explainer.note
    assert "(seed 5)" in explainer.note
    assert f"{explainer.max_evals} evaluations per row" in explainer.note
    _assert_exact(explainer, access, frame.iloc[200:220])

    # The background is the seeded draw the note describes: 20 rows of `data`, fixed by the seed.
    codes = explainer.background.codes
    assert codes.shape == (20, len(NUMBERS))
    assert set(map(tuple, codes)) <= set(map(tuple, data[NUMBERS].to_numpy()))
    again = Background.sample(data, NUMBERS, rows=20, seed=5)
    other = Background.sample(data, NUMBERS, rows=20, seed=6)
    np.testing.assert_array_equal(again.codes, codes)
    assert not np.array_equal(other.codes, codes)


def test_black_box_gets_exact_permutation_shap_of_an_additive_logit(frame) -> None:
    access = BlackBox()
    data = frame.iloc[:200]
    explainer = _choose(access, data, seed=2, background_rows=20)
    assert explainer.kind == "permutation"
    x = frame.iloc[200:240]
    att = _assert_exact(explainer, access, x)

    # For an additive logit the interventional SHAP value is the term minus its background mean.
    bg = explainer.background.decode(explainer.background.codes)
    north = (x["region"] == "north").to_numpy(dtype=float)
    expected = np.column_stack(
        [
            2.0 * (x["x1"].to_numpy() - bg["x1"].mean()),
            -(x["x2"].to_numpy() - bg["x2"].mean()),
            np.zeros(len(x)),
            north - (bg["region"] == "north").mean(),
        ]
    )
    np.testing.assert_allclose(att.values, expected, rtol=0, atol=1e-9)
    assert att.base == pytest.approx(BlackBox.logit(bg).mean(), abs=1e-9)


# --- the positive class ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yes_no(frame) -> tuple[pd.DataFrame, np.ndarray]:
    """Labels 'no'/'yes' where the audited positive class 'no' (classes_[0]) grows with x1."""
    return frame[NUMBERS], np.where(frame["y"] == 1, "no", "yes")


def test_positive_first_class_on_log_odds_flips_the_sign(frame, yes_no) -> None:
    x, labels = yes_no
    model = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(x, labels)
    assert list(model.classes_) == ["no", "yes"]
    access = EstimatorModel(model, NUMBERS, positive_class="no")
    explainer = _choose(access, frame)
    assert (explainer.kind, explainer.scale, explainer.sign) == ("tree", "log-odds", -1.0)
    rows = frame.iloc[:500]
    att = _assert_exact(explainer, access, rows)
    assert np.corrcoef(rows["x1"], att.values[:, 0])[0, 1] > 0.8  # x1 raises P(no)
    assert np.corrcoef(rows["x2"], att.values[:, 1])[0, 1] < -0.8


def test_positive_first_class_on_probabilities_uses_positive_column(frame, yes_no) -> None:
    x, labels = yes_no
    model = RandomForestClassifier(n_estimators=25, max_depth=6, random_state=0, n_jobs=1).fit(x, labels)
    access = Access(model, NUMBERS, column=0, positive_column=0)
    explainer = _choose(access, frame)
    assert (explainer.kind, explainer.scale, explainer.class_column) == ("tree", "probability", 0)
    rows = frame.iloc[:500]
    att = _assert_exact(explainer, access, rows)
    assert np.corrcoef(rows["x1"], att.values[:, 0])[0, 1] > 0.8


def test_skops_adapter_with_positive_first_class_on_probabilities_still_reproduces_scores(
    frame, yes_no
) -> None:
    # EstimatorModel keeps its positive column private (`_column`), so the tree explainer explains the
    # last class; the explanation must still be of the audited class (today: through permutation).
    x, labels = yes_no
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0, n_jobs=1).fit(x, labels)
    access = EstimatorModel(model, NUMBERS, positive_class="no")
    explainer = _choose(access, frame.iloc[:200])
    rows = frame.iloc[200:260]
    att = _assert_exact(explainer, access, rows)
    assert np.corrcoef(rows["x1"], att.values[:, 0])[0, 1] > 0.8


def test_scores_for_the_other_class_flip_the_tree_explainer(frame) -> None:
    model = GradientBoostingClassifier(n_estimators=30, random_state=0).fit(frame[NUMBERS], frame["y"])
    access = Access(model, NUMBERS, transform=lambda p: 1.0 - p)
    explainer = _choose(access, frame)
    assert (explainer.kind, explainer.sign) == ("tree", -1.0)
    rows = frame.iloc[:300]
    att = _assert_exact(explainer, access, rows)
    assert np.corrcoef(rows["x1"], att.values[:, 0])[0, 1] < -0.8


@pytest.mark.parametrize(
    "final",
    [
        GradientBoostingClassifier(n_estimators=20, random_state=0),
        RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0, n_jobs=1),
        LogisticRegression(),
    ],
    ids=["gradient-boosting", "random-forest", "logistic"],
)
def test_scores_unlike_the_native_estimator_fall_back_to_permutation(frame, final) -> None:
    model = clone(final).fit(frame[NUMBERS], frame["y"])
    access = Access(model, NUMBERS, transform=lambda p: p**2)
    explainer = _choose(access, frame.iloc[:100], background_rows=10)
    assert explainer.kind == "permutation"
    att = _assert_exact(explainer, access, frame.iloc[100:110])
    assert np.corrcoef(frame["x1"].iloc[100:110], att.values[:, 0])[0, 1] > 0.5


@pytest.mark.parametrize(
    "make",
    [
        lambda: AdaBoostClassifier(n_estimators=5, random_state=0),
        lambda: BaggingClassifier(DecisionTreeClassifier(max_depth=3), n_estimators=3, random_state=0),
        lambda: VotingClassifier(
            [("lr", LogisticRegression()), ("dt", DecisionTreeClassifier(max_depth=3))], voting="soft"
        ),
    ],
    ids=["adaboost", "bagging", "voting"],
)
def test_unsupported_sklearn_ensembles_fall_back_to_permutation(frame, make) -> None:
    model = make().fit(frame[NUMBERS], frame["y"])
    access = Access(model, NUMBERS)
    explainer = _choose(access, frame.iloc[:100], background_rows=10)
    assert explainer.kind == "permutation"
    _assert_exact(explainer, access, frame.iloc[100:110])


def test_hist_gradient_boosting_on_category_dtype_falls_back_to_permutation(frame) -> None:
    x = frame[FEATURES].iloc[:300].astype({"region": "category"})
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(x, frame["y"].iloc[:300])
    access = Access(model, FEATURES)
    explainer = _choose(access, x.iloc[:100], background_rows=10)
    assert explainer.kind == "permutation"
    _assert_exact(explainer, access, x.iloc[100:110])


# --- chunked attribution ---------------------------------------------------------------------------


def _assert_same(a: Attribution, b: Attribution, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=atol)
    np.testing.assert_allclose(a.output, b.output, rtol=0, atol=atol)
    assert a.base == pytest.approx(b.base, abs=atol)


def test_attribute_rows_is_the_same_serially_on_processes_and_through_a_chunk_hook(frame) -> None:
    model = _one_hot_pipeline(HistGradientBoostingClassifier(max_iter=20, random_state=0))
    model.fit(frame[FEATURES], frame["y"])
    explainer = _choose(Access(model, FEATURES), frame)
    assert explainer.kind == "tree"
    x = frame[FEATURES].iloc[:1000]
    whole = explainer.attribute(x)

    serial = attribute_rows(explainer, x, chunk_rows=300)
    calls: list[list[int]] = []

    def hook(fn, chunks):
        calls.append([len(c) for c in chunks])
        return [fn(c) for c in chunks]

    hooked = attribute_rows(explainer, x, chunk_rows=300, chunk_map=hook)
    parallel = attribute_rows(explainer, x, chunk_rows=300, workers=2)

    assert calls == [[300, 300, 300, 100]]
    for att in (serial, hooked, parallel):
        assert att.values.shape == (1000, len(FEATURES))
        _assert_same(att, whole)
    assert serial.additivity_error() < 1e-6

    empty = attribute_rows(explainer, x.iloc[:0], chunk_rows=300, workers=2)
    assert empty.values.shape == (0, len(FEATURES))
    assert empty.additivity_error() == 0.0


def test_permutation_values_do_not_depend_on_call_history_or_chunking(frame) -> None:
    model = MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0)
    model.fit(frame[NUMBERS].iloc[:600], (frame["x1"] * frame["x2"] > 0).iloc[:600])  # not additive
    explainer = _choose(Access(model, NUMBERS), frame.iloc[:100], background_rows=10)
    assert explainer.kind == "permutation"
    x = frame.iloc[100:120]
    first = explainer.attribute(x)
    _assert_same(explainer.attribute(x), first, atol=1e-9)
    _assert_same(attribute_rows(explainer, x, chunk_rows=5), first, atol=1e-9)
    _assert_same(attribute_rows(explainer, x, chunk_rows=5, workers=2), first, atol=1e-9)


# --- attribution.py: the stratified sample and its summaries ---------------------------------------


@pytest.fixture(scope="module")
def strata() -> np.ndarray:
    """Stratum codes of 10 000 rows in shuffled order: sizes 6000, 3000, 900, 80 and 20."""
    sizes = [6000, 3000, 900, 80, 20]
    codes = np.repeat(np.arange(len(sizes)), sizes)
    return np.random.default_rng(4).permutation(codes)


def test_stratified_draw_allots_weights_and_flags_census(strata) -> None:
    sampler = StratifiedSampler(strata, seed=1)
    sizes = np.bincount(strata)
    draw = sampler.draw(total=600, floor=50)
    counts = np.bincount(draw.strata, minlength=len(sizes))

    np.testing.assert_array_equal(draw.strata, strata[draw.positions])  # each row's own stratum
    assert np.all(np.diff(draw.positions) > 0)  # sorted, no repeats
    np.testing.assert_array_equal(counts, [360, 180, 54, 50, 20])  # ceil(600·share), floor 50, all 20
    assert np.all(counts >= np.minimum(sizes, 50))
    assert np.all(counts <= sizes)
    np.testing.assert_array_equal(draw.census, [False, False, False, False, True])
    np.testing.assert_allclose(draw.weights, sizes[draw.strata] / counts[draw.strata], rtol=1e-15)
    assert draw.weights.sum() == pytest.approx(len(strata), rel=1e-12)
    assert len(draw) == counts.sum()

    whole = sampler.draw(total=20, floor=10_000)
    assert whole.census.all()
    np.testing.assert_array_equal(whole.positions, np.arange(len(strata)))
    np.testing.assert_array_equal(whole.weights, np.ones(len(strata)))


def test_stratified_draws_are_nested_and_seeded(strata) -> None:
    sampler = StratifiedSampler(strata, seed=1)
    previous: set[int] = set()
    for total, floor in [(100, 10), (600, 10), (600, 50), (3000, 50), (3000, 200)]:
        positions = set(sampler.draw(total, floor).positions.tolist())
        assert previous <= positions, (total, floor)
        assert len(positions) > len(previous)
        previous = positions
    same = StratifiedSampler(strata, seed=1).draw(600, 50).positions
    other = StratifiedSampler(strata, seed=2).draw(600, 50).positions
    np.testing.assert_array_equal(same, sampler.draw(600, 50).positions)
    assert not np.array_equal(other, same)


def test_weighted_mean_over_the_draw_estimates_the_population_mean(strata) -> None:
    rng = np.random.default_rng(8)
    values = np.column_stack(
        [10.0 * strata + rng.normal(size=len(strata)), rng.exponential(size=len(strata))]
    )
    population = values.mean(axis=0)
    sampler = StratifiedSampler(strata, seed=3)

    draw = sampler.draw(total=600, floor=50)  # small strata heavily over-sampled
    estimate = weighted_mean(values[draw.positions], draw.weights)
    unweighted = values[draw.positions].mean(axis=0)
    assert abs(estimate[0] - population[0]) < 0.1
    assert abs(unweighted[0] - population[0]) > 1.0
    assert abs(estimate[1] - population[1]) < 0.15

    census = sampler.draw(total=len(strata), floor=0)
    assert census.census.all()
    np.testing.assert_allclose(
        weighted_mean(values[census.positions], census.weights), population, atol=1e-12
    )
    np.testing.assert_array_equal(weighted_mean(values[:0], np.zeros(0)), [0.0, 0.0])


def test_replicate_means_have_zero_width_only_where_strata_are_census(strata) -> None:
    rng = np.random.default_rng(9)
    values = np.column_stack([strata + rng.normal(size=len(strata)), rng.random(len(strata))])
    sampler = StratifiedSampler(strata, seed=5)

    census = sampler.draw(total=len(strata), floor=0)
    everyone = np.ones(len(census), dtype=bool)
    (reps,) = replicate_means(values[census.positions], census, [everyone], n_boot=150, seed=0)
    assert reps.shape == (150, 2)
    assert np.ptp(reps, axis=0).max() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(reps[0], values.mean(axis=0), atol=1e-12)

    draw = sampler.draw(total=600, floor=50)  # only the 20-row stratum is census
    sample = values[draw.positions]
    everyone = np.ones(len(draw), dtype=bool)
    smallest = draw.strata == 4
    all_reps, census_reps = replicate_means(sample, draw, [everyone, smallest], n_boot=250, seed=0)
    assert all_reps.shape == census_reps.shape == (250, 2)
    assert np.all(np.ptp(all_reps, axis=0) > 0.01)
    assert np.ptp(census_reps, axis=0).max() == pytest.approx(0.0, abs=1e-12)
    point = weighted_mean(sample, draw.weights)
    low, high = np.quantile(all_reps, [0.025, 0.975], axis=0)
    assert np.all((low <= point) & (point <= high))
    again = replicate_means(sample, draw, [everyone], n_boot=250, seed=0)[0]
    np.testing.assert_array_equal(again, all_reps)

    assert top_halfwidth(np.abs(values[census.positions]), census, 100, 0.95, top=2, seed=0) == 0.0
    half = top_halfwidth(np.abs(sample), draw, 200, 0.95, top=2, seed=0)
    assert 0.0 < half < 0.1


def test_shares_split_each_row_and_leave_zero_rows_at_zero() -> None:
    out = shares(np.array([[1.0, 3.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(out, [[0.25, 0.75], [0.0, 0.0]])


def test_split_halves_stability_and_rank_correlation(strata) -> None:
    sampler = StratifiedSampler(strata, seed=6)
    draw = sampler.draw(total=600, floor=50)
    rng = np.random.default_rng(10)
    separated = np.array([1.0, 4.0, 9.0, 16.0]) + rng.random((len(draw), 4))
    assert split_halves_stability(separated, draw) == 1.0
    assert split_halves_stability(np.zeros((len(draw), 4)), draw) is None

    assert rank_correlation(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])) is None
    assert rank_correlation(np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0])) is None
    assert rank_correlation(np.array([1.0]), np.array([2.0])) is None
    assert rank_correlation(np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])) == pytest.approx(1.0)
    assert rank_correlation(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == pytest.approx(-1.0)


def test_dependence_labels_numeric_ranges_and_drops_small_bins() -> None:
    column = pd.Series(np.arange(1000, dtype=float))
    contributions = column.to_numpy() / 100.0
    weights = np.where(column.to_numpy() % 2 == 0, 1.0, 3.0)
    bins = dependence_bins(column, contributions, weights, bins=4, min_rows=10)
    assert [b["bin"] for b in bins] == ["0–249", "250–499", "500–749", "750–999"]
    assert [b["n"] for b in bins] == [250, 250, 250, 250]
    first = np.arange(250)
    assert bins[0]["mean_contribution"] == pytest.approx(np.average(first / 100.0, weights=weights[first]))

    rng = np.random.default_rng(12)
    kinds = pd.Series(rng.permutation(["a"] * 600 + ["b"] * 370 + ["c"] * 30))
    contributions = kinds.map({"a": 1.0, "b": -1.0, "c": 5.0}).to_numpy()
    bins = dependence_bins(kinds, contributions, np.ones(len(kinds)), bins=10, min_rows=50)
    assert bins == [
        {"bin": "a", "n": 600, "mean_contribution": 1.0},
        {"bin": "b", "n": 370, "mean_contribution": -1.0},
    ]

    with_missing = pd.Series([np.nan] * 60 + [1.0] * 60 + [2.0] * 5)
    bins = dependence_bins(with_missing, np.ones(len(with_missing)), np.ones(len(with_missing)), 10, 50)
    assert [(b["bin"], b["n"]) for b in bins] == [("missing", 60), ("1", 60)]
