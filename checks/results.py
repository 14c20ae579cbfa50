"""Typed check results shared by every layer: statuses, long-format metric rows, results."""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.checks.phrase import Phrase, said

# 2: a metric row's `n` is the denominator its rate rests on, and comparisons carry their `basis`.
SCHEMA_VERSION = "2"


class Status(StrEnum):
    """Status of a check's evidence; pass/fail against a policy threshold is a Verdict."""

    PASSED = "passed"  # ran to completion and its own criteria (if any) hold
    FAILED = "failed"  # its own criteria do not hold (e.g. a data contract)
    INCONCLUSIVE = "inconclusive"  # ran, but on too little data to say
    NOT_ASSESSED = "not_assessed"  # could not run: an input it needs is missing
    ERROR = "error"  # crashed; the message says why


class Need(StrEnum):
    """What a check needs from the audit before it can run."""

    LABELS = "labels"
    SCORES = "scores"
    DECISIONS = "decisions"
    MODEL_ACCESS = "model_access"
    SENSITIVE = "sensitive"
    CONTRACT = "contract"


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class Count(BaseModel):
    """One group's evidence for a rate: `k` of `n` (its numerator and denominator) among `size` people."""

    model_config = ConfigDict(frozen=True)

    group: str
    k: int
    n: int
    size: int


class Pair(BaseModel):
    """Two groups' rates compared (`first` against `second`) and the interval of that comparison."""

    model_config = ConfigDict(frozen=True)

    rate: str
    first: Count
    second: Count
    confidence: float  # each pair's own level: above the nominal one when the pairs are simultaneous
    low: float | None
    high: float | None

    @field_validator("low", "high", mode="before")
    @classmethod
    def _nan_is_none(cls, v: Any) -> float | None:
        if v is not None and math.isinf(float(v)):
            return None  # an unbounded end; JSON has no infinity
        return _finite_or_none(v)


class Span(BaseModel):
    """A summary's interval over some pairs of groups, and the pair that sets each end."""

    model_config = ConfigDict(frozen=True)

    low: float | None
    high: float | None  # None: unbounded (a ratio whose denominator rate may be 0)
    low_pair: Pair | None
    high_pair: Pair | None
    pairs: int  # the comparisons the interval holds over simultaneously

    @field_validator("low", "high", mode="before")
    @classmethod
    def _nan_is_none(cls, v: Any) -> float | None:
        return _finite_or_none(v)


class Basis(BaseModel):
    """What a comparison between groups rests on, so that its verdict can name the groups that decide.

    A comparison of one group with the reference has its `pair`. A summary across groups (a gap, a
    min/max ratio) has the interval over the pairs of groups with enough evidence (`decisive`; None
    when fewer than two groups have it) and over the pairs of every group (`every`). Groups whose
    denominator is below `minimum` are listed in `small`: they never decide a breach on their own.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["difference", "ratio"]
    minimum: int
    pair: Pair | None = None
    decisive: Span | None = None
    every: Span | None = None
    small: list[Count] = Field(default_factory=list)

    @property
    def is_summary(self) -> bool:
        """Say whether this is a summary across groups rather than one group against the reference."""
        return self.pair is None


class MetricRow(BaseModel):
    """One measurement in long format; `attribute`/`group` say which population it is about."""

    model_config = ConfigDict(frozen=True)

    check_id: str
    metric: str
    attribute: str | None = None
    group: str | None = None
    feature: str | None = None
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    # The denominator the value rests on (a rate's denominator; the smaller one for a comparison).
    n: int | None = None
    basis: Basis | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("value", "ci_low", "ci_high", mode="before")
    @classmethod
    def _nan_is_none(cls, v: Any) -> float | None:
        return _finite_or_none(v)


class CheckResult(BaseModel):
    """What one check found: its status, metric rows, messages and structured details."""

    check_id: str
    title: str
    status: Status
    metrics: list[MetricRow] = Field(default_factory=list)
    # In English; `phrases` says the same, one phrase per message, in a form each report language
    # can say (records sealed before phrases existed have none, and their reports quote the English).
    messages: list[str] = Field(default_factory=list)
    phrases: list[Phrase] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    seconds: float | None = None

    @classmethod
    def of(
        cls, check_id: str, title: str, status: Status, phrases: list[Phrase], **fields: Any
    ) -> CheckResult:
        """Return a result whose messages are given as phrases, each kept beside its English sentence."""
        return cls(
            check_id=check_id,
            title=title,
            status=status,
            messages=[str(p) for p in phrases],
            phrases=list(phrases),
            **fields,
        )

    def said(self, lang: str, translate: Callable[[str], str] | None = None) -> list[str]:
        """Return the messages in `lang` (in English when the record predates phrases)."""
        return said(self.phrases, self.messages, lang, translate)

    def rows(self, metric: str) -> list[MetricRow]:
        """Return the metric rows named `metric`."""
        return [r for r in self.metrics if r.metric == metric]
