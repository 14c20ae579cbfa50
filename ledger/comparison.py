"""The comparison record of a procurement round: every candidate side by side, ranked with odds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from assay.checks.context import Text
from assay.checks.ranking import Ranking
from assay.checks.results import SCHEMA_VERSION


class CandidateOutcome(BaseModel):
    """How one candidate of the round ended: its sealed audit, or why it could not be audited."""

    candidate: str
    vendor: str | None = None
    format: str | None = None
    audit_id: str | None = None
    recommendation: str | None = None
    failing_clauses: list[str] = Field(default_factory=list)
    manifest_sha256: str | None = None
    error: str | None = None  # intake or validation failure: the round went on without it


class ClauseRow(BaseModel):
    """One clause of the policy and every audited candidate's verdict on it."""

    clause_id: str
    title: Text
    severity: str
    verdicts: dict[str, str]


class ComparisonRecord(BaseModel):
    """One sealed procurement round (aggregates only; each audit's own record holds the details)."""

    schema_version: str = SCHEMA_VERSION
    kind: str = "comparison"
    audit_id: str
    round_id: str
    version: int
    created_at: str
    service: dict[str, Any]
    policy: dict[str, Any]
    data_sha256: str
    seed: int
    task_runner: str
    candidates: list[CandidateOutcome]
    clauses: list[ClauseRow]
    rankings: list[Ranking]
    command: str

    @property
    def eligible(self) -> list[str]:
        """Return the candidates whose recommendation lets the agency proceed with them."""
        ok = ("eligible", "eligible_with_conditions")
        return [c.candidate for c in self.candidates if c.recommendation in ok]
