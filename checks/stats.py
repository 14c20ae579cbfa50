"""Counting and resampling helpers: confusion cells, multinomial bootstrap, intervals and tests."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

# Confusion cells are coded label * 2 + decision, so the last axis of a count array is:
TN, FP, FN, TP = 0, 1, 2, 3
ALL = (TN, FP, FN, TP)

# Every count-based rate as (cells in the numerator, cells in the denominator).
RATE_CELLS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "selection_rate": ((FP, TP), ALL),
    "tpr": ((TP,), (FN, TP)),
    "fnr": ((FN,), (FN, TP)),
    "fpr": ((FP,), (TN, FP)),
    "tnr": ((TN,), (TN, FP)),
    "ppv": ((TP,), (FP, TP)),
    "npv": ((TN,), (TN, FN)),
    "accuracy": ((TN, TP), ALL),
    "base_rate": ((FN, TP), ALL),
}

# An intersection of attributes is named by joining their names (and its groups' names) with this.
CROSS = "×"


def confusion_codes(labels: np.ndarray, decisions: np.ndarray) -> np.ndarray:
    """Return each row's confusion cell (TN, FP, FN, TP as 0..3)."""
    return labels.astype(np.int64) * 2 + decisions.astype(np.int64)


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Divide elementwise, giving NaN where the denominator is zero."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def rate_parts(counts: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the numerator and denominator counts of a named rate over the last axis of `counts`."""
    num_cells, den_cells = RATE_CELLS[name]
    return counts[..., list(num_cells)].sum(axis=-1), counts[..., list(den_cells)].sum(axis=-1)


