"""The procurement round: several candidates on the same data and policy, audited concurrently."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from assay.checks.errors import AssayInputError
from assay.flows.audit import AuditSpec, AuditSummary, audit_candidate


@task(cache_policy=NO_CACHE, task_run_name="audit {spec.candidate}")
def audit_in_round(spec: AuditSpec) -> AuditSummary:
    """Audit one candidate of the round; a bad submission is reported, not fatal to the round."""
    try:
        return audit_candidate(spec)
    except AssayInputError as exc:
        return AuditSummary(service=spec.service, candidate=str(spec.candidate), error=str(exc))


@flow(name="procurement-round", task_runner=ThreadPoolTaskRunner(max_workers=3))
def procurement_round(
    service: str,
    candidates: list[Path],
    data: Path,
    policy: str,
    ledger: Path,
    seed: int = 0,
    answers: Path | None = None,
) -> list[AuditSummary]:
    """Audit every candidate on the same evaluation set, policy and checklist answers, concurrently."""
    specs = [
        AuditSpec(
            service=service, candidate=c, data=data, policy=policy, ledger=ledger, seed=seed, answers=answers
        )
        for c in candidates
    ]
    futures = [audit_in_round.submit(spec) for spec in specs]
    return [f.result() for f in futures]
