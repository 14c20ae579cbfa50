"""Properties of the fairness engine on random data: point estimates equal fairlearn's, always.

Where a rate's denominator is zero (a group without positive labels has no TPR), the engine
reports no value (None). fairlearn reports 0.0 there instead: its TPR/FPR/FNR/TNR come from
sklearn's `confusion_matrix(normalize="true")`, which turns 0/0 into 0, and precision is asked
for with `zero_division=0`. So the two are compared only where the denominator is positive, and
fairlearn's between-group summaries only on data where every group has both labels.
"""

from __future__ import annotations

import math
from functools import partial
from itertools import combinations

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, precision_score
from synthetic import make_profile

from assay.checks.context import AuditContext, CheckSettings
from assay.checks.fairness import group_metrics
from assay.checks.results import CheckResult, MetricRow
from assay.checks.stats import CROSS

# The engine's rate name → fairlearn/sklearn metric, and the rows its denominator counts.
FAIRLEARN = {
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "tnr": true_negative_rate,
    "ppv": partial(precision_score, zero_division=0),
    "npv": partial(precision_score, pos_label=0, zero_division=0),  # precision of the negative class
    "accuracy": accuracy_score,
}
DENOMINATOR = {
    "selection_rate": lambda y, d: np.ones_like(y, dtype=bool),
    "tpr": lambda y, d: y == 1,
    "fnr": lambda y, d: y == 1,
    "fpr": lambda y, d: y == 0,
    "tnr": lambda y, d: y == 0,
    "ppv": lambda y, d: d == 1,
    "npv": lambda y, d: d == 0,
    "accuracy": lambda y, d: np.ones_like(y, dtype=bool),
}
TOL = 1e-9
N_BOOT = 50  # the smallest the settings allow: the bootstrap does not enter any point estimate


Case = tuple[pd.DataFrame, np.ndarray, np.ndarray]