def rates(counts: np.ndarray, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Return count-based rates over the last axis (TN, FP, FN, TP) of `counts`."""
    return {name: safe_div(*rate_parts(counts, name)) for name in names or tuple(RATE_CELLS)}


@lru_cache(maxsize=8)
def _z(confidence: float) -> float:
    """Return the two-sided normal quantile of a confidence level."""
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def two_proportion_pvalues(
    k1: np.ndarray, n1: np.ndarray, k2: np.ndarray, n2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return two-sided p-values for k1/n1 = k2/n2, and the test used for each comparison.

    Pearson's chi-square test without continuity correction, or Fisher's exact test where an
    expected count of the 2×2 table is below 5. NaN (test "none") where a side is empty.
    """
    arrays = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (k1, n1, k2, n2))
    k1, n1, k2, n2 = np.broadcast_arrays(*arrays)
    n = n1 + n2
    pooled = safe_div(k1 + k2, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_min = np.minimum(np.minimum(n1, n2) * pooled, np.minimum(n1, n2) * (1 - pooled))
        z = (k1 / n1 - k2 / n2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p = 2 * stats.norm.sf(np.abs(z))
    method = np.where(np.isnan(p), "none", "chi-square").astype(object)
    p = np.where(pooled * (1 - pooled) == 0, 1.0, p)  # both rates 0 or both 1: no difference
    method[(pooled * (1 - pooled) == 0) & (n1 > 0) & (n2 > 0)] = "chi-square"
    for i in np.flatnonzero((expected_min < 5) & (n1 > 0) & (n2 > 0)):
        table = [[k1[i], n1[i] - k1[i]], [k2[i], n2[i] - k2[i]]]
        p[i] = stats.fisher_exact(np.asarray(table, dtype=np.int64)).pvalue
        method[i] = "fisher"
    p[(n1 == 0) | (n2 == 0)] = np.nan
    return p, method


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Return Holm-adjusted p-values (family-wise error control); NaN stays NaN and is not counted."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order]) if m else np.array([])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def spread(values: np.ndarray) -> np.ndarray:
    """Return max minus min over the last axis, ignoring NaN (groups where a metric is undefined)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, as they should
        return np.nanmax(values, axis=-1) - np.nanmin(values, axis=-1)


@dataclass(frozen=True)
class Grouping:
    """A partition of the finest cells into the groups of one attribute or intersection."""

    name: str
    attributes: tuple[str, ...]
    labels: list[str]
    cell_group: np.ndarray  # group index of every cell

    @property
    def is_intersection(self) -> bool:
        """Say whether this grouping crosses several attributes."""
        return len(self.attributes) > 1


class CellCounts:
    """Counts per finest cross of sensitive attributes × row code, aggregated to any grouping.

    The row code is the confusion cell by default (`n_codes=4`); any other discrete code works.

    Resampling these counts from a multinomial has the same distribution as resampling rows for
    every count-based metric, and every grouping of one replicate comes from the same population.
    """

    def __init__(self, codes: np.ndarray, sensitive: pd.DataFrame, n_codes: int = 4) -> None:
        self.attributes = list(sensitive.columns)
        self.groups: dict[str, list[str]] = {}
        combined = np.zeros(len(codes), dtype=np.int64)
        radices = []
        for attr in self.attributes:
            codes_a, uniques = pd.factorize(sensitive[attr], sort=True)
            self.groups[attr] = [str(u) for u in uniques]
            radices.append(max(len(uniques), 1))
            combined = combined * radices[-1] + codes_a
        # Only observed crosses become cells, so the count table stays as small as the data allows.
        space = int(np.prod(radices, dtype=np.float64))
        if space <= max(4 * len(codes), 1 << 16):  # counting over the whole space beats sorting
            full = np.bincount(combined * n_codes + codes, minlength=space * n_codes).reshape(space, n_codes)
            cells = np.flatnonzero(full.sum(axis=1))
            self.counts = full[cells]
        else:
            cells, cell_of_row = np.unique(combined, return_inverse=True)
            self.counts = np.bincount(
                cell_of_row.ravel() * n_codes + codes, minlength=len(cells) * n_codes
            ).reshape(len(cells), n_codes)
        self._cells, self._combined, self._codes, self._n_codes = cells, combined, codes, n_codes
        self._combos = np.zeros((len(cells), len(radices)), dtype=np.int64)
        rest = cells.copy()
        for j in range(len(radices) - 1, -1, -1):
            self._combos[:, j] = rest % radices[j]
            rest //= radices[j]

    def row_groups(self, grouping: Grouping) -> np.ndarray:
        """Return the index of each row's group in the grouping."""
        return grouping.cell_group[np.searchsorted(self._cells, self._combined)]

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Return the sum of a per-row value in each (cell, code), shaped like `counts`."""
        key = np.searchsorted(self._cells, self._combined) * self._n_codes + self._codes
        return np.bincount(key, weights=values, minlength=self.counts.size).reshape(self.counts.shape)

    @property
    def n(self) -> int:
        """Return the number of rows counted."""
        return int(self.counts.sum())

    def grouping(self, attributes: tuple[str, ...]) -> Grouping:
        """Return the grouping of the cells by one attribute or by the cross of several."""
        cols = [self.attributes.index(a) for a in attributes]
        keys, cell_group = np.unique(self._combos[:, cols], axis=0, return_inverse=True)
        labels = [
            CROSS.join(self.groups[a][int(code)] for a, code in zip(attributes, key, strict=True))
            for key in keys
        ]
        return Grouping(CROSS.join(attributes), tuple(attributes), labels, cell_group.ravel())

    def groupings(self, intersections: str) -> list[Grouping]:
        """Return every single attribute, then pairwise or full intersections as asked."""
        out = [self.grouping((a,)) for a in self.attributes]
        if intersections == "pairs":
            out += [self.grouping(pair) for pair in combinations(self.attributes, 2)]
        elif intersections == "full" and len(self.attributes) > 1:
            out += [self.grouping(tuple(self.attributes))]
        return out

    def aggregate(self, cell_counts: np.ndarray, grouping: Grouping) -> np.ndarray:
        """Sum counts shaped (..., cells, codes) into the grouping's groups: (..., groups, codes)."""
        n_groups = len(grouping.labels)
        if n_groups * len(grouping.cell_group) <= 1 << 20:  # a dense 0/1 matrix product is fastest
            member = (grouping.cell_group[None, :] == np.arange(n_groups)[:, None]).astype(float)
            return np.matmul(member, cell_counts)
        order = np.argsort(grouping.cell_group, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(grouping.cell_group[order]) != 0])
        return np.add.reduceat(cell_counts[..., order, :], starts, axis=-2)

    def bootstrap(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """Return `n_boot` multinomial replicates of the cell counts, shaped (B, cells, codes)."""
        flat = self.counts.ravel()
        draws = rng.multinomial(self.n, flat / flat.sum(), size=n_boot)
        return draws.reshape(n_boot, *self.counts.shape).astype(float)


def percentile_ci(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the percentile interval over axis 0, ignoring replicates where a metric is NaN.

    Equal to numpy's nanquantile (linear interpolation), computed with one sort for all columns
    because nanquantile loops over columns in Python.
    """
    alpha = (1.0 - confidence) / 2.0
    boot = np.asarray(boot, dtype=float)
    ordered = np.sort(boot, axis=0)  # NaN sorts last
    valid = (~np.isnan(boot)).sum(axis=0)
    out = []
    for q in (alpha, 1.0 - alpha):
        pos = q * np.maximum(valid - 1, 0)
        below = np.floor(pos).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(valid - 1, 0))
        lo = np.take_along_axis(ordered, below[None, ...], axis=0)[0]
        hi = np.take_along_axis(ordered, above[None, ...], axis=0)[0]
        value = lo + (pos - below) * (hi - lo)
        out.append(np.where(valid > 0, value, np.nan))
    return out[0], out[1]
