"""Ranking candidates on the same evaluation rows, with paired-bootstrap probabilities.

Every replicate resamples the rows once and scores every candidate on that same resample, so a
difference between two candidates is judged against the noise of the difference itself, not of
each candidate alone. The rows only matter through (group, label, every candidate's decision): the
replicates draw multinomial counts over those joint cells, which is the row bootstrap exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from assay.checks.stats import basic_ci, percentile_ci

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


def _gap(rates: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Return max − min over the groups present (NaN rates of empty groups ignored)."""
    masked = np.where(present, rates, np.nan)
    with np.errstate(invalid="ignore"):
        return np.nanmax(masked, axis=-1) - np.nanmin(masked, axis=-1)


def metric_values(cells: np.ndarray, metric: str, favourable: bool, min_group: int) -> np.ndarray:
    """Return a metric from confusion counts shaped (..., groups, label, decision).

    Groups smaller than `min_group` rows are left out of gaps and ratios: their rates are noise.
    """
    if metric not in GROUP_METRICS:
        return _rates(cells.sum(axis=-3))[metric]
    rates = _rates(cells)
    present = cells.sum(axis=(-1, -2)) >= min_group
    if metric == "equalized_odds_difference":
        return np.maximum(_gap(rates["tpr"], present), _gap(rates["fpr"], present))
    if metric == "four_fifths_ratio":
        # The favourable outcome is the positive decision only when a positive decision helps.
        fav = rates["selection_rate"] if favourable else 1 - rates["selection_rate"]
        masked = np.where(present, fav, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nanmin(masked, axis=-1) / np.nanmax(masked, axis=-1)
    return _gap(rates[metric.removesuffix("_gap")], present)


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

    def cells_of(self, weights: np.ndarray, candidate: int) -> np.ndarray:
        """Return one candidate's confusion counts (..., groups, label, decision) for cell weights."""
        group_label = self.keys >> self.k
        decision = (self.keys >> candidate) & 1
        onehot = np.zeros((self.keys.size, self.n_groups * 4))
        onehot[np.arange(self.keys.size), group_label * 2 + decision] = 1.0
        return (weights @ onehot).reshape((*weights.shape[:-1], self.n_groups, 2, 2))


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
    """Rank candidates on one metric with a paired bootstrap over the evaluation rows."""
    k = len(candidates)
    group_codes = np.zeros(labels.shape[0], dtype=np.int64) if groups is None else groups
    joint = JointCells(group_codes, labels, decisions, n_groups)
    n = int(joint.counts.sum())
    draws = np.random.default_rng(seed).multinomial(n, joint.counts / n, size=n_boot)
    point = np.array(
        [metric_values(joint.cells_of(joint.counts.astype(float), i), metric.metric, favourable, min_group)
         for i in range(k)]
    )  # fmt: skip
    reps = np.stack(
        [metric_values(joint.cells_of(draws.astype(float), i), metric.metric, favourable, min_group)
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
        low, high = _interval(reps[:, i], point[i], confidence, extreme=metric.per_attribute)
        value = float(point[i]) if np.isfinite(point[i]) else None
        p = float(p_best[i])
        estimates.append(Estimate(candidate=name, value=value, ci_low=low, ci_high=high, p_best=p))
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


def _interval(
    reps: np.ndarray, point: float, confidence: float, extreme: bool
) -> tuple[float | None, float | None]:
    """Return the bootstrap interval the audit itself uses: basic for extremes over groups."""
    finite = reps[np.isfinite(reps)]
    if not finite.size or not np.isfinite(point):
        return None, None
    if extreme:
        low, high = basic_ci(finite, np.asarray(point), confidence)
    else:
        low, high = percentile_ci(finite, confidence)
    return float(low), float(high)
