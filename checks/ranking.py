"""Ranking candidates on the same evaluation rows, with paired-bootstrap probabilities.

A group metric (a gap, the four-fifths ratio) is the audit's own definition (`checks/disparity.py`):
the same value and interval the candidate's audit reports, over the groups whose denominators
reach the minimum evidence. Which candidate is better, and how surely, comes from a paired
Bayesian bootstrap: every replicate reweights the rows once and scores every candidate on those
same weights, so a difference between two candidates is judged against the noise of the
difference itself. The rows only matter through (group, label, every candidate's decision), so the
replicates weight those joint cells (Dirichlet, Rubin's Bayesian bootstrap), plus one pseudo-row of
Gamma(1) weight per group and label whose decisions are fair coin tosses: without it a group
where a candidate never errs would never err in any replicate, as if no error among forty people
were proof that the candidate never errs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from assay.checks.disparity import Summary, point_value, rate_counts, summaries, summarize
from assay.checks.stats import percentile_ci, safe_div

RankMetricName = Literal[
    "accuracy",
    "balanced_accuracy",
    "tpr",
    "fpr",
    "selection_rate",
    "tpr_gap",
    "fpr_gap",
    "fnr_gap",
    "selection_rate_gap",
    "equalized_odds_difference",
    "four_fifths_ratio",
]
GROUP_METRICS = {
    "tpr_gap",
    "fpr_gap",
    "fnr_gap",
    "selection_rate_gap",
    "equalized_odds_difference",
    "four_fifths_ratio",
}
HIGHER_IS_BETTER = {"accuracy", "balanced_accuracy", "tpr", "four_fifths_ratio"}
MAX_CANDIDATES = 16  # 2^16 joint decision patterns per group and label is the most we tabulate
PHRASES = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "tpr": "true-positive rate",
    "fpr": "false-positive rate",
    "selection_rate": "selection rate",
    "tpr_gap": "true-positive-rate gap",
    "fpr_gap": "false-positive-rate gap",
    "fnr_gap": "false-negative-rate gap",
    "selection_rate_gap": "selection-rate gap",
    "equalized_odds_difference": "equalized-odds difference",
    "four_fifths_ratio": "four-fifths ratio",
}


class RankMetric(BaseModel):
    """A metric a policy ranks candidates on; group metrics are ranked once per sensitive attribute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: RankMetricName

    @property
    def per_attribute(self) -> bool:
        """Say whether the metric compares groups of a sensitive attribute."""
        return self.metric in GROUP_METRICS

    @property
    def higher_is_better(self) -> bool:
        """Say whether a larger value is the better one."""
        return self.metric in HIGHER_IS_BETTER


class Estimate(BaseModel):
    """One candidate's value of a ranked metric, its interval and its chance of being the best."""

    candidate: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    p_best: float


class Pairwise(BaseModel):
    """The probability that one candidate is better than another on a metric."""

    better: str
    worse: str
    probability: float
    sentence: str


class Ranking(BaseModel):
    """Candidates ordered on one metric (over one attribute's groups, for a group metric)."""

    metric: str
    attribute: str | None
    higher_is_better: bool
    order: list[str]
    estimates: list[Estimate]
    pairwise: list[Pairwise]


