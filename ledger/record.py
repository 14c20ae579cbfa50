"""The audit record: what one audit measured and concluded, and everything needed to reproduce it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, computed_field

from assay.checks.checklist import Answer
from assay.checks.monitoring import MonitorReport
from assay.checks.policy import PolicyPack, Recommendation, Verdict, evaluate, recommend
from assay.checks.results import SCHEMA_VERSION, CheckResult, MetricRow
from assay.checks.triage import TriageResult


class Subject(BaseModel):
    """Who and what was audited; (service, candidate) is the subject a version counts."""

    service: str
    candidate: str
    vendor: str
    model: str
    model_version: str


class Fingerprints(BaseModel):
    """Hashes and versions of every input, so an audit can be reproduced and compared."""

    data_sha256: str
    model_sha256: str
    # Of the pack as judged (its canonical JSON, bases included), not of the top file; records
    # sealed before December 2026 hold the top file's SHA-256.
    policy_sha256: str
    profile_sha256: str
    contract_sha256: str | None
    answers_sha256: str | None = None
    code_version: str
    libraries: dict[str, str]
    seed: int


class AuditRecord(BaseModel):
    """One sealed audit: results, verdicts and provenance (aggregates only, no personal data)."""

    schema_version: str = SCHEMA_VERSION
    audit_id: str
    version: int
    created_at: str
    subject: Subject
    service: dict[str, Any]
    candidate: dict[str, Any]
    policy: dict[str, Any]
    evaluation: dict[str, Any]
    # How the candidate was taken in: format, fingerprint, endpoint requests, predictions' join.
    intake: dict[str, Any] = Field(default_factory=dict)
    inputs: Fingerprints
    results: list[CheckResult]
    verdicts: list[Verdict]
    # Checklist answers as given: question, clause, answer, who answered and when.
    attestations: list[dict[str, Any]] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    command: str
    # Set by `assay monitor`: the comparison with the subject's previous version.
    monitoring: MonitorReport | None = None
    # The Prefect flow run that made the record: its id, and its page when a server keeps it.
    prefect: dict[str, str] | None = None
    # Whether the service is high-impact AI and which packs it calls for, from the profile's answers.
    triage: TriageResult | None = None
    # Set on an audit that is not eligible: the earlier eligible versions of the same subject, whose
    # trust labels it revokes (`assay label verify --ledger` reports them revoked).
    revokes: list[str] = Field(default_factory=list)

    @computed_field  # derived from the verdicts every time, never set by hand
    @property
    def recommendation(self) -> Recommendation:
        """Return the overall recommendation the verdicts imply."""
        return recommend(self.verdicts)

    def metric_rows(self) -> list[MetricRow]:
        """Return every check's metric rows in long format."""
        return [row for result in self.results for row in result.metrics]

    @property
    def disclosure_min(self) -> int:
        """Return the policy's smallest group whose numbers may be published."""
        return int(self.policy.get("parameters", {}).get("disclosure_min", 10))

    def published_rows(self) -> list[dict[str, Any]]:
        """Return the metric rows fit for publication: values about groups below the minimum blanked.

        The group's size stays, so a reader sees that a group exists and why it has no number.
        """
        rows = []
        for row in self.metric_rows():
            item = row.model_dump()
            # A summary over an attribute's groups (a gap, a ratio) would reveal its smallest group.
            about_groups = row.group is not None or row.attribute is not None
            item["suppressed"] = about_groups and row.n is not None and row.n < self.disclosure_min
            if item["suppressed"]:
                item.update(value=None, ci_low=None, ci_high=None)
            rows.append(item)
        return rows

    def judge_under(self, pack: PolicyPack, answers: dict[str, Answer] | None = None) -> list[Verdict]:
        """Return the verdicts this record's results get under another pack, without re-running checks.

        Raises ValueError when the pack's statistical parameters differ from those the checks ran
        with, since the intervals (and so the verdicts) would then be the wrong ones.
        """
        used = self.policy.get("parameters", {})
        wanted = pack.parameters.model_dump(mode="json")
        for name, value in wanted.items():
            if used.get(name) != value:
                raise ValueError(
                    f"the audit's checks ran with {name}={used.get(name)!r}, policy {pack.id!r} "
                    f"asks for {value!r}: audit again with --policy {pack.id}"
                )
        return evaluate(pack, {r.check_id: r for r in self.results}, answers)
