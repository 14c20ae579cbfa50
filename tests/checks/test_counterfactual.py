"""Counterfactual flips: a sensitive input that decides shows up, one that does not shows zero."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from synthetic import make_profile

from assay.checks.context import AuditContext, CheckSettings, SensitiveAttribute, ServiceProfile
from assay.checks.counterfactual import counterfactual_flip, infer_threshold
from assay.checks.registry import get_check, run_check
from assay.checks.results import Status
from assay.models.candidate import load_candidate


class _Access:
    """A fitted sklearn model behind the ModelAccess protocol."""

    def __init__(self, model, features: list[str]) -> None:
        self._model, self.features = model, features

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        return self._model.predict_proba(data[self.features])[:, 1]

    def native(self):
        return self._model


def _profile(*attrs: SensitiveAttribute) -> ServiceProfile:
    return make_profile(*attrs)


def _synthetic(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "group": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
            "age": rng.integers(19, 90, n),
        }
    )


def _context(data: pd.DataFrame, profile: ServiceProfile, model, with_scores: bool = True, **settings):
    scores = model.predict_scores(data)
    return AuditContext(
        profile=profile,
        data=data,
        settings=CheckSettings(**settings),
        seed=3,
        scores=scores if with_scores else None,
        decisions=(scores >= 0.5).astype(int),
        sensitive=profile.sensitive_frame(data),
        model=model,
    )


def _flip_rates(result, attribute: str) -> dict[str | None, float]:
    return {r.group: r.value for r in result.rows("flip_rate") if r.attribute == attribute}


def _group_model(data: pd.DataFrame, uses_group: bool) -> _Access:
    """A logistic model that decides by `group` alone, or one that drops `group` before fitting."""
    columns = ["group"] if uses_group else ["x"]
    encoder = OneHotEncoder() if uses_group else "passthrough"
    pipe = make_pipeline(ColumnTransformer([("enc", encoder, columns)]), LogisticRegression(C=100.0))
    target = (data["group"] == "b").astype(int) if uses_group else (data["x"] > 0).astype(int)
    return _Access(pipe.fit(data[["x", "group"]], target), ["x", "group"])


def test_a_decision_made_by_the_attribute_flips_every_row() -> None:
    data = _synthetic()
    profile = _profile(SensitiveAttribute(name="group", column="group"))
    result = counterfactual_flip(_context(data, profile, _group_model(data, uses_group=True)))
    rates = _flip_rates(result, "group")
    # b is selected and a, c are not: every row can be moved across the boundary.
    assert rates == pytest.approx({None: 1.0, "a": 1.0, "b": 1.0, "c": 1.0})
    overall = next(r for r in result.rows("flip_rate") if r.group is None)
    assert overall.ci_low > 0.99 and overall.n == len(data)
    assert result.details["alternatives"]["group"] == {"a": "a", "b": "b", "c": "c"}
    assert result.details["threshold"] == 0.5
    assert result.status == Status.PASSED


def test_an_input_the_model_ignores_never_flips() -> None:
    data = _synthetic()
    profile = _profile(SensitiveAttribute(name="group", column="group"))
    result = counterfactual_flip(_context(data, profile, _group_model(data, uses_group=False)))
    assert result.details["inputs"] == ["group"]  # it is an input, it is just not used
    assert set(_flip_rates(result, "group").values()) == {0.0}


def test_a_binned_numeric_input_is_moved_to_each_other_bins_median() -> None:
    data = _synthetic()
    age = SensitiveAttribute(
        name="age_band", column="age", bins=[0, 35, 50, 65, 200], labels=["a", "b", "c", "d"]
    )
    pipe = make_pipeline(ColumnTransformer([("age", "passthrough", ["age"])]), LogisticRegression(C=100.0))
    model = _Access(pipe.fit(data[["x", "age"]], (data["age"] >= 50).astype(int)), ["x", "age"])
    result = counterfactual_flip(_context(data, _profile(age), model))
    medians = result.details["alternatives"]["age_band"]
    for band, low, high in (("a", 0, 35), ("b", 35, 50), ("c", 50, 65), ("d", 65, 200)):
        assert low <= medians[band] < high and medians[band] in set(data["age"])
    # Every row has another band on the other side of 50, so every decision can flip.
    assert _flip_rates(result, "age_band")[None] == pytest.approx(1.0, abs=0.01)


def test_vendor_a_decides_by_nationality_and_vendor_c_cannot(scenario, holdout, profile) -> None:
    holdout = holdout.iloc[:20_000]  # plenty for the behaviour; the full holdout is for benchmarks
    sensitive = profile.sensitive_frame(holdout)
    results = {}
    for vendor in ("vendor-a", "vendor-c"):
        candidate = load_candidate(scenario / "candidates" / vendor / "candidate.yaml")
        out = candidate.outputs(holdout, profile.id_column, Path("holdout.parquet"))
        ctx = AuditContext(
            profile=profile,
            data=holdout,
            settings=CheckSettings(flip_rows=4000),
            seed=7,
            scores=out.scores,
            decisions=out.decisions,
            sensitive=sensitive,
            model=candidate.access,
        )
        results[vendor] = run_check(get_check("fairness.counterfactual_flip"), ctx)

    a = results["vendor-a"]
    assert a.status in {Status.PASSED, Status.INCONCLUSIVE}
    assert a.details["inputs"] == ["sex", "nationality", "age_band"]
    assert a.details["threshold"] == 0.3 and a.details["threshold_source"] == "inferred"
    nationality = next(r for r in a.rows("flip_rate") if r.attribute == "nationality" and r.group is None)
    assert nationality.ci_low > 0.2  # clearly non-zero: vendor-a's decision turns on nationality
    assert nationality.n <= 4000
    # Moving foreign residents to Korean lowers their selection: the input is used against them.
    move = next(
        t
        for t in a.details["transitions"]
        if (t["attribute"], t["from"], t["to"]) == ("nationality", "foreign_resident", "korean")
    )
    assert move["selection_change"] < -0.2
    assert _flip_rates(a, "disability") == {None: 0.0}

    c = results["vendor-c"]
    assert c.status == Status.PASSED and c.details["inputs"] == []
    assert all(r.value == 0.0 and r.group is None and r.n == len(holdout) for r in c.rows("flip_rate"))
    assert {r.attribute for r in c.rows("flip_rate")} == {"sex", "nationality", "disability", "age_band"}
    assert all("not an input" in m and "data.proxies" in m for m in c.messages)


def test_same_seed_same_result_and_own_rescoring_agrees() -> None:
    data = _synthetic(n=5000)
    profile = _profile(
        SensitiveAttribute(name="group", column="group"),
        SensitiveAttribute(name="age_band", column="age", bins=[0, 50, 200], labels=["young", "old"]),
    )
    model = _group_model(data, uses_group=True)
    first = counterfactual_flip(_context(data, profile, model, flip_rows=800))
    again = counterfactual_flip(_context(data, profile, model, flip_rows=800))
    assert first.model_dump() == again.model_dump()
    assert first.details["sample_rows"] <= 800
    # Without the audit's scores the check scores the sampled rows itself and finds the same flips.
    rescored = counterfactual_flip(_context(data, profile, model, with_scores=False, flip_rows=800))
    assert rescored.metrics == first.metrics


def test_small_groups_in_the_sample_make_the_result_inconclusive() -> None:
    data = _synthetic(n=200)
    profile = _profile(SensitiveAttribute(name="group", column="group"))
    result = counterfactual_flip(_context(data, profile, _group_model(data, uses_group=True)))
    assert result.status == Status.INCONCLUSIVE
    assert any("group=c" in m for m in result.messages)


def test_missing_model_access_is_not_assessed(profile) -> None:
    ctx = AuditContext(
        profile=profile, data=pd.DataFrame(), decisions=np.array([1]), sensitive=pd.DataFrame()
    )
    result = run_check(get_check("fairness.counterfactual_flip"), ctx)
    assert result.status == Status.NOT_ASSESSED and "model_access" in result.messages[0]


@pytest.mark.parametrize(
    ("scores", "decisions", "expected", "source"),
    [
        ([0.1, 0.29999, 0.3, 0.7], [0, 0, 1, 1], 0.3, "inferred"),
        ([0.1, 0.2, 0.61, 0.7], [0, 0, 1, 1], 0.4, "inferred"),  # roundest, nearest the middle of (0.2, 0.61]
        ([0.1, 0.2], [0, 0], 0.5, "fallback"),
        ([0.6, 0.7], [0, 0], np.nextafter(0.7, 1), "fallback"),
        ([0.6, 0.7], [1, 1], 0.5, "fallback"),
    ],
)
def test_threshold_is_inferred_from_decisions(scores, decisions, expected, source) -> None:
    found = infer_threshold(np.array(scores), np.array(decisions))
    assert found.value == pytest.approx(expected) and found.source == source
    assert found.agreement == 1.0


def test_decisions_no_threshold_reproduces_are_reported() -> None:
    found = infer_threshold(np.array([0.1, 0.4, 0.5, 0.9]), np.array([0, 1, 0, 1]))
    assert found.agreement == 0.75


def test_decisions_that_never_select_leave_the_threshold_a_guess() -> None:
    data = _synthetic(n=1000)
    profile = _profile(SensitiveAttribute(name="group", column="group"))
    model = _group_model(data, uses_group=True)
    ctx = _context(data, profile, model)
    ctx = AuditContext(**{**ctx.__dict__, "decisions": np.zeros(len(data), dtype=int)})
    result = counterfactual_flip(ctx)
    assert result.status == Status.INCONCLUSIVE
    assert result.details["threshold_source"] == "fallback"
    assert any("do not bound the threshold" in m for m in result.messages)


def test_the_audits_own_threshold_is_used_when_it_has_one() -> None:
    data = _synthetic(n=1000)
    profile = _profile(SensitiveAttribute(name="group", column="group"))
    ctx = _context(data, profile, _group_model(data, uses_group=True))
    result = counterfactual_flip(AuditContext(**{**ctx.__dict__, "threshold": 0.5}))
    assert (result.details["threshold"], result.details["threshold_source"]) == (0.5, "audit context")
    assert result.details["threshold_agreement"] == 1.0