def _rates(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-group rates from counts shaped (..., groups, label, decision)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        tn, fp = cells[..., 0, 0], cells[..., 0, 1]
        fn, tp = cells[..., 1, 0], cells[..., 1, 1]
        n = tn + fp + fn + tp
        tpr = tp / (tp + fn)
        fpr = fp / (fp + tn)
        return {
            "tpr": tpr,
            "fpr": fpr,
            "fnr": fn / (tp + fn),
            "selection_rate": (tp + fp) / n,
            "accuracy": (tp + tn) / n,
            "balanced_accuracy": (tpr + 1 - fpr) / 2,
        }


def _group_rates(cells: np.ndarray, metric: str, favourable: bool) -> tuple[Summary, list[np.ndarray]]:
    """Return a group metric's definition and each of its rates' numerator and denominator per group."""
    summary = summaries(favourable)[metric]
    confusion = cells.reshape((*cells.shape[:-2], 4))  # (label, decision) → TN, FP, FN, TP
    return summary, [np.stack(rate_counts(confusion, rate, favourable)) for rate in summary.rates]


def metric_values(
    cells: np.ndarray, metric: str, favourable: bool, use: list[np.ndarray] | None
) -> np.ndarray:
    """Return a metric from confusion counts shaped (..., groups, label, decision).

    A group metric is taken over the groups `use` marks for each of its rates.
    """
    if metric not in GROUP_METRICS:
        return _rates(cells.sum(axis=-3))[metric]
    summary, parts = _group_rates(cells, metric, favourable)
    assert use is not None
    return point_value(summary.kind, [safe_div(k, n) for k, n in parts], use)


class JointCells:
    """Evaluation rows tabulated by (group, label, every candidate's decision), non-empty cells only."""

    def __init__(self, groups: np.ndarray, labels: np.ndarray, decisions: np.ndarray, n_groups: int) -> None:
        self.k = decisions.shape[0]
        if self.k > MAX_CANDIDATES:
            raise ValueError(f"at most {MAX_CANDIDATES} candidates can be ranked together, got {self.k}")
        self.n_groups = n_groups
        pattern = np.zeros(labels.shape[0], dtype=np.int64)
        for i in range(self.k):
            pattern |= decisions[i].astype(np.int64) << i
        key = (groups.astype(np.int64) * 2 + labels.astype(np.int64)) << self.k | pattern
        self.keys, self.counts = np.unique(key, return_counts=True)
        # Candidates that decide every row alike share their pseudo-rows' coins, so they stay alike.
        self.alike = np.unique(decisions, axis=0, return_inverse=True)[1].ravel()

    def cells_of(self, weights: np.ndarray, candidate: int, prior: Prior | None = None) -> np.ndarray:
        """Return one candidate's confusion counts (..., groups, label, decision) for cell weights."""
        group_label = self.keys >> self.k
        decision = (self.keys >> candidate) & 1
        onehot = np.zeros((self.keys.size, self.n_groups * 4))
        onehot[np.arange(self.keys.size), group_label * 2 + decision] = 1.0
        out = weights @ onehot
        if prior is not None:  # each stratum's pseudo-row, with this candidate's coin as its decision
            coin = prior.coins[..., candidate]
            out[..., prior.strata * 2] += prior.weights * (1 - coin)
            out[..., prior.strata * 2 + 1] += prior.weights * coin
        return out.reshape((*weights.shape[:-1], self.n_groups, 2, 2))

    def bootstrap(self, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, Prior]:
        """Return Bayesian-bootstrap weights of the cells (n_boot, cells) and the pseudo-rows' prior."""
        weights = rng.gamma(self.counts.astype(float), size=(n_boot, self.counts.size))
        strata = np.unique(self.keys >> self.k)  # the (group, label) pairs the rows have
        prior = Prior(
            strata=strata,
            weights=rng.gamma(1.0, size=(n_boot, strata.size)),
            coins=rng.integers(0, 2, size=(n_boot, strata.size, self.alike.max() + 1))[..., self.alike],
        )
        return weights, prior


@dataclass(frozen=True)
class Prior:
    """One pseudo-row per (group, label) stratum and replicate: its weight and each candidate's decision."""

    strata: np.ndarray  # (strata,) group * 2 + label
    weights: np.ndarray  # (B, strata)
    coins: np.ndarray  # (B, strata, candidates) of 0/1


def rank(
    metric: RankMetric,
    candidates: list[str],
    labels: np.ndarray,
    decisions: np.ndarray,
    groups: np.ndarray | None = None,
    n_groups: int = 1,
    attribute: str | None = None,
    favourable: bool = False,
    min_group: int = 30,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Ranking:
    """Rank candidates on one metric with a paired bootstrap over the evaluation rows.

    A group metric leaves out, rate by rate, the groups whose denominator is below `min_group`.
    """
    k = len(candidates)
    group_codes = np.zeros(labels.shape[0], dtype=np.int64) if groups is None else groups
    joint = JointCells(group_codes, labels, decisions, n_groups)
    weights, prior = joint.bootstrap(n_boot, np.random.default_rng(seed))
    observed = [joint.cells_of(joint.counts.astype(float), i) for i in range(k)]
    found = [_estimate(metric, cells, favourable, min_group, confidence) for cells in observed]
    point = np.array([value for value, _, _ in found])
    reps = np.stack(
        [metric_values(joint.cells_of(weights, i, prior), metric.metric, favourable, found[i][2])
         for i in range(k)],
        axis=1,
    )  # fmt: skip  # (B, k)
    # Undefined values (e.g. no group large enough) rank last in every replicate.
    sign = 1.0 if metric.higher_is_better else -1.0
    score = np.where(np.isfinite(reps), sign * reps, -np.inf)
    best = score.max(axis=1, keepdims=True)
    ties = (score == best).sum(axis=1, keepdims=True)
    p_best = ((score == best) / ties).mean(axis=0)
    estimates = []
    for i, name in enumerate(candidates):
        value, interval, _ = found[i]
        if interval is None:
            interval = _percentile(reps[:, i], value, confidence)
        low, high = interval
        p = float(p_best[i])
        shown = float(value) if np.isfinite(value) else None
        estimates.append(Estimate(candidate=name, value=shown, ci_low=low, ci_high=high, p_best=p))
    key = np.where(np.isfinite(point), sign * point, -np.inf)
    order = [candidates[i] for i in sorted(range(k), key=lambda i: (-key[i], candidates[i]))]
    pairwise = []
    where = f" across {attribute} groups" if attribute else ""
    comparative = "larger" if metric.higher_is_better else "smaller"
    for a_pos, first in enumerate(order):
        for second in order[a_pos + 1 :]:
            i, j = candidates.index(first), candidates.index(second)
            prob = float(((score[:, i] > score[:, j]) + 0.5 * (score[:, i] == score[:, j])).mean())
            better, worse = first, second
            if prob < 0.5:
                # Close point estimates can order a pair against the replicates: say it their way.
                better, worse, prob = second, first, 1.0 - prob
            sentence = (
                f"{better} has a {comparative} {PHRASES[metric.metric]}{where} than {worse} "
                f"with probability {prob:.2f}"
            )
            pair = Pairwise(better=better, worse=worse, probability=round(prob, 4), sentence=sentence)
            pairwise.append(pair)
    return Ranking(
        metric=metric.metric,
        attribute=attribute,
        higher_is_better=metric.higher_is_better,
        order=order,
        estimates=estimates,
        pairwise=pairwise,
    )


Interval = tuple[float | None, float | None]


def _estimate(
    metric: RankMetric, cells: np.ndarray, favourable: bool, min_group: int, confidence: float
) -> tuple[float, Interval | None, list[np.ndarray] | None]:
    """Return a candidate's value, its interval (None: from the replicates) and the groups each rate uses.

    A group metric's value and interval are the audit's, over the groups with enough evidence only:
    the comparison is published, so a group below the minimum enters neither.
    """
    if not metric.per_attribute:
        return float(_rates(cells.sum(axis=-3))[metric.metric]), None, None
    summary, parts = _group_rates(cells, metric.metric, favourable)
    use = [n >= max(min_group, 1) for _, n in parts]
    labels = [str(g) for g in range(cells.shape[0])]
    found = summarize(metric.metric, summary, cells.reshape(-1, 4), labels, favourable, confidence, min_group)
    span = found.basis.decisive
    if span is None:  # fewer than two groups with enough evidence: nothing to rank on
        return math.nan, (None, None), use
    return found.value, (span.low, span.high), use


def _percentile(reps: np.ndarray, point: float, confidence: float) -> Interval:
    """Return the percentile interval of a metric's replicates (None where undefined)."""
    finite = reps[np.isfinite(reps)]
    if not finite.size or not np.isfinite(point):
        return None, None
    low, high = percentile_ci(finite, confidence)
    return float(low), float(high)
