"""What a recurring audit compares with the previous one: a pack's monitoring settings, group-share
shift, feature drift flags, and the report the monitor flow seals with the new record (issue 7)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field

from assay.checks.drift import FeatureDrift, chi2_homogeneity
from assay.checks.regression import MetricChange, Watch
from assay.checks.results import MetricRow
from assay.checks.stats import CROSS

# Where group sizes come from: every group of every attribute has a selection-rate row whose n is
# the group's size in the evaluation window.
SIZE_CHECK, SIZE_METRIC = "fairness.group_metrics", "selection_rate"


def default_watches() -> list[Watch]:
    """Return the watches a pack gets unless it names its own: accuracy and the main fairness gaps."""
    return [
        Watch(check="performance.classification", metric="balanced_accuracy", worse="down", tolerance=0.02),
        Watch(check="performance.classification", metric="roc_auc", worse="down", tolerance=0.02),
        Watch(check="fairness.group_metrics", metric="equalized_odds_difference", worse="up", tolerance=0.03),
        Watch(check="fairness.group_metrics", metric="fpr_gap", worse="up", tolerance=0.03),
        Watch(check="fairness.group_metrics", metric="selection_rate_gap", worse="up", tolerance=0.03),
        Watch(check="fairness.score_metrics", metric="roc_auc_gap", worse="up", tolerance=0.03),
    ]


class Monitoring(BaseModel):
    """A pack's monitoring settings: what a recurring audit watches and what drift it reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    watches: list[Watch] = Field(default_factory=default_watches, min_length=1)
    # A feature has drifted when its PSI is above this (0.2 is the usual "significant shift")...
    drift_psi: float = Field(0.2, gt=0, allow_inf_nan=False)
    # ...and the KS or chi-square test says the move is not chance.
    drift_p_value: float = Field(0.01, gt=0, lt=1)
    # A group's share of the window has shifted when it moved by more than this, beyond chance.
    share_shift: float = Field(0.05, gt=0, lt=1)
    drift_bins: int = Field(10, ge=2, le=100)
    # The longest a deployed model may run on one audit: a trust label expires then.
    reaudit_days: int = Field(365, ge=1, le=3650)


class Drift(FeatureDrift):
    """One input feature's drift and whether it crosses the pack's thresholds."""

    drifted: bool


class GroupShift(BaseModel):
    """How one group's share of the evaluation window moved since the previous audit."""

    attribute: str
    group: str
    n_before: int
    n_after: int
    share_before: float
    share_after: float
    change: float
    p_value: float  # chi-square homogeneity of the attribute's group counts, both windows
    shifted: bool


class MonitorReport(BaseModel):
    """What the monitor found against the previous version of the same subject."""

    run_key: str
    previous_audit_id: str | None
    window: str
    window_sha256: str
    # Where the previous window's rows came from for drift: found by its hash beside the current
    # window, given by the user, missing (drift not assessed), or none (no previous audit).
    reference: str | None = None
    reference_status: Literal["found", "given", "missing", "none"]
    settings: Monitoring
    changes: list[MetricChange] = Field(default_factory=list)
    drift: list[Drift] = Field(default_factory=list)
    group_shift: list[GroupShift] = Field(default_factory=list)

    @computed_field  # derived from the changes, never set by hand
    @property
    def status(self) -> Literal["baseline", "stable", "regression"]:
        """Return baseline (nothing to compare with), regression, or stable."""
        if self.previous_audit_id is None:
            return "baseline"
        return "regression" if any(c.regression for c in self.changes) else "stable"

    def regressions(self) -> list[MetricChange]:
        """Return the watched changes worse than the tolerance, the whole interval beyond it."""
        return [c for c in self.changes if c.regression]


def group_sizes(rows: list[MetricRow]) -> dict[str, dict[str, int]]:
    """Return every single attribute's group sizes, as the audit's group metrics counted them."""
    sizes: dict[str, dict[str, int]] = {}
    for row in rows:
        if (row.check_id, row.metric) != (SIZE_CHECK, SIZE_METRIC) or row.group is None or row.n is None:
            continue
        if row.attribute is None or CROSS in row.attribute:
            continue
        sizes.setdefault(row.attribute, {})[row.group] = row.n
    return sizes


def group_share_shift(before: list[MetricRow], after: list[MetricRow], threshold: float) -> list[GroupShift]:
    """Return every group's share before and after, flagged when it moved beyond `threshold` and chance."""
    old, new = group_sizes(before), group_sizes(after)
    out = []
    for attribute in sorted(set(old) & set(new)):
        groups = sorted(set(old[attribute]) | set(new[attribute]))
        counts_before = np.array([old[attribute].get(g, 0) for g in groups], dtype=float)
        counts_after = np.array([new[attribute].get(g, 0) for g in groups], dtype=float)
        _, p_value = chi2_homogeneity(counts_before, counts_after)
        for g, b, a in zip(groups, counts_before, counts_after, strict=True):
            share_before, share_after = b / counts_before.sum(), a / counts_after.sum()
            change = share_after - share_before
            out.append(
                GroupShift(
                    attribute=attribute,
                    group=g,
                    n_before=int(b),
                    n_after=int(a),
                    share_before=share_before,
                    share_after=share_after,
                    change=change,
                    p_value=p_value,
                    shifted=abs(change) > threshold and p_value < 0.01,
                )
            )
    return out


def flag_drift(drift: list[FeatureDrift], settings: Monitoring) -> list[Drift]:
    """Return the features' drift, each flagged when both its PSI and its test cross the thresholds."""
    return [
        Drift(**d.model_dump(), drifted=d.psi > settings.drift_psi and d.p_value < settings.drift_p_value)
        for d in drift
    ]