@st.composite
def cases(draw: st.DrawFn, both_labels: bool = False) -> Case:
    """Draw 1–3 attributes of 1–6 groups, with singletons and groups lacking a label or decision."""
    n = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    columns = {}
    for name in ("a", "b", "c")[: draw(st.integers(1, 3))]:
        k = draw(st.integers(1, 6))
        weights = np.asarray(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
        codes = rng.choice(k, size=n, p=weights / weights.sum())
        if draw(st.booleans()):  # a group of exactly one row
            codes[rng.integers(n)] = k
        columns[name] = np.array([f"{name}{c}" for c in codes])
    sensitive = pd.DataFrame(columns)
    # Per-group probabilities of 0 or 1 give groups with no positive labels or no negative decisions.
    probs = st.sampled_from([0.0, 1.0, 0.2, 0.5, 0.8])
    first = pd.factorize(sensitive.iloc[:, 0])[0]
    last = pd.factorize(sensitive.iloc[:, -1])[0]
    p_label = np.array([draw(probs) for _ in range(first.max() + 1)])
    labels = (rng.random(n) < p_label[first]).astype(int)
    p_decision = np.array([[draw(probs) for _ in range(last.max() + 1)] for _ in range(2)])
    decisions = (rng.random(n) < p_decision[labels, last]).astype(int)
    if both_labels:  # give every finest cross a positive and a negative label
        cells = sensitive.drop_duplicates()
        sensitive = pd.concat([sensitive, cells, cells], ignore_index=True)
        labels = np.r_[labels, np.zeros(len(cells), int), np.ones(len(cells), int)]
        decisions = np.r_[decisions, rng.integers(0, 2, 2 * len(cells))]
    return sensitive, labels, decisions


def run(case: Case, favourable: bool = True) -> CheckResult:
    """Run the engine on a case with every pairwise intersection."""
    sensitive, labels, decisions = case
    profile = make_profile(*sensitive.columns, favourable=favourable)
    ctx = AuditContext(
        profile=profile,
        data=sensitive,
        settings=CheckSettings(n_boot=N_BOOT, intersections="pairs", min_group_size=1),
        labels=labels,
        decisions=decisions,
        sensitive=sensitive,
    )
    return group_metrics(ctx)


def index(result: CheckResult) -> dict[tuple[str, str | None, str | None], MetricRow]:
    """Return the result's rows by (metric, attribute, group)."""
    return {(r.metric, r.attribute, r.group): r for r in result.metrics}


def groupings(sensitive: pd.DataFrame) -> list[tuple[str, ...]]:
    """Return the single attributes and pairwise intersections the engine reports."""
    cols = tuple(sensitive.columns)
    return [(c,) for c in cols] + list(combinations(cols, 2))


def same(ours: float | None, theirs: float) -> bool:
    """Say whether two summaries agree to TOL, with None and NaN meaning 'undefined'."""
    if ours is None or math.isnan(theirs):
        return ours is None and math.isnan(theirs)
    return abs(ours - theirs) <= TOL


# fairlearn evaluates each metric on each group through sklearn (~30 ms per group for these
# eight), which bounds how many examples fit in the file's budget of ~40 s.
@settings(max_examples=20, deadline=None)
@given(cases())
def test_group_rates_equal_fairlearn_where_defined_and_are_none_where_not(case: Case) -> None:
    sensitive, labels, decisions = case
    rows = index(run(case))
    for attrs in groupings(sensitive):
        name = CROSS.join(attrs)
        frame = MetricFrame(
            metrics=FAIRLEARN, y_true=labels, y_pred=decisions, sensitive_features=sensitive[list(attrs)]
        )
        key = sensitive[list(attrs)].agg(CROSS.join, axis=1).to_numpy()
        observed = sorted(set(key))
        assert sorted(g for (m, a, g) in rows if m == "selection_rate" and a == name) == observed
        for group in observed:
            in_group = key == group
            y, d = labels[in_group], decisions[in_group]
            fair = frame.by_group.loc[tuple(group.split(CROSS)) if len(attrs) > 1 else group]
            for metric in FAIRLEARN:
                row = rows[(metric, name, group)]
                assert row.n == DENOMINATOR[metric](y, d).sum()  # the rate's denominator
                if DENOMINATOR[metric](y, d).any():
                    assert abs(row.value - fair[metric]) <= TOL, (name, group, metric)
                else:
                    assert row.value is None, (name, group, metric)


@settings(max_examples=30, deadline=None)
@given(cases())
def test_group_sizes_add_up_and_intervals_are_ordered(case: Case) -> None:
    sensitive, _, _ = case
    result = run(case)
    for attrs in groupings(sensitive):
        sizes = [r.n for r in result.rows("selection_rate") if r.attribute == CROSS.join(attrs)]
        assert sum(sizes) == len(sensitive)
    for row in result.metrics:
        if row.ci_low is not None and row.ci_high is not None:
            assert row.ci_low <= row.ci_high, row
    for metric in FAIRLEARN:  # single rates' intervals contain the estimate
        for row in result.rows(metric):
            if row.value is not None:
                assert row.ci_low <= row.value <= row.ci_high, row  # exactly, also at 0 and 1


@settings(max_examples=10, deadline=None)
@given(cases(both_labels=True))
def test_summaries_equal_fairlearn_when_every_group_has_both_labels(case: Case) -> None:
    sensitive, labels, decisions = case
    rows = index(run(case, favourable=True))
    for attrs in groupings(sensitive):
        name, features = CROSS.join(attrs), sensitive[list(attrs)]
        kwargs = {"y_true": labels, "y_pred": decisions, "sensitive_features": features}

        def ours(metric: str, name: str = name) -> float | None:
            return rows[(metric, name, None)].value

        assert same(ours("demographic_parity_difference"), demographic_parity_difference(**kwargs))
        assert same(ours("demographic_parity_ratio"), demographic_parity_ratio(**kwargs))
        assert same(ours("equalized_odds_difference"), equalized_odds_difference(**kwargs))
        assert same(ours("equal_opportunity_difference"), equal_opportunity_difference(**kwargs))
        expected = equalized_odds_ratio(**kwargs)
        if math.isnan(expected):
            # fairlearn takes Python's min() of the TPR and FPR ratios, which is NaN only when the
            # first (TPR: every group 0) is NaN; the engine ignores an undefined ratio (np.fmin).
            rates = {m: FAIRLEARN[m] for m in ("tpr", "fpr")}
            tpr_fpr = MetricFrame(metrics=rates, **kwargs).ratio().to_numpy()
            expected = float(np.fmin(*tpr_fpr))
        assert same(ours("equalized_odds_ratio"), expected)


@settings(max_examples=15, deadline=None)
@given(cases(both_labels=True))
def test_a_burdensome_positive_decision_turns_favourable_rate_and_equal_opportunity_around(
    case: Case,
) -> None:
    sensitive, labels, decisions = case
    rows = index(run(case, favourable=False))
    for attrs in groupings(sensitive):
        name = CROSS.join(attrs)
        for row in (r for (m, a, _), r in rows.items() if m == "selection_rate" and a == name):
            favourable = rows[("favourable_rate", name, row.group)].value
            assert abs(favourable - (1 - row.value)) <= TOL
        tnr = MetricFrame(
            metrics=true_negative_rate,
            y_true=labels,
            y_pred=decisions,
            sensitive_features=sensitive[list(attrs)],
        )
        assert same(rows[("equal_opportunity_difference", name, None)].value, tnr.difference())
