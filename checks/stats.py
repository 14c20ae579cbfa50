"""Counting and resampling helpers: confusion cells, multinomial bootstrap, percentile intervals."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

# Confusion cells are coded label * 2 + decision, so the last axis of a count array is:
TN, FP, FN, TP = 0, 1, 2, 3


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


def rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Return count-based rates over the last axis (TN, FP, FN, TP) of `counts`."""
    tn, fp, fn, tp = (counts[..., i] for i in (TN, FP, FN, TP))
    n = tn + fp + fn + tp
    return {
        "selection_rate": safe_div(fp + tp, n),
        "tpr": safe_div(tp, tp + fn),
        "fpr": safe_div(fp, fp + tn),
        "ppv": safe_div(tp, tp + fp),
        "accuracy": safe_div(tp + tn, n),
    }


class CellCounts:
    """Confusion counts per finest cross of sensitive attributes, with aggregation to any grouping.

    Resampling these counts from a multinomial has the same distribution as resampling rows for
    every count-based metric, and every grouping of one replicate comes from the same population.
    """

    def __init__(self, codes: np.ndarray, sensitive: pd.DataFrame) -> None:
        self.attributes = list(sensitive.columns)
        self.groups: dict[str, list[str]] = {}
        group_codes = []
        for attr in self.attributes:
            codes_a, uniques = pd.factorize(sensitive[attr], sort=True)
            self.groups[attr] = [str(u) for u in uniques]
            group_codes.append(codes_a)
        stacked = np.stack(group_codes, axis=1) if group_codes else np.zeros((len(codes), 0))
        combos, cell = np.unique(stacked, axis=0, return_inverse=True)
        self._combos = combos
        n_cells = len(combos)
        self.counts = np.bincount(cell.ravel() * 4 + codes, minlength=n_cells * 4).reshape(n_cells, 4)

    @property
    def n(self) -> int:
        """Return the number of rows counted."""
        return int(self.counts.sum())

    def membership(self, attribute: str) -> np.ndarray:
        """Return a (groups × cells) 0/1 matrix saying which cells make up each group."""
        col = self._combos[:, self.attributes.index(attribute)]
        return (col[None, :] == np.arange(len(self.groups[attribute]))[:, None]).astype(float)

    def bootstrap(self, n_boot: int, rng: np.random.Generator) -> np.ndarray:
        """Return `n_boot` multinomial replicates of the cell counts, shaped (B, cells, 4)."""
        flat = self.counts.ravel()
        draws = rng.multinomial(self.n, flat / flat.sum(), size=n_boot)
        return draws.reshape(n_boot, *self.counts.shape).astype(float)


def percentile_ci(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Return the percentile interval over axis 0, ignoring replicates where a metric is NaN."""
    alpha = (1.0 - confidence) / 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices give NaN, as they should
        low = np.nanquantile(boot, alpha, axis=0)
        high = np.nanquantile(boot, 1.0 - alpha, axis=0)
    return low, high
