"""The procurement round: every candidate audited under one protocol, then compared and ranked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from prefect import flow, task
from prefect.artifacts import create_link_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, ConfigDict, Field

from assay.checks.context import CheckSettings, ServiceProfile
from assay.checks.errors import AssayInputError
from assay.checks.policy import PolicyPack
from assay.checks.ranking import Ranking, RankMetric, rank
from assay.dashboards.artifacts import key_of
from assay.dashboards.comparison import render_comparison
from assay.dashboards.escape import markdown_text
from assay.dashboards.i18n import REPORT_FILES
from assay.data import loaders
from assay.flows.audit import Audited, AuditSpec, AuditSummary, check_contract, run_audit
from assay.ledger.comparison import CandidateOutcome, ClauseRow, ComparisonRecord
from assay.ledger.record import AuditRecord
from assay.ledger.signing import load_private_key
from assay.ledger.store import EntryInfo, Ledger
from assay.models.manifest import CandidateManifest
from assay.policies import DEFAULT_POLICY

TaskRunnerName = Literal["threads", "dask"]
CHUNK_MAP: ContextVar[Any] = ContextVar("assay_chunk_map", default=None)


class RoundSpec(BaseModel):
    """A round file (ROUND.yaml): the service, the agency's data, the policy and the candidates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    service: str = Field(min_length=1, description="service profile: shipped id or YAML path")
    data: str = Field(min_length=1, description="evaluation set with labels, relative to the round file")
    policy: str = DEFAULT_POLICY
    answers: str | None = Field(None, description="checklist answers, relative to the round file")
    seed: int = 0
    candidates: list[str] = Field(min_length=1, description="candidate.yaml paths, relative to this file")


class Round(BaseModel):
    """A round file with every path resolved against the file's folder."""

    spec: RoundSpec
    path: Path
    service: str
    data: Path
    policy: str
    answers: Path | None
    candidates: list[Path]


def _ref(value: str, folder: Path) -> str:
    """Resolve a profile or policy: a YAML path relative to the round file, else a shipped id."""
    return str(folder / value) if value.endswith((".yaml", ".yml")) else value


def load_round(path: Path) -> Round:
    """Read a round file and resolve its paths; a duplicate or missing candidate is a mistake in the file."""
    spec = loaders.load_model(path, RoundSpec)
    folder = path.parent
    candidates = [loaders.beside(folder, c, f"{path}: field 'candidates'") for c in spec.candidates]
    seen = [str(c) for c in candidates]
    dupes = sorted({c for c in seen if seen.count(c) > 1})
    if dupes:
        raise AssayInputError(f"{path}: field 'candidates': {dupes[0]} is listed twice")
    # A file that is not there is the round file's mistake, not a vendor's failed intake.
    absent = [c for c in candidates if not loaders.is_file(c)]
    if absent:
        raise AssayInputError(f"{path}: field 'candidates': no such file {absent[0]}")
    return Round(
        spec=spec,
        path=path,
        service=_ref(spec.service, folder),
        data=loaders.beside(folder, spec.data, f"{path}: field 'data'"),
        policy=_ref(spec.policy, folder),
        answers=loaders.beside(folder, spec.answers, f"{path}: field 'answers'") if spec.answers else None,
        candidates=candidates,
    )


def resolve_round(round_file: Path, policy: str | None = None, answers: Path | None = None) -> Round:
    """Load a round file, with `policy` and `answers` (when given) replacing the file's own."""
    rnd = load_round(round_file)
    if policy is not None:
        return rnd.model_copy(update={"policy": policy, "answers": answers})
    if answers is not None:
        return rnd.model_copy(update={"answers": answers})
    return rnd


@dataclass(frozen=True)
class SharedInputs:
    """What every candidate of a round shares, loaded and checked once."""

    round: Round
    profile: ServiceProfile
    pack: PolicyPack
    data_sha256: str


