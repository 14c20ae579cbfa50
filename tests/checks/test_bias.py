"""Data-bias checks: the welfare-review plants are found, and the numbers are wired honestly."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import normalized_mutual_info_score, roc_auc_score
from synthetic import make_profile

from assay.checks import bias
from assay.checks.context import (
    AuditContext,
    CheckSettings,
    ServiceProfile,
)
from assay.checks.intervals import rate_interval
from assay.checks.registry import get_check, run_check
from assay.checks.results import Status
from assay.data.vendors import LEGITIMATE as VENDOR_INPUTS

# The proxy thresholds recommended as CheckSettings defaults, calibrated on welfare-review below.
PROXY_AUC = 0.60
PROXY_NMI = 0.05
# The case circumstances the vendors train on; the channel is tested on its own as a control.
LEGITIMATE = [f for f in VENDOR_INPUTS if f != "application_channel"]


def _profile(
    attrs: list[str],
    reference: dict[str, str] | None = None,
    shares: dict[str, dict[str, float]] | None = None,
) -> ServiceProfile:
    return make_profile(*attrs, reference=reference, shares=shares)


def _frame(seed: int, n: int = 4000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.choice(["x", "y"], n, p=[0.7, 0.3])
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "a": a,
            "b": rng.choice(["p", "q", "r"], n, p=[0.5, 0.3, 0.2]),
            "y": (rng.random(n) < np.where(a == "y", 0.4, 0.2)).astype(int),
            "num": rng.normal(size=n),
            "cat": rng.choice(["u", "v", "w"], n),
        }
    )


def _ctx(profile: ServiceProfile, df: pd.DataFrame, seed: int = 0, **settings) -> AuditContext:
    return AuditContext(
        profile=profile,
        data=df,
        labels=df[profile.label.column].to_numpy(),
        sensitive=profile.sensitive_frame(df),
        settings=CheckSettings(**settings),
        seed=seed,
    )


def _by(result, metric: str, **where) -> dict:
    rows = [r for r in result.rows(metric) if all(getattr(r, k) == v for k, v in where.items())]
    return {(r.feature, r.attribute, r.group): r for r in rows}


def _one(result, metric: str, **where):
    rows = list(_by(result, metric, **where).values())
    assert len(rows) == 1, rows
    return rows[0]


# --- welfare-review: the planted ground truth ----------------------------------------------------


def test_representation_shortfall_of_foreign_residents_is_found(holdout, profile) -> None:
    result = bias.representation(_ctx(profile, holdout))
    assert result.status == Status.PASSED
    share = _one(result, "share", attribute="nationality", group="foreign_resident")
    assert share.value == pytest.approx(0.04, abs=0.004)
    assert _one(result, "reference_share", group="foreign_resident").value == pytest.approx(0.07)
    ratio = _one(result, "representation_ratio", group="foreign_resident")
    assert ratio.value == pytest.approx(0.55, abs=0.05)
    assert ratio.ci_high < 0.65  # wholly below 1, by a wide margin
    naturalized = _one(result, "representation_ratio", group="naturalized")
    assert naturalized.ci_low < 1.0 < naturalized.ci_high  # planted as matching the reference
    assert _one(result, "representation_p_value", attribute="nationality").value < 1e-100
    assert "not assessed for sex, disability, age_band" in result.messages[0]


def test_label_bias_is_in_the_historical_labels_and_not_in_the_reviewed_ones(train, holdout, profile) -> None:
    on_train = bias.label_bias(_ctx(profile, train, seed=1))
    diff = _one(on_train, "base_rate_difference", attribute="nationality", group="foreign_resident")
    assert diff.value == pytest.approx(0.18, abs=0.03)
    assert diff.ci_low > 0.12
    assert _one(on_train, "base_rate_p_value", attribute="nationality", group="foreign_resident").value < 1e-3
    assert _one(on_train, "base_rate_ratio", attribute="nationality", group="foreign_resident").ci_low > 1.5
    assert on_train.details["reference_groups"]["nationality"] == "korean"
    assert any("nationality=foreign_resident" in m for m in on_train.messages)
    # The planted bias also shows in every intersection with nationality.
    crossed = _by(on_train, "base_rate_difference", attribute="sex×nationality")
    assert all(r.ci_low > 0.1 for (_, _, g), r in crossed.items() if g.endswith("×foreign_resident"))

    on_holdout = bias.label_bias(_ctx(profile, holdout, seed=1))
    diff = _one(on_holdout, "base_rate_difference", attribute="nationality", group="foreign_resident")
    assert diff.ci_low < 0.0 < diff.ci_high
    assert abs(diff.value) < 0.02
    p = _one(on_holdout, "base_rate_p_value", attribute="nationality", group="foreign_resident").value
    assert p > 0.05
    assert not any("nationality=foreign_resident" in m for m in on_holdout.messages)


def test_language_and_province_are_proxies_of_nationality_and_nothing_else_is(holdout, profile) -> None:
    ctx = _ctx(profile, holdout, proxy_auc=PROXY_AUC, proxy_nmi=PROXY_NMI)
    start = time.perf_counter()
    result = bias.proxies(ctx)
    assert time.perf_counter() - start < 5.0  # vectorised: about 0.25 s on 80,000 rows
    flagged = {(f["feature"], f["attribute"]) for f in result.details["flagged"]}
    assert flagged == {("application_language", "nationality"), ("province", "nationality")}
    auc = {(r.feature, r.attribute): r for r in result.rows("proxy_auc")}
    nmi = {(r.feature, r.attribute): r.value for r in result.rows("proxy_nmi")}
    assert {f for f, _ in auc} == {*LEGITIMATE, "province", "application_channel", "application_language"}
    language, province = auc["application_language", "nationality"], auc["province", "nationality"]
    assert language.group == province.group == "foreign_resident"
    assert language.value > 0.85 and nmi["application_language", "nationality"] > 0.3
    assert province.value > PROXY_AUC + 0.04 and province.ci_low > PROXY_AUC
    for (feature, attr), row in auc.items():
        if (feature, attr) in flagged:
            continue
        assert row.value < PROXY_AUC - 0.06, (feature, attr, row.value)
        assert nmi[feature, attr] < PROXY_NMI / 20, (feature, attr)
    assert result.details["ranked"][0]["feature"] == "application_language"
    assert "application_language → nationality" in result.messages[-1]


# --- representation ------------------------------------------------------------------------------


def test_profile_without_population_shares_is_not_assessed_with_a_reason() -> None:
    df = _frame(0, 500)
    result = bias.representation(_ctx(_profile(["a", "b"]), df))
    assert result.status == Status.NOT_ASSESSED
    assert result.metrics == []
    assert result.messages == [
        "not assessed: the service profile gives no reference population shares for any sensitive attribute"
    ]


def test_representation_names_unmatched_groups_and_tests_the_covered_counts() -> None:
    df = _frame(1, 3000)
    # Reference knows x and an absent group z, but not y.
    profile = _profile(["a", "b"], shares={"a": {"x": 0.6, "z": 0.4}})
    result = bias.representation(_ctx(profile, df))
    text = " ".join(result.messages)
    assert "not assessed for b" in text
    assert (
        f"groups without a reference share are left out of the comparison: y (n={(df.a == 'y').sum()})"
        in text
    )
    assert "reference groups absent from the data: z" in text
    n_x = int((df.a == "x").sum())
    share_x = _one(result, "share", group="x")
    assert share_x.value == 1.0 and share_x.n == n_x  # of the rows the reference describes
    absent = _one(result, "representation_ratio", group="z")
    assert absent.value == 0.0 and absent.n == 0 and absent.ci_high < 0.01
    expected = stats.chisquare([n_x, 0], f_exp=[0.6 * n_x, 0.4 * n_x]).pvalue
    assert _one(result, "representation_p_value").value == pytest.approx(expected)


def test_representation_share_interval_is_wilson_and_ratio_is_scaled_by_the_reference() -> None:
    df = _frame(2, 2000)
    profile = _profile(["b"], shares={"b": {"p": 0.4, "q": 0.4, "r": 0.2}})
    result = bias.representation(_ctx(profile, df, confidence=0.9))
    k = int((df.b == "q").sum())
    low, high = (float(b) for b in rate_interval(k, len(df), 0.9))
    share, ratio = _one(result, "share", group="q"), _one(result, "representation_ratio", group="q")
    assert (share.value, share.ci_low, share.ci_high) == pytest.approx((k / len(df), low, high))
    assert (ratio.value, ratio.ci_low, ratio.ci_high) == pytest.approx(
        (k / len(df) / 0.4, low / 0.4, high / 0.4)
    )


# --- label bias ----------------------------------------------------------------------------------


def test_base_rates_match_pandas_and_holm_adjusts_within_each_attribute() -> None:
    df = _frame(3, 5000)
    result = bias.label_bias(_ctx(_profile(["a", "b"], {"b": "q"}), df, n_boot=200))
    for attr in ("a", "b"):
        for group, rate in df.groupby(attr)["y"].mean().items():
            row = _one(result, "base_rate", attribute=attr, group=group)
            assert row.value == pytest.approx(rate)
            assert row.n == (df[attr] == group).sum()
    # One comparison for a (y against the largest group x): Holm leaves Pearson's p unchanged.
    table = pd.crosstab(df.a, df.y).to_numpy()
    expected = stats.chi2_contingency(table, correction=False).pvalue
    assert _one(result, "base_rate_p_value", attribute="a", group="y").value == pytest.approx(expected)
    # Two comparisons for b against the named reference q: the smaller p is doubled.
    raw = {
        g: stats.chi2_contingency(pd.crosstab(df.b[df.b.isin([g, "q"])], df.y), correction=False).pvalue
        for g in ("p", "r")
    }
    smaller = min(raw, key=raw.get)
    assert _one(result, "base_rate_p_value", attribute="b", group=smaller).value == pytest.approx(
        min(2 * raw[smaller], 1.0)
    )
    assert result.details["reference_groups"] == {"a": "x", "b": "q", "a×b": "x×q"}
    diff = _one(result, "base_rate_difference", attribute="a", group="y")
    assert diff.ci_low > 0.1  # planted 0.4 against 0.2
    assert {r.attribute for r in result.rows("base_rate_gap")} == {"a", "b", "a×b"}
    assert not _by(result, "base_rate_difference", group="x")  # no self-comparison


def test_intersections_follow_the_settings() -> None:
    df = _frame(4, 1000)
    result = bias.label_bias(_ctx(_profile(["a", "b"]), df, n_boot=50, intersections="none"))
    assert {r.attribute for r in result.rows("base_rate")} == {"a", "b"}


def test_absent_reference_group_falls_back_to_the_largest_and_says_so() -> None:
    df = _frame(5, 1000)
    result = bias.label_bias(_ctx(_profile(["a"], {"a": "nobody"}), df, n_boot=50))
    assert result.details["reference_groups"] == {"a": "x"}
    assert any("a=nobody is absent" in m for m in result.messages)


# --- missing by group ----------------------------------------------------------------------------


def test_planted_missingness_difference_is_flagged_and_an_equal_one_is_not() -> None:
    df = _frame(6, 6000)
    rng = np.random.default_rng(106)  # not _frame's seed: its draws would line up with a and b
    df["planted"] = df["num"].mask(rng.random(len(df)) < np.where(df.a == "y", 0.2, 0.05))
    df["equal"] = df["cat"].mask(rng.random(len(df)) < 0.1)
    result = bias.missing_by_group(_ctx(_profile(["a", "b"]), df, n_boot=200))
    assert result.status == Status.PASSED
    flagged = {(f["feature"], f["attribute"]) for f in result.details["flagged"]}
    assert flagged == {("planted", "a")}
    assert "planted by a" in result.messages[0] and "equal" not in result.messages[0]
    for group, share in df.groupby("a")["planted"].apply(lambda s: s.isna().mean()).items():
        row = _one(result, "missing_share", feature="planted", attribute="a", group=group)
        k, n = round(share * row.n), row.n
        low, high = (float(b) for b in rate_interval(k, n, 0.95))
        assert (row.value, row.ci_low, row.ci_high) == pytest.approx((share, low, high))
    gap = _one(result, "missing_share_gap", feature="planted", attribute="a")
    assert gap.value == pytest.approx(0.15, abs=0.03) and gap.ci_low > 0.1
    assert _one(result, "missing_share_p_value", feature="equal", attribute="b").value > 0.05
    # Columns without missing values: one row each; id, label and sensitive columns are not features.
    for feature in ("num", "cat"):
        row = _one(result, "missing_share", feature=feature)
        assert (row.attribute, row.value, row.n) == (None, 0.0, len(df))
    assert {r.feature for r in result.metrics} == {"num", "cat", "planted", "equal"}


# --- proxies -------------------------------------------------------------------------------------


def test_discretise_bins_numbers_pools_rare_categories_and_keeps_missing_apart() -> None:
    rng = np.random.default_rng(7)
    x = pd.Series(rng.normal(size=5000)).mask(rng.random(5000) < 0.05)
    bins = bias.discretise(x)
    assert bins.max() + 1 == 21  # 20 quantile bins and one for missing
    assert len(set(bins[x.isna().to_numpy()])) == 1 and not set(bins[x.isna()]) & set(bins[x.notna()])
    few = pd.Series(rng.integers(0, 5, 5000))
    assert bias.discretise(few).max() + 1 == 5  # few distinct numbers stay categories
    cat = pd.Series(["a"] * 4000 + ["b"] * 996 + ["rare1"] * 2 + ["rare2"] * 2)
    assert bias.discretise(cat).max() + 1 == 3  # the two rare categories share a bin
    dates = pd.Series(pd.date_range("2024-01-01", periods=5000, freq="h", tz="Asia/Seoul"))
    assert np.bincount(bias.discretise(dates)).tolist() == [250] * 20  # dates are ordered like numbers


def test_proxy_nmi_is_sklearns_on_the_binned_feature_and_auc_finds_a_planted_proxy() -> None:
    df = _frame(8, 6000)
    rng = np.random.default_rng(108)
    # A noisy copy of b, and a number shifted for group y of a.
    df["leak"] = np.where(rng.random(len(df)) < 0.7, df.b, rng.choice(["p", "q", "r"], len(df)))
    df["shifted"] = df["num"] + 1.5 * (df.a == "y")
    result = bias.proxies(_ctx(_profile(["a", "b"]), df, proxy_auc=PROXY_AUC, proxy_nmi=PROXY_NMI))
    sens = _profile(["a", "b"]).sensitive_frame(df)
    for row in result.rows("proxy_nmi"):
        expected = normalized_mutual_info_score(bias.discretise(df[row.feature]), sens[row.attribute])
        assert row.value == pytest.approx(expected, abs=1e-12)
    flagged = {(f["feature"], f["attribute"]) for f in result.details["flagged"]}
    assert flagged == {("leak", "b"), ("shifted", "a")}
    shifted = _one(result, "proxy_auc", feature="shifted", attribute="a")
    # Binned and cross-fitted, it stays close to the AUC of the raw number.
    assert shifted.value == pytest.approx(roc_auc_score(df.a == "y", df.shifted), abs=0.02)
    assert shifted.ci_low < shifted.value < shifted.ci_high
    noise = _one(result, "proxy_auc", feature="cat", attribute="b")
    assert abs(noise.value - 0.5) < 0.05


def test_auc_from_counts_equals_sklearn_with_ties() -> None:
    rng = np.random.default_rng(9)
    score = rng.integers(0, 6, 300).astype(float) / 5
    y = rng.random(300) < 0.2 + 0.1 * score
    units = np.unique(score)
    pos = np.array([(y & (score == u)).sum() for u in units])
    neg = np.array([(~y & (score == u)).sum() for u in units])
    # Split every unit in two, so equal scores of different units must count as ties.
    got = bias._auc_from_counts(
        np.r_[units, units], np.r_[pos // 2, pos - pos // 2], np.r_[neg // 2, neg - neg // 2]
    )
    assert got == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_model_features_are_the_candidates_and_direct_use_is_named() -> None:
    class Model:
        def __init__(self) -> None:
            self.features = ["num", "a"]

        def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(data))

        def native(self) -> None:
            return None

    df = _frame(10, 1000)
    ctx = AuditContext(
        profile=_profile(["a"]), data=df, sensitive=df[["a"]], model=Model(), settings=CheckSettings()
    )
    result = bias.proxies(ctx)
    assert {r.feature for r in result.metrics} == {"num"}
    assert "the model uses sensitive columns directly: a" in result.messages[0]


# --- shared behaviour ----------------------------------------------------------------------------


def _small_group_frame() -> pd.DataFrame:
    df = _frame(11, 2000)
    df.loc[:11, "b"] = "tiny"
    df["num"] = df["num"].mask(df.index % 7 == 0)
    return df


@pytest.mark.parametrize(
    "check",
    [bias.representation, bias.label_bias, bias.missing_by_group, bias.proxies],
    ids=lambda f: f.__name__,
)
def test_small_group_is_reported_with_its_size_and_makes_the_check_inconclusive(check) -> None:
    df = _small_group_frame()
    shares = {"b": {"p": 0.5, "q": 0.3, "r": 0.19, "tiny": 0.01}}
    result = check(_ctx(_profile(["a", "b"], shares=shares), df, n_boot=50, min_group_size=30))
    assert result.status == Status.INCONCLUSIVE
    assert "groups below the minimum size of 30: b=tiny (n=12)" in result.messages[-1]
    if check is not bias.proxies:  # proxies report per feature, not per group
        assert any(r.group == "tiny" and r.n == 12 for r in result.metrics)


def test_same_seed_gives_the_same_rows_and_another_seed_other_intervals() -> None:
    df = _small_group_frame()
    profile = _profile(["a", "b"])
    first = bias.proxies(_ctx(profile, df, seed=5, n_boot=100)).metrics
    assert first == bias.proxies(_ctx(profile, df, seed=5, n_boot=100)).metrics
    assert bias.proxies(_ctx(profile, df, seed=6, n_boot=100)).metrics != first  # the seed is used


@pytest.mark.parametrize("check", [bias.label_bias, bias.missing_by_group], ids=lambda f: f.__name__)
def test_rate_intervals_need_no_resampling_so_the_seed_changes_nothing(check) -> None:
    df = _small_group_frame()
    profile = _profile(["a", "b"])
    assert check(_ctx(profile, df, seed=5)).metrics == check(_ctx(profile, df, seed=6)).metrics


def test_checks_are_registered_with_their_needs_and_metrics() -> None:
    label = get_check(bias.LABEL_BIAS)
    assert [n.value for n in label.needs] == ["labels", "sensitive"]
    assert set(get_check(bias.PROXIES).metrics) == {"proxy_nmi", "proxy_auc"}
    result = run_check(
        get_check(bias.REPRESENTATION), AuditContext(profile=_profile(["a"]), data=_frame(0, 10))
    )
    assert result.status == Status.NOT_ASSESSED and "sensitive" in result.messages[0]
