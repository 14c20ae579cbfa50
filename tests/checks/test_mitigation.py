"""Mitigation headroom: what group-specific thresholds could reach, evidence only, never a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import make_profile

from assay.checks.context import AuditContext, CheckSettings, ServiceProfile
from assay.checks.mitigation import _ScoreColumn, mitigation_headroom
from assay.checks.registry import get_check, run_check
from assay.checks.results import Status
from assay.models.candidate import load_candidate


def _profile(*names: str) -> ServiceProfile:
    return make_profile(*names)


def _planted(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Scores as informative in both groups, but shifted up for group b: the same label, a higher score."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], n, p=[0.7, 0.3])
    region = rng.choice(["north", "south"], n)
    labels = (rng.random(n) < 0.3).astype(int)
    signal = 1.5 * labels + rng.normal(size=n) - 1.0 + 1.2 * (group == "b")
    scores = 1.0 / (1.0 + np.exp(-signal))
    return pd.DataFrame({"group": group, "region": region}), labels, scores


def _context(sensitive: pd.DataFrame, labels: np.ndarray, scores: np.ndarray, seed: int = 5) -> AuditContext:
    return AuditContext(
        profile=_profile(*sensitive.columns),
        data=sensitive,
        settings=CheckSettings(n_boot=200),
        seed=seed,
        labels=labels,
        scores=scores,
        decisions=(scores >= 0.5).astype(int),
        sensitive=sensitive,
    )


def _value(result, metric: str, attribute: str):
    return next(r for r in result.rows(metric) if r.attribute == attribute)


def test_planted_score_bias_has_headroom_and_its_cost_is_reported() -> None:
    sensitive, labels, scores = _planted()
    result = mitigation_headroom(_context(sensitive, labels, scores))
    assert result.status == Status.PASSED
    before = _value(result, "equalized_odds_difference", "group")
    after = _value(result, "headroom_equalized_odds_difference", "group")
    assert before.value > 0.3
    assert after.value < 0.25 * before.value and after.ci_high < before.ci_low
    cost = _value(result, "accuracy_cost", "group")
    assert cost.value == pytest.approx(
        _value(result, "accuracy", "group").value - _value(result, "headroom_accuracy", "group").value
    )
    assert cost.ci_low <= cost.value <= cost.ci_high
    # The planted bias is a pure shift: undoing it per group beats every single threshold.
    assert _value(result, "equalized_odds_accuracy_cost", "group").ci_high < 0
    sentence = next(m for m in result.messages if m.startswith("with group-specific thresholds, group's"))
    assert f"from {before.value:.2f} to {after.value:.2f}" in sentence
    assert any(m.startswith("evidence only") for m in result.messages)
    details = result.details
    assert details["applied_to_candidate"] is False and details["fairlearn_version"]
    assert (details["constraint"], details["objective"]) == ("equalized_odds", "accuracy_score")
    split = details["split_sizes"]["group"]
    assert split["fit"] + split["evaluate"] == len(labels) and abs(split["fit"] - split["evaluate"]) <= 4


def test_same_seed_same_result() -> None:
    sensitive, labels, scores = _planted(n=4000)
    first = mitigation_headroom(_context(sensitive, labels, scores))
    again = mitigation_headroom(_context(sensitive, labels, scores))
    assert first.model_dump() == again.model_dump()


def test_a_group_with_a_single_label_is_reported_not_crashed() -> None:
    sensitive, labels, scores = _planted(n=4000)
    sensitive.loc[:39, "group"] = "c"
    labels[:40] = 0  # group c never has the outcome: no ROC curve for it
    result = mitigation_headroom(_context(sensitive, labels, scores))
    assert result.status == Status.INCONCLUSIVE
    assert "group" in result.details["not_assessable"]
    assert any(
        m.startswith("group: not assessable") and "c (40 negative, 0 positive)" in m for m in result.messages
    )
    assert {r.attribute for r in result.metrics} == {"region"}  # the other attribute is still assessed

    alone = mitigation_headroom(_context(sensitive[["group"]], labels, scores))
    assert alone.status == Status.NOT_ASSESSED and not alone.metrics
    assert "no sensitive attribute could be assessed" in alone.messages[0]


def test_the_candidates_scores_are_never_refitted() -> None:
    with pytest.raises(RuntimeError, match="must not be refitted"):
        _ScoreColumn().fit(np.zeros((2, 1)), np.array([0, 1]))


def test_missing_scores_are_not_assessed() -> None:
    sensitive, labels, _ = _planted(n=100)
    ctx = AuditContext(
        profile=_profile("group", "region"), data=sensitive, labels=labels, sensitive=sensitive
    )
    result = run_check(get_check("fairness.mitigation_headroom"), ctx)
    assert result.status == Status.NOT_ASSESSED and "scores" in result.messages[0]


def test_vendor_a_could_close_most_of_its_nationality_gap(scenario, holdout, profile) -> None:
    candidate = load_candidate(scenario / "candidates" / "vendor-a" / "candidate.yaml")
    out = candidate.outputs(holdout, profile.id_column, Path("holdout.parquet"))
    ctx = AuditContext(
        profile=profile,
        data=holdout,
        settings=CheckSettings(n_boot=200),
        seed=7,
        labels=holdout["irregularity_found"].to_numpy(),
        scores=out.scores,
        decisions=out.decisions,
        sensitive=profile.sensitive_frame(holdout),
    )
    result = run_check(get_check("fairness.mitigation_headroom"), ctx)
    assert result.status == Status.PASSED
    before = _value(result, "equalized_odds_difference", "nationality")
    after = _value(result, "headroom_equalized_odds_difference", "nationality")
    assert after.value < before.value and after.ci_high < before.ci_low
    assert result.seconds < 10