def check_round(rnd: Round) -> SharedInputs:
    """Check the inputs every candidate shares, so a mistake in them fails the round at once.

    Profile, policy, answers, the evaluation data (columns, ids, labels, sensitive attributes,
    contract) and the candidates' ids: a fault in any would fail every candidate alike.
    """
    profile, profile_path = loaders.load_profile(rnd.service)
    pack, _ = loaders.load_policy(rnd.policy)
    if rnd.answers is not None:
        loaders.load_answers(rnd.answers, pack)
    if not loaders.is_file(rnd.data):
        raise AssayInputError(f"{rnd.path}: field 'data': no such file {rnd.data}")
    # As each audit sees it (see load_inputs).
    table = loaders.read_table(rnd.data, text_columns=[profile.id_column])
    data, _ = loaders.evaluation_rows(table, profile, rnd.data)
    contract, contract_path = loaders.load_contract(profile, profile_path)
    check_contract(profile, data, contract, contract_path, rnd.data)
    # Two manifests with one id would be one subject in the ledger and one name in the ranking.
    ids: dict[str, Path] = {}
    for path in rnd.candidates:
        manifest = _declared(path)
        if manifest is not None and ids.setdefault(manifest.id, path) != path:
            both = f"{ids[manifest.id]} and {path} both declare id {manifest.id!r}"
            raise AssayInputError(f"{rnd.path}: field 'candidates': {both}")
    return SharedInputs(rnd, profile, pack, loaders.sha256_file(rnd.data))


# Set by `checked_round`, so the round's flow does not check its shared inputs a second time.
ROUND_CHECKED: ContextVar[SharedInputs | None] = ContextVar("assay_round_checked", default=None)


@contextlib.contextmanager
def checked_round(
    round_file: Path, policy: str | None = None, answers: Path | None = None
) -> Iterator[Round]:
    """Check a round's shared inputs now, without Prefect; a round of the same inputs inside reuses them."""
    shared = check_round(resolve_round(round_file, policy, answers))
    token = ROUND_CHECKED.set(shared)
    try:
        yield shared.round
    finally:
        ROUND_CHECKED.reset(token)


@contextlib.contextmanager
def chunk_runner(task_runner: TaskRunnerName, dask_address: str | None) -> Iterator[Any]:
    """Yield the function heavy checks run their chunks with: None locally, a Dask map otherwise.

    With no address a LocalCluster of two worker processes is started for the round and closed
    after it; with an address the round uses that scheduler's workers.
    """
    if task_runner == "threads":
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        hint = "--task-runner dask: install the 'dask' extra (pip install 'assay[dask]')"
        raise AssayInputError(hint) from None
    with contextlib.ExitStack() as stack:
        if dask_address is None:
            cluster = stack.enter_context(
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            )
            dask_address = cluster.scheduler_address
        try:
            client = stack.enter_context(Client(dask_address, timeout="10s"))
        except OSError as exc:
            message = f"--dask-address {dask_address}: no Dask scheduler answers ({exc})"
            raise AssayInputError(message) from None
        yield DaskMap(client)


class DaskMap:
    """Runs a function over items on a Dask cluster's workers and returns the results in order."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, fn: Any, items: list[Any]) -> list[Any]:
        """Return [fn(item) for item in items], computed on the workers."""
        return self.client.gather(self.client.map(fn, items, pure=False))


@task(cache_policy=NO_CACHE, task_run_name="audit {spec.candidate}")
def audit_in_round(spec: AuditSpec) -> Audited | AuditSummary:
    """Audit one candidate of the round; a failed intake is reported for it, not fatal to the round."""
    try:
        return _audit_flow(spec)
    except AssayInputError as exc:
        manifest = _declared(spec.candidate)
        return AuditSummary(
            service=spec.service,
            candidate=manifest.id if manifest else str(spec.candidate),
            vendor=manifest.vendor if manifest else None,
            error=str(exc),
        )


def _declared(path: Path) -> CandidateManifest | None:
    """Return a candidate's manifest, or None if it cannot be read (its path then names it)."""
    try:
        return loaders.load_model(path, CandidateManifest)
    except AssayInputError:
        return None


@flow(name="audit-candidate", flow_run_name="audit {spec.candidate}")
def _audit_flow(spec: AuditSpec) -> Audited:
    # The chunk runner reaches the audit through a context variable: a Dask client is no flow
    # parameter Prefect could record.
    return run_audit(spec, CHUNK_MAP.get())


