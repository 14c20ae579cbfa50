"""Comparing an audit with the previous one: each watched metric's change, its interval, and
whether it is a regression beyond the policy's tolerance (for the monitor flow, issue 7)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.checks.disparity import statistic_interval
from assay.checks.intervals import compare_interval
from assay.checks.registry import all_checks
from assay.checks.results import MetricRow


class Watch(BaseModel):
    """A metric the monitor watches: which way is worse, and how much worse is tolerated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    metric: str
    worse: Literal["up", "down"]
    tolerance: float = Field(ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _known(self) -> Watch:
        checks = all_checks()
        if self.check not in checks:
            raise ValueError(f"unknown check id {self.check!r}")
        if self.metric not in checks[self.check].metrics:
            raise ValueError(f"check {self.check!r} reports no metric {self.metric!r}")
        return self


class MetricChange(BaseModel):
    """One metric row's change since the previous audit, with the interval of the change."""

    check_id: str
    metric: str
    attribute: str | None
    group: str | None
    feature: str | None
    n: int | None  # the smaller of the two audits' counts behind the row (for disclosure)
    before: float
    after: float
    change: float
    ci_low: float
    ci_high: float
    real: bool  # the interval excludes no change
    regression: bool  # worse by more than the tolerance, with the whole interval beyond it


def _key(row: MetricRow) -> tuple[str, str, str | None, str | None, str | None]:
    return (row.check_id, row.metric, row.attribute, row.group, row.feature)


def _halfwidth(row: MetricRow, confidence: float) -> float:
    """Return the half-width of the row's interval; a summary's is that of the pair of groups setting it.

    A summary's own interval holds over every pair of groups at once, wide by design for a verdict;
    its change between two audits is a change of the gap it reports, as precise as that pair.
    """
    basis = row.basis
    span = basis.decisive if basis is not None and basis.is_summary else None
    pair = None if span is None else (span.low_pair if basis.kind == "difference" else span.high_pair)
    if basis is not None and pair is not None:
        low, high = compare_interval(
            basis.kind, pair.first.k, pair.first.n, pair.second.k, pair.second.n, confidence
        )
        low, high = statistic_interval(basis.kind, np.asarray(low), np.asarray(high))
        if np.isfinite(low) and np.isfinite(high):
            return float(high - low) / 2
    if row.ci_low is None or row.ci_high is None:
        return 0.0
    return (row.ci_high - row.ci_low) / 2


def compare(
    before: list[MetricRow], after: list[MetricRow], watches: list[Watch], confidence: float = 0.95
) -> list[MetricChange]:
    """Return the change of every watched metric row present, defined, in both audits.

    The two audits draw on different rows, so the change's half-width is the root of the sum of
    the squared half-widths of the two intervals (independent estimates).
    """
    previous = {_key(r): r for r in before}
    changes = []
    for row in after:
        watch = next((w for w in watches if (w.check, w.metric) == (row.check_id, row.metric)), None)
        old = previous.get(_key(row))
        if watch is None or old is None or old.value is None or row.value is None:
            continue
        change = row.value - old.value
        half = math.hypot(_halfwidth(old, confidence), _halfwidth(row, confidence))
        low, high = change - half, change + half
        worse_low = low if watch.worse == "up" else -high  # the smallest worsening the interval allows
        changes.append(
            MetricChange(
                check_id=row.check_id,
                metric=row.metric,
                attribute=row.attribute,
                group=row.group,
                feature=row.feature,
                n=min((x for x in (old.n, row.n) if x is not None), default=None),
                before=old.value,
                after=row.value,
                change=change,
                ci_low=low,
                ci_high=high,
                real=low > 0 or high < 0,
                regression=worse_low > watch.tolerance,
            )
        )
    return changes
