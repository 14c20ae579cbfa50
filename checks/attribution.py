"""Summaries of SHAP values over a stratified sample: importance with intervals, stability, dependence."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from assay.checks.stats import percentile_ci

BOOT_BLOCK = 100


@dataclass(frozen=True)
class Draw:
    """Sampled row positions (sorted), the stratum of each and its weight (stratum size / sample size)."""

    positions: np.ndarray
    strata: np.ndarray
    weights: np.ndarray
    census: np.ndarray  # per stratum: every row of it was drawn, so it has no sampling error

    def __len__(self) -> int:
        return len(self.positions)


class StratifiedSampler:
    """Nested stratified samples: a larger draw contains every row of a smaller one."""

    def __init__(self, strata: np.ndarray, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.strata = np.asarray(strata, dtype=np.int64)
        self.sizes = np.bincount(self.strata)
        order = np.argsort(self.strata, kind="stable")
        bounds = np.cumsum(self.sizes)[:-1]
        # One random order per stratum, fixed once: a draw takes a prefix of each.
        self._orders = [rng.permutation(rows) for rows in np.split(order, bounds)]

    def allotment(self, total: int, floor: int) -> np.ndarray:
        """Return the rows drawn per stratum: proportional to its size, at least `floor`, at most all."""
        n = max(int(self.sizes.sum()), 1)
        share = np.ceil(total * self.sizes / n).astype(np.int64)
        return np.minimum(self.sizes, np.maximum(share, floor))

    def draw(self, total: int, floor: int) -> Draw:
        """Return the stratified draw of about `total` rows with at least `floor` per stratum."""
        take = self.allotment(total, floor)
        picked = [order[:m] for order, m in zip(self._orders, take, strict=True)]
        positions = np.concatenate(picked) if picked else np.empty(0, dtype=np.int64)
        strata = np.repeat(np.arange(len(take)), take)
        weights = np.repeat(self.sizes / np.maximum(take, 1), take)
        keep = np.argsort(positions, kind="stable")
        return Draw(positions[keep], strata[keep], weights[keep], census=take == self.sizes)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Return the weighted column means of `values` (zeros when there are no rows)."""
    total = weights.sum()
    return (weights @ values) / total if total > 0 else np.zeros(values.shape[1])


def _boot_weights(draw: Draw, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield blocks of bootstrap weights: rows resampled within each stratum (census strata kept)."""
    members = [np.flatnonzero(draw.strata == s) for s in range(len(draw.census))]
    done = 0
    while done < n_boot:
        b = min(BOOT_BLOCK, n_boot - done)
        counts = np.ones((b, len(draw)), dtype=float)
        for s, rows in enumerate(members):
            if len(rows) and not draw.census[s]:
                counts[:, rows] = rng.multinomial(len(rows), np.full(len(rows), 1.0 / len(rows)), size=b)
        yield counts * draw.weights
        done += b


def replicate_means(
    values: np.ndarray, draw: Draw, masks: list[np.ndarray], n_boot: int, seed: int
) -> list[np.ndarray]:
    """Return, per row mask, the bootstrap replicates (n_boot × columns) of the weighted column means."""
    rng = np.random.default_rng(seed)
    out: list[list[np.ndarray]] = [[] for _ in masks]
    for w in _boot_weights(draw, n_boot, rng):
        for i, mask in enumerate(masks):
            wm = w[:, mask]
            den = wm.sum(axis=1, keepdims=True)
            out[i].append((wm @ values[mask]) / np.where(den > 0, den, 1.0))
    return [np.concatenate(blocks) for blocks in out]


def shares(importance: np.ndarray) -> np.ndarray:
    """Return each column's share of the row total (zeros where the total is zero)."""
    total = importance.sum(axis=-1, keepdims=True)
    return np.divide(importance, total, out=np.zeros_like(importance, dtype=float), where=total > 0)


def largest_halfwidth(share_reps: np.ndarray, point: np.ndarray, confidence: float, top: int) -> float:
    """Return the largest interval half-width among the `top` largest shares (`point` orders them)."""
    low, high = percentile_ci(share_reps, confidence)
    leaders = np.argsort(-point)[:top]
    return float(np.max((high - low)[leaders] / 2.0)) if len(leaders) else 0.0


def top_halfwidth(
    abs_values: np.ndarray, draw: Draw, n_boot: int, confidence: float, top: int, seed: int
) -> float:
    """Return the largest interval half-width of the importance share among the top features."""
    everyone = np.ones(len(draw), dtype=bool)
    reps = shares(replicate_means(abs_values, draw, [everyone], n_boot, seed)[0])
    return largest_halfwidth(reps, weighted_mean(abs_values, draw.weights), confidence, top)


def split_halves_stability(abs_values: np.ndarray, draw: Draw) -> float | None:
    """Return the Spearman correlation of the importance ranking between two disjoint halves.

    Rows alternate between the halves within each stratum, so both halves keep the design.
    """
    rank_in_stratum = np.zeros(len(draw), dtype=np.int64)
    for s in np.unique(draw.strata):
        rows = np.flatnonzero(draw.strata == s)
        rank_in_stratum[rows] = np.arange(len(rows))
    first = rank_in_stratum % 2 == 0
    halves = []
    for mask in (first, ~first):
        if not mask.any():
            return None
        halves.append(weighted_mean(abs_values[mask], draw.weights[mask]))
    a, b = halves
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(sps.spearmanr(a, b).statistic)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Return the Spearman correlation of two importance vectors (None when one is constant)."""
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(sps.spearmanr(a, b).statistic)


def dependence(
    column: pd.Series, contributions: np.ndarray, weights: np.ndarray, bins: int, min_rows: int
) -> list[dict[str, object]]:
    """Summarise how one feature's value drives its contribution: weighted mean SHAP per value bin.

    Bins with fewer than `min_rows` sampled rows are left out (disclosure minimum).
    """
    from assay.checks.bias import discretise

    codes = discretise(column, max_bins=bins)
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    out: list[dict[str, object]] = []
    for code in np.unique(codes):
        rows = codes == code
        values = column[rows]
        if int(rows.sum()) < min_rows:
            continue
        if values.isna().all():
            label = "missing"
        elif numeric:
            low, high = values.min(), values.max()
            label = f"{low:g}" if low == high else f"{low:g}–{high:g}"
        else:
            kinds = sorted(map(str, values.dropna().unique()))
            label = kinds[0] if len(kinds) == 1 else "other"
        mean = float(np.average(contributions[rows], weights=weights[rows]))
        out.append({"bin": label, "n": int(rows.sum()), "mean_contribution": mean})
    return out