@dataclass(frozen=True)
class RankJob:
    """One ranking to compute: a metric (over one attribute's groups) for every audited candidate."""

    metric: RankMetric
    names: list[str]
    labels: np.ndarray
    decisions: np.ndarray
    groups: np.ndarray | None
    n_groups: int
    attribute: str | None
    favourable: bool
    settings: CheckSettings
    seed: int


def run_rank_job(job: RankJob) -> Ranking:
    """Compute one ranking (a pure function, so a Dask worker can run it)."""
    s = job.settings
    # The comparison is published: a gap must not rest on a group below the disclosure minimum.
    least = max(s.min_group_size, s.disclosure_min)
    return rank(
        job.metric, job.names, job.labels, job.decisions, job.groups, job.n_groups, job.attribute,
        job.favourable, min_group=least, n_boot=s.n_boot, confidence=s.confidence, seed=job.seed,
    )  # fmt: skip


def rankings(
    audited: list[Audited], pack: PolicyPack, favourable: bool, seed: int, chunk_map: Any
) -> list[Ranking]:
    """Rank the audited candidates on the policy's ranking metrics, each a paired bootstrap."""
    if len(audited) < 2:
        return []
    names = [a.summary.candidate for a in audited]
    common = {
        "names": names,
        "labels": audited[0].labels,
        "decisions": np.stack([a.decisions for a in audited]),
        "favourable": favourable,
        "settings": pack.parameters,
        "seed": seed,
    }
    sensitive = audited[0].sensitive
    jobs = []
    for metric in pack.ranking:
        if not metric.per_attribute:
            jobs.append(RankJob(metric=metric, groups=None, n_groups=1, attribute=None, **common))
            continue
        for attribute in sensitive.columns:
            uniques, codes = np.unique(sensitive[attribute].to_numpy(), return_inverse=True)
            jobs.append(
                RankJob(metric=metric, groups=codes, n_groups=len(uniques), attribute=attribute, **common)
            )
    if chunk_map is None:
        return [run_rank_job(job) for job in jobs]
    return list(chunk_map(run_rank_job, jobs))


def _outcome(result: Audited | AuditSummary, formats: dict[str, str]) -> CandidateOutcome:
    summary = result.summary if isinstance(result, Audited) else result
    return CandidateOutcome(
        candidate=summary.candidate,
        vendor=summary.vendor,
        format=formats.get(summary.candidate),
        audit_id=summary.audit_id,
        recommendation=summary.recommendation,
        failing_clauses=summary.failing_clauses,
        manifest_sha256=summary.manifest_sha256,
        error=summary.error,
    )


def _clause_rows(records: list[AuditRecord]) -> list[ClauseRow]:
    if not records:
        return []
    rows = []
    for v in records[0].verdicts:
        verdicts = {}
        for rec in records:
            mine = next(x for x in rec.verdicts if x.clause_id == v.clause_id)
            verdicts[rec.subject.candidate] = mine.verdict.value
        rows.append(ClauseRow(clause_id=v.clause_id, title=v.title, severity=v.severity, verdicts=verdicts))
    return rows


class RoundSummary(BaseModel):
    """What the CLI reports of a round: every candidate's outcome and where the comparison is."""

    round_id: str
    audit_id: str
    entry: str
    candidates: list[CandidateOutcome]
    audits: list[AuditSummary]
    eligible: list[str]
    rankings: list[dict[str, Any]]


