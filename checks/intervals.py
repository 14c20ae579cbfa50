"""Intervals for a rate and for the difference and ratio of two independent rates, honest at any count.

A rate k/n gets the Clopper–Pearson ("exact") interval (statsmodels' `proportion_confint`, method
"beta"). Differences and ratios combine the two rates' own intervals by MOVER, the method of
recovering variance estimates (Newcombe 1998 for differences, Donner & Zou 2012 for ratios), which
stays defined at zero cells and needs no resampling. Why these and not others, measured by exact
enumeration over denominators 3–3,000, rates 0.005–0.995 and the levels simultaneous intervals
need (95% to 99.97%; `bench/validity.py` repeats it through the engine):
- Wilson's interval, and Newcombe's hybrid score built on it, dip to 86–89% coverage at 95% when
  a small group's expected count is below one (n = 30, p = 0.005);
- Agresti–Coull components hold 94% at 95% from 20 people up, but at n = 3 cover 91%, and at the
  levels of simultaneous intervals their one-sided error runs 2–100 times its nominal size;
- statsmodels' score intervals for two proportions (`method="score"`) stop with a root-finding
  error at zero cells, and take one pair at a time;
- Clopper–Pearson components never fell below nominal coverage, nor above the nominal one-sided
  error, at any level: they cost some power against Wilson's below a few hundred people, which
  is the price of a breach claim that holds.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

Interval = tuple[np.ndarray, np.ndarray]
# Power at which a "detectable" value is quoted.
POWER = 0.80


def each_confidence(confidence: float, comparisons: int) -> float:
    """Return the confidence each of `comparisons` intervals needs so that all hold together (Bonferroni)."""
    return 1.0 - (1.0 - confidence) / max(comparisons, 1)


def rate_interval(k: np.ndarray, n: np.ndarray, confidence: float) -> Interval:
    """Return the Clopper–Pearson interval of k/n (NaN where n is 0); k may be fractional (weights)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    safe_n = np.where(n > 0, n, 1.0)
    with np.errstate(invalid="ignore"):
        low, high = proportion_confint(k, safe_n, alpha=1.0 - confidence, method="beta")
    # The beta quantiles are NaN at k = 0 and k = n, where the bounds are exactly 0 and 1.
    p = k / safe_n
    low = np.fmin(np.where(k <= 0, 0.0, np.nan_to_num(low, nan=0.0)), p)
    high = np.fmax(np.where(k >= safe_n, 1.0, np.nan_to_num(high, nan=1.0)), p)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


# A rate with its interval: (estimate, low, high), each an array.
Rated = tuple[np.ndarray, np.ndarray, np.ndarray]


def rated(k: np.ndarray, n: np.ndarray, confidence: float) -> Rated:
    """Return the rates k/n (NaN where n is 0) with their intervals."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, np.asarray(k, dtype=float) / np.where(n > 0, n, 1.0), np.nan)
    low, high = rate_interval(k, n, confidence)
    return p, low, high


def mover_difference(first: Rated, second: Rated) -> Interval:
    """Return the MOVER interval of the first rate minus the second from their own intervals."""
    (p1, l1, u1), (p2, l2, u2) = first, second
    d = p1 - p2
    return d - np.hypot(p1 - l1, u2 - p2), d + np.hypot(u1 - p1, p2 - l2)


def mover_ratio(first: Rated, second: Rated) -> Interval:
    """Return the MOVER interval of the first rate over the second; its upper end is inf when the
    second rate may be 0, and it is [0, inf] when both rates are 0 (any ratio is possible)."""
    (p1, l1, u1), (p2, l2, u2) = first, second
    both = p1 * p2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = (both - np.sqrt(np.maximum(both**2 - l1 * u2 * (2 * p1 - l1) * (2 * p2 - u2), 0.0))) / (
            u2 * (2 * p2 - u2)
        )
        high = (both + np.sqrt(np.maximum(both**2 - u1 * l2 * (2 * p1 - u1) * (2 * p2 - l2), 0.0))) / (
            l2 * (2 * p2 - l2)
        )
        ratio = p1 / p2
    # A rate of 0 in the second group leaves the ratio unbounded above; in the first, bounded below by 0.
    low = np.where(np.isfinite(low) & (l1 > 0), np.maximum(low, 0.0), 0.0)
    high = np.where(np.isfinite(high) & (l2 > 0), high, np.inf)
    low = np.where(np.isfinite(ratio), np.fmin(low, ratio), low)
    high = np.where(np.isfinite(ratio), np.fmax(high, ratio), high)
    defined = np.isfinite(p1) & np.isfinite(p2)
    return np.where(defined, low, np.nan), np.where(defined, high, np.nan)


def combine(kind: str, first: Rated, second: Rated) -> Interval:
    """Return the interval of the "difference" or "ratio" of two rates from their own intervals."""
    return mover_difference(first, second) if kind == "difference" else mover_ratio(first, second)


def compare_interval(
    kind: str, k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray, confidence: float
) -> Interval:
    """Return the interval of a "difference" or a "ratio" of two rates."""
    return combine(kind, rated(k1, n1, confidence), rated(k2, n2, confidence))


def growth_to_settle(
    kind: str,
    first: tuple[float, float],
    second: tuple[float, float],
    confidence: float,
    bound: float,
    grow: tuple[bool, bool],
) -> float | None:
    """Return by how much the grown groups' denominators must be multiplied, at the observed rates,
    for the comparison's interval to lie wholly on one side of `bound`; None when no size would.

    `first` and `second` are (k, n); `grow` says which of the two groups grows.
    """
    (k1, n1), (k2, n2) = first, second
    # Factors from 1 to 10^6 in 5% steps ("about" this many people): one vectorized call instead
    # of a root search.
    factor = np.exp(np.linspace(0.0, math.log(1e6), 284))
    s1 = factor if grow[0] else np.ones_like(factor)
    s2 = factor if grow[1] else np.ones_like(factor)
    low, high = compare_interval(kind, k1 * s1, n1 * s1, k2 * s2, n2 * s2, confidence)
    settled = np.flatnonzero((low > bound) | (high < bound))
    return float(factor[settled[0]]) if settled.size else None


def detectable(kind: str, low: float, high: float, confidence: float, bound: float, above: bool) -> float:
    """Return the true value beyond `bound` that the same sizes would prove beyond it with 80% power.

    The standard error is read off the interval's width (on the log scale for a ratio).
    """
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    shift = z + float(stats.norm.ppf(POWER))
    if kind == "ratio":
        if not (low > 0 and math.isfinite(high) and bound > 0):
            return math.inf if above else 0.0
        se = (math.log(high) - math.log(low)) / (2 * z)
        return bound * math.exp(shift * se if above else -shift * se)
    se = (high - low) / (2 * z)
    return bound + shift * se if above else bound - shift * se
