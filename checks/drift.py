"""Data drift between a reference window and a current one: PSI, and KS or chi-square per feature.

Pure functions for the monitor flow (issue 7): numeric features get the population stability index
over the reference's deciles and the two-sample Kolmogorov-Smirnov test; categorical ones get PSI
over their categories and the chi-square test of homogeneity. Both tests are computed here with
numpy (KS in one sort) and agree with scipy's `ks_2samp(method="asymp")` and
`chi2_contingency(correction=False)`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel
from scipy import stats

# Proportions of empty bins are floored so PSI stays finite; the floor is the usual 1e-4.
PSI_FLOOR = 1e-4


class FeatureDrift(BaseModel):
    """How one feature's distribution moved between the reference and the current window."""

    feature: str
    kind: Literal["numeric", "categorical"]
    psi: float
    test: Literal["ks", "chi2"]
    statistic: float
    p_value: float
    n_reference: int
    n_current: int


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, floor: float = PSI_FLOOR) -> float:
    """Return the population stability index of two histograms over the same bins."""
    ref = np.maximum(reference_counts / max(reference_counts.sum(), 1), floor)
    cur = np.maximum(current_counts / max(current_counts.sum(), 1), floor)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Return the inner bin edges at the reference's quantiles (ties merged)."""
    inner = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(inner)


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Return the two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value."""
    a, b = np.sort(a), np.sort(b)
    values = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, values, side="right") / a.size
    cdf_b = np.searchsorted(b, values, side="right") / b.size
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    en = a.size * b.size / (a.size + b.size)
    return d, float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def chi2_homogeneity(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Return the chi-square statistic and p-value that two count vectors share one distribution."""
    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))


def feature_drift(name: str, reference: pd.Series, current: pd.Series, bins: int = 10) -> FeatureDrift:
    """Return the drift of one feature; missing values are left out of both windows."""
    ref, cur = reference.dropna(), current.dropna()
    numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
    if numeric and ref.nunique() > bins:
        r, c = ref.to_numpy(float), cur.to_numpy(float)
        edges = quantile_edges(r, bins)
        counts = [
            np.bincount(np.searchsorted(edges, x, side="right"), minlength=edges.size + 1) for x in (r, c)
        ]
        statistic, p_value = ks_2samp(r, c)
        return FeatureDrift(
            feature=name, kind="numeric", psi=psi(*counts), test="ks", statistic=statistic,
            p_value=p_value, n_reference=r.size, n_current=c.size,
        )  # fmt: skip
    categories = sorted(set(ref.astype(str)) | set(cur.astype(str)))
    counts = [x.astype(str).value_counts().reindex(categories, fill_value=0).to_numpy() for x in (ref, cur)]
    statistic, p_value = chi2_homogeneity(*counts)
    return FeatureDrift(
        feature=name, kind="categorical", psi=psi(*counts), test="chi2", statistic=statistic,
        p_value=p_value, n_reference=len(ref), n_current=len(cur),
    )  # fmt: skip