@flow(name="procurement-round", task_runner=ThreadPoolTaskRunner(max_workers=4))
def procurement_round(
    round_file: Path,
    ledger: Path,
    task_runner: TaskRunnerName = "threads",
    dask_address: str | None = None,
    trust_pickle: bool = False,
    policy: str | None = None,
    answers: Path | None = None,
    sign_key: Path | None = None,
) -> RoundSummary:
    """Audit every candidate of a round concurrently, then seal the comparison of them.

    `policy` and `answers` replace the round file's own, for the same candidates under another pack.
    With `sign_key` every audit and the comparison are signed with that ed25519 key.
    """
    # A key that cannot sign fails the round now, not after every candidate was audited.
    signer = load_private_key(sign_key) if sign_key else None
    rnd = resolve_round(round_file, policy, answers)
    pre = ROUND_CHECKED.get()
    shared = pre if pre is not None and pre.round == rnd else check_round(rnd)
    profile, pack, data_sha256 = shared.profile, shared.pack, shared.data_sha256
    specs = [
        AuditSpec(
            service=rnd.service, candidate=c, data=rnd.data, policy=rnd.policy, ledger=ledger,
            seed=rnd.spec.seed, answers=rnd.answers, trust_pickle=trust_pickle, sign_key=sign_key,
        )
        for c in rnd.candidates
    ]  # fmt: skip
    with chunk_runner(task_runner, dask_address) as chunk_map:
        token = CHUNK_MAP.set(chunk_map)
        try:
            futures = [audit_in_round.submit(spec) for spec in specs]
            results = [f.result() for f in futures]
        finally:
            CHUNK_MAP.reset(token)
        audited = [r for r in results if isinstance(r, Audited)]
        ranked = rankings(audited, pack, profile.positive_decision_is_favourable, rnd.spec.seed, chunk_map)
    records = [
        AuditRecord.model_validate_json((Path(a.summary.entry) / "record.json").read_bytes()) for a in audited
    ]
    formats = {r.subject.candidate: r.intake.get("format") for r in records}
    for spec, result in zip(specs, results, strict=True):
        # A failed intake still has the format its manifest declares, when the manifest reads.
        if not isinstance(result, Audited) and (manifest := _declared(spec.candidate)) is not None:
            formats.setdefault(manifest.id, manifest.format)
    outcomes = [_outcome(r, formats) for r in results]
    command = f"assay procure {rnd.path}"
    if policy is not None:
        command += f" --policy {rnd.policy}"
    if rnd.answers is not None and rnd.answers != (rnd.path.parent / (rnd.spec.answers or "")).resolve():
        command += f" --answers {rnd.answers}"
    if task_runner == "dask":
        command += " --task-runner dask" + (f" --dask-address {dask_address}" if dask_address else "")
    if trust_pickle:
        command += " --trust-pickle"

    def build(info: EntryInfo) -> dict[str, bytes]:
        record = ComparisonRecord(
            audit_id=info.audit_id,
            round_id=rnd.spec.id,
            version=info.version,
            created_at=info.created_at,
            service={"id": profile.id, "title": profile.title.model_dump()},
            policy={"id": pack.id, "version": pack.version, "title": pack.title.model_dump()},
            data_sha256=data_sha256,
            seed=rnd.spec.seed,
            task_runner=task_runner,
            candidates=outcomes,
            clauses=_clause_rows(records),
            rankings=ranked,
            command=command,
        )
        return {
            "comparison.json": record.model_dump_json(indent=2).encode(),
            # Both languages, as for every audit; Korean is the default one.
            **{name: render_comparison(record, lang=lang).encode() for lang, name in REPORT_FILES.items()},
        }

    entry = Ledger(ledger).append(profile.id, f"round-{rnd.spec.id}", build, signer=signer)
    stored = ComparisonRecord.model_validate_json(entry.read("comparison.json"))
    create_link_artifact(
        key=key_of(profile.id, "round", rnd.spec.id, "report"),
        link=(entry.path / "report.html").resolve().as_uri(),
        # Prefect's UI renders link texts and descriptions as markdown.
        link_text=markdown_text(f"{entry.audit_id} comparison"),
        description=markdown_text(
            f"{len(outcomes)} candidates under {pack.id} {pack.version}; "
            f"eligible: {', '.join(stored.eligible) or 'none'}"
        ),
    )
    return RoundSummary(
        round_id=rnd.spec.id,
        audit_id=entry.audit_id,
        entry=str(entry.path),
        candidates=outcomes,
        audits=[r.summary if isinstance(r, Audited) else r for r in results],
        eligible=stored.eligible,
        rankings=[r.model_dump() for r in ranked],
    )
