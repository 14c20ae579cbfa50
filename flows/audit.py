"""The audit flow: one candidate against one evaluation set under one policy gives one sealed record."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import subprocess
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE, CacheKeyFnPolicy
from pydantic import BaseModel, SecretStr

from assay.checks.checklist import Answer
from assay.checks.context import AuditContext, ServiceProfile
from assay.checks.contract import CHECK_ID as CONTRACT_CHECK
from assay.checks.contract import describe_failure
from assay.checks.errors import AssayInputError
from assay.checks.monitoring import MonitorReport
from assay.checks.policy import PolicyPack, Recommendation, VerdictStatus, evaluate, recommend
from assay.checks.reasons import pseudonym
from assay.checks.registry import all_checks, get_check, run_check
from assay.checks.results import CheckResult, Status
from assay.checks.triage import triage
from assay.dashboards.artifacts import artifact_key, render_monitor_markdown, verdict_rows
from assay.dashboards.escape import markdown_text, spreadsheet_cell
from assay.dashboards.i18n import REPORT_FILES
from assay.dashboards.report import render_report
from assay.data import loaders
from assay.flows.triage_cli import shipped_pack_checks
from assay.ledger.label import labelled_versions
from assay.ledger.record import AuditRecord, Fingerprints, Subject
from assay.ledger.signing import load_private_key
from assay.ledger.store import Entry, EntryInfo, Ledger
from assay.models.candidate import Candidate, Outputs, load_candidate
from assay.models.endpoint import check_determinism

LIBRARIES = (
    "prefect",
    "great-expectations",
    "fairlearn",
    "shap",
    "scikit-learn",
    "skops",
    "pandas",
    "numpy",
)
METRIC_COLUMNS = (
    "check_id",
    "metric",
    "attribute",
    "group",
    "feature",
    "value",
    "ci_low",
    "ci_high",
    "n",
)


class AuditSpec(BaseModel):
    """What to audit: service profile, candidate manifest, evaluation data, policy, ledger, seed."""

    service: str
    candidate: Path
    data: Path
    policy: str
    ledger: Path
    seed: int = 0
    # Ids whose individual reasons the user asks for; the record names them by pseudonym only.
    # They are personal data: as secrets they never reach the parameters Prefect stores and shows.
    explain_ids: list[SecretStr] = []

    def raw_explain_ids(self) -> list[str]:
        """Return the ids whose individual reasons were asked for, as given."""
        return [i.get_secret_value() for i in self.explain_ids]

    answers: Path | None = None  # checklist answers (see `assay checklist template`)
    trust_pickle: bool = False  # let a pickle/joblib candidate run its code when loaded
    sign_key: Path | None = None  # ed25519 private key (PEM) the sealed entry's manifest is signed with


class AuditSummary(BaseModel):
    """The outcome of one audit as the CLI and the procurement round report it."""

    audit_id: str | None = None
    service: str
    candidate: str
    vendor: str | None = None
    version: int | None = None
    recommendation: str | None = None
    failing_clauses: list[str] = []
    failing_metrics: dict[str, list[str]] = {}
    # What each failed clause's verdict says, naming whose thresholds it fails (English).
    findings: list[str] = []
    manifest_sha256: str | None = None
    entry: str | None = None
    error: str | None = None


class Inputs(BaseModel):
    """Everything loaded and validated before anything is scored."""

    model_config = {"arbitrary_types_allowed": True}

    profile: ServiceProfile
    profile_path: Path
    policy: PolicyPack
    policy_path: Path
    contract: loaders.DatasetContract | None
    contract_path: Path | None
    candidate: Candidate
    data: pd.DataFrame
    labels: Any
    answers: dict[str, Answer] = {}


@task(cache_policy=NO_CACHE)
def load_inputs(spec: AuditSpec) -> Inputs:
    """Load and cross-check the profile, policy, contract, candidate and evaluation data."""
    profile, profile_path = loaders.load_profile(spec.service)
    policy, policy_path = loaders.load_policy(spec.policy)
    answers = loaders.load_answers(spec.answers, policy) if spec.answers else {}
    contract, contract_path = loaders.load_contract(profile, profile_path)
    candidate = load_candidate(spec.candidate, trust_pickle=spec.trust_pickle)
    table = loaders.read_table(spec.data, text_columns=[profile.id_column])
    data, labels = loaders.evaluation_rows(table, profile, spec.data)
    asked = [f for f in candidate.manifest.input_features if f in profile.free_text]
    if asked:
        raise AssayInputError(
            f"{spec.candidate}: input feature {asked[0]!r} is a free-text column of service "
            f"{profile.id!r}: free text about a person is never sent to a candidate"
        )
    loaders.require_columns(
        data, candidate.manifest.input_features, spec.data, "an input feature of the candidate"
    )
    known = set(data[profile.id_column].astype(str))
    unknown = [i for i in spec.raw_explain_ids() if i not in known]
    if unknown:
        raise AssayInputError(
            f"--explain-id {unknown[0]}: no row of {spec.data} has {profile.id_column} {unknown[0]!r}"
        )
    return Inputs(
        profile=profile,
        profile_path=profile_path,
        policy=policy,
        policy_path=policy_path,
        contract=contract,
        contract_path=contract_path,
        candidate=candidate,
        data=data,
        labels=labels.to_numpy(),
        answers=answers,
    )


@task(cache_policy=NO_CACHE)
def validate_contract(inputs: Inputs, spec: AuditSpec) -> CheckResult:
    """Validate the evaluation data against its contract; a failure stops the audit."""
    return check_contract(inputs.profile, inputs.data, inputs.contract, inputs.contract_path, spec.data)


def check_contract(
    profile: ServiceProfile,
    data: pd.DataFrame,
    contract: loaders.DatasetContract | None,
    contract_path: Path | None,
    data_path: Path,
) -> CheckResult:
    """Return the contract check's result on `data`, or raise a one-line error if it failed."""
    expectations = contract.expectations if contract else None
    ctx = AuditContext(profile=profile, data=data, contract=expectations)
    result = run_check(get_check(CONTRACT_CHECK), ctx)
    if result.status == Status.ERROR:
        raise AssayInputError(f"{contract_path}: {'; '.join(result.messages)}")
    if result.status == Status.FAILED:
        failed = [e for e in result.details["expectations"] if not e["success"]]
        raise AssayInputError(
            f"{data_path}: data contract failed ({len(failed)} of "
            f"{len(result.details['expectations'])} expectations): "
            + "; ".join(describe_failure(e) for e in failed)
        )
    return result


@dataclass(frozen=True)
class Prechecked:
    """An audit's inputs, loaded and validated before its flow started, for the flow to reuse."""

    spec: AuditSpec
    inputs: Inputs
    contract: CheckResult
    load_seconds: float
    contract_seconds: float  # the contract's validation and an endpoint's probe


# Set by `prechecked`: Inputs hold a data frame and a model, no flow parameter Prefect could record.
PRECHECKED: ContextVar[Prechecked | None] = ContextVar("assay_prechecked", default=None)


@contextlib.contextmanager
def prechecked(spec: AuditSpec) -> Iterator[Prechecked]:
    """Load and validate every input now, without Prefect; an audit of `spec` inside reuses them.

    A mistake in any input then fails in one line before a flow, a server or a check has started.
    """
    start = time.perf_counter()
    inputs = load_inputs.fn(spec)
    loaded = time.perf_counter()
    contract = validate_contract.fn(inputs, spec)
    # An endpoint's first answers are an input too: a vendor answering wrongly fails here, in one line.
    probe_endpoint(inputs, spec)
    if inputs.candidate.predictions is not None:
        # Joining a predictions file costs milliseconds: ids that do not join fail here too.
        inputs.candidate.outputs(inputs.data, inputs.profile.id_column, spec.data, inputs.labels)
    checked = Prechecked(spec, inputs, contract, loaded - start, time.perf_counter() - loaded)
    token = PRECHECKED.set(checked)
    try:
        yield checked
    finally:
        PRECHECKED.reset(token)


@task(cache_policy=NO_CACHE)
def score_candidate(inputs: Inputs, spec: AuditSpec) -> Outputs:
    """Get the candidate's scores and decisions on the evaluation rows."""
    candidate = inputs.candidate
    if candidate.determinism is None:
        probe_endpoint(inputs, spec)
    return candidate.outputs(inputs.data, inputs.profile.id_column, spec.data, inputs.labels)


def probe_endpoint(inputs: Inputs, spec: AuditSpec) -> None:
    """Send an endpoint candidate the same rows twice and note whether it answered alike."""
    candidate = inputs.candidate
    if candidate.intake_log is not None and candidate.access is not None:
        # Two identical requests must get identical answers, or no number here can be reproduced.
        same, differing = check_determinism(candidate.access, inputs.data, rows=50, seed=spec.seed)
        candidate.determinism = {"deterministic": same, "rows_probed": 50, "rows_differing": differing}


@task(cache_policy=NO_CACHE, task_run_name="check {check_id}")
def run_one_check(check_id: str, ctx: AuditContext) -> CheckResult:
    """Run one registered check on the audit context."""
    return run_check(get_check(check_id), ctx)


def _code_version() -> str:
    version = metadata.version("assay")
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{version}+g{sha}" if sha else version


def _libraries() -> dict[str, str]:
    return {name: metadata.version(name) for name in LIBRARIES}


def _flow_run() -> dict[str, str] | None:
    """Return the current flow run's id, and its UI page when a lasting server was configured."""
    from prefect.runtime import flow_run
    from prefect.settings import PREFECT_API_URL

    if not flow_run.id:
        return None
    out = {"flow_run_id": str(flow_run.id)}
    # Without PREFECT_API_URL the server was a temporary one: its page is gone after the run.
    if PREFECT_API_URL.value() and flow_run.ui_url:
        out["ui_url"] = str(flow_run.ui_url)
    return out


def fingerprint(spec: AuditSpec, inputs: Inputs) -> Fingerprints:
    """Return the hashes and versions of everything the audit's numbers depend on."""
    return Fingerprints(
        data_sha256=loaders.sha256_file(spec.data),
        model_sha256=inputs.candidate.sha256,
        policy_sha256=inputs.policy.sha256(),
        profile_sha256=loaders.sha256_file(inputs.profile_path),
        contract_sha256=loaders.sha256_file(inputs.contract_path) if inputs.contract_path else None,
        answers_sha256=loaders.sha256_file(spec.answers) if spec.answers else None,
        code_version=_code_version(),
        libraries=_libraries(),
        seed=spec.seed,
    )


def run_key(spec: AuditSpec, inputs: Inputs) -> str:
    """Return a key that names this audit's inputs: equal keys give equal results."""
    ids = ",".join(spec.raw_explain_ids())
    # Explained rows are named by the ledger's own pseudonym key: another ledger, other names.
    key = hashlib.sha256(Ledger(spec.ledger).pseudonym_key()).hexdigest()
    material = f"{fingerprint(spec, inputs).model_dump_json()}|{ids}|{key}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def metrics_csv(record: AuditRecord) -> bytes:
    """Return the record's published metric rows as a long-format CSV table (small cells blank)."""
    out = io.StringIO()
    # RFC 4180's CRLF: the writer then quotes a name holding either line break, so no name can end a row.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*METRIC_COLUMNS, "suppressed"])
    for values in record.published_rows():
        # Names (groups, attributes, features) come from the agency's data: never a formula.
        cells = (values[c] for c in (*METRIC_COLUMNS, "suppressed"))
        writer.writerow(["" if v is None else spreadsheet_cell(v) for v in cells])
    return out.getvalue().encode()


@task(cache_policy=NO_CACHE)
def seal_record(
    spec: AuditSpec,
    inputs: Inputs,
    results: list[CheckResult],
    timings: dict[str, float],
    monitoring: MonitorReport | None = None,
) -> AuditSummary:
    """Judge the results under the policy, render the report and seal the entry in the ledger."""
    verdicts = evaluate(inputs.policy, {r.check_id: r for r in results}, inputs.answers)
    attestations = [
        {
            "clause": clause.id,
            "question_id": q.id,
            "question_text": q.text.model_dump(),
            **answer.model_dump(mode="json", exclude={"question"}),
        }
        for clause, q in inputs.policy.questions()
        if (answer := inputs.answers.get(q.id)) is not None and answer.answer is not None
    ]
    manifest = inputs.candidate.manifest
    fingerprints = fingerprint(spec, inputs)
    command = (
        f"assay audit --service {spec.service} --candidate {spec.candidate} "
        f"--data {spec.data} --policy {spec.policy} --seed {spec.seed}"
    )
    if spec.answers:
        command += f" --answers {spec.answers}"
    if spec.trust_pickle:
        command += " --trust-pickle"
    if spec.explain_ids:
        # The record must not hold the ids themselves: the agency's key maps them to these.
        key = Ledger(spec.ledger).pseudonym_key()
        command += "".join(f" --explain-id <id of {pseudonym(key, i)}>" for i in spec.raw_explain_ids())

    applicability = triage(
        inputs.profile, compute=manifest.training_compute_flops, pack_checks=shipped_pack_checks()
    )
    not_eligible = recommend(verdicts) == Recommendation.NOT_ELIGIBLE

    def build(info: EntryInfo) -> dict[str, bytes]:
        # Read under the ledger's lock (build runs inside append), so no eligible version sealed
        # meanwhile escapes the revocation.
        revokes = (
            labelled_versions(Ledger(spec.ledger), inputs.profile.id, manifest.id) if not_eligible else []
        )
        record = AuditRecord(
            audit_id=info.audit_id,
            version=info.version,
            created_at=info.created_at,
            subject=Subject(
                service=inputs.profile.id,
                candidate=manifest.id,
                vendor=manifest.vendor,
                model=manifest.model,
                model_version=manifest.version,
            ),
            service=inputs.profile.model_dump(mode="json"),
            candidate={
                **manifest.model_dump(mode="json"),
                # Loading the model ran the vendor's code: whoever reads the record must know.
                **({"pickle_trusted": True} if inputs.candidate.pickle_trusted else {}),
            },
            policy={
                "id": inputs.policy.id,
                "version": inputs.policy.version,
                "title": inputs.policy.title.model_dump(),
                "parameters": inputs.policy.parameters.model_dump(),
                "lineage": inputs.policy.lineage,
                # How long a trust label of this audit stays valid: until the next audit is due.
                "reaudit_days": inputs.policy.monitoring.reaudit_days,
            },
            evaluation={"file": spec.data.name, "rows": len(inputs.data)},
            intake=inputs.candidate.intake(),
            inputs=fingerprints,
            results=results,
            verdicts=verdicts,
            attestations=attestations,
            timings=timings,
            command=command,
            monitoring=monitoring,
            prefect=_flow_run(),
            triage=applicability,
            revokes=revokes,
        )
        files = {
            "record.json": record.model_dump_json(indent=2).encode(),
            "metrics.csv": metrics_csv(record),
            # The sealed report in both languages; Korean is the default one.
            **{name: render_report(record, lang=lang).encode() for lang, name in REPORT_FILES.items()},
        }
        if monitoring is not None:
            files["monitor.md"] = render_monitor_markdown(record).encode()
        if inputs.candidate.intake_log is not None:
            files["intake.jsonl"] = inputs.candidate.intake_log.to_jsonl()
        return files

    signer = load_private_key(spec.sign_key) if spec.sign_key else None
    entry = Ledger(spec.ledger).append(inputs.profile.id, manifest.id, build, signer=signer)
    return summarize(entry)


def summarize(entry: Entry) -> AuditSummary:
    """Return the summary of a sealed audit entry, read back from its record."""
    record = AuditRecord.model_validate_json(entry.read("record.json"))
    verdicts = record.verdicts
    return AuditSummary(
        audit_id=entry.audit_id,
        service=record.subject.service,
        candidate=record.subject.candidate,
        vendor=record.subject.vendor,
        version=entry.manifest["version"],
        recommendation=record.recommendation.value,
        failing_clauses=[v.clause_id for v in verdicts if v.verdict == VerdictStatus.FAIL],
        failing_metrics={
            v.clause_id: v.failing_metrics() for v in verdicts if v.verdict == VerdictStatus.FAIL
        },
        findings=[str(v.finding()) for v in verdicts if v.verdict == VerdictStatus.FAIL],
        manifest_sha256=entry.manifest_sha256,
        entry=str(entry.path),
    )


@task(cache_policy=NO_CACHE)
def publish_artifacts(ledger: Path, audit_id: str) -> None:
    """Publish a sealed audit's verdict table and report link as Prefect artifacts of its subject."""
    entry = Ledger(ledger).find(audit_id)
    if entry is None:  # pragma: no cover - the entry was sealed by this run
        raise LookupError(f"{ledger}: no entry {audit_id}")
    record = AuditRecord.model_validate_json(entry.read("record.json"))
    key = artifact_key(record)
    create_table_artifact(
        key=f"{key}-verdicts",
        table=verdict_rows(record),
        # Prefect's UI renders descriptions and link texts as markdown.
        description=markdown_text(
            f"{record.audit_id}: {record.recommendation.value} under "
            f"{record.policy['id']} {record.policy['version']}"
        ),
    )
    create_link_artifact(
        key=f"{key}-report",
        link=(entry.path / "report.html").resolve().as_uri(),
        link_text=markdown_text(f"{record.audit_id} report"),
        description=f"Sealed as {entry.manifest_sha256[:16]}",
    )


@dataclass(frozen=True)
class Audited:
    """An audit's summary with the per-row outputs a procurement round compares candidates on."""

    summary: AuditSummary
    decisions: np.ndarray
    labels: np.ndarray
    sensitive: pd.DataFrame


@dataclass(frozen=True)
class Measured:
    """Everything an audit measured, before it is judged and sealed."""

    spec: AuditSpec
    inputs: Inputs
    outputs: Outputs
    sensitive: pd.DataFrame
    results: list[CheckResult]
    timings: dict[str, float]
    key: str
    reused: int  # check results read back from an earlier, interrupted run


@flow(name="audit-candidate", flow_run_name="audit {spec.candidate}")
def audit_candidate(spec: AuditSpec) -> AuditSummary:
    """Audit one candidate on one evaluation set under one policy and seal the record."""
    return run_audit(spec).summary


def run_audit(spec: AuditSpec, chunk_map: Any = None) -> Audited:
    """Run an audit's tasks (inside a flow), seal it, publish it; return it with the per-row outputs."""
    m = measure(spec, chunk_map)
    summary = seal_record(m.spec, m.inputs, m.results, m.timings)
    publish_artifacts(spec.ledger, summary.audit_id)
    return Audited(summary, m.outputs.decisions, m.inputs.labels, m.sensitive)


def measure(spec: AuditSpec, chunk_map: Any = None, resumable: bool = False) -> Measured:
    """Load, validate, score and run every check (inside a flow).

    With `resumable`, each check's result is persisted under a key of the audit's inputs, so a
    run that was killed and is started again with the same inputs reads back what it finished.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    pre = PRECHECKED.get()
    if pre is not None and pre.spec == spec:
        inputs, contract = pre.inputs, pre.contract
        # The record's timings still count the loading and validation done before the flow.
        start -= pre.load_seconds + pre.contract_seconds
        timings["load"] = pre.load_seconds
    else:
        inputs = load_inputs(spec)
        timings["load"] = time.perf_counter() - start
        contract = validate_contract(inputs, spec)
    outputs = score_candidate(inputs, spec)
    timings["contract_and_scoring"] = time.perf_counter() - start - timings["load"]
    ctx = AuditContext(
        profile=inputs.profile,
        data=inputs.data,
        settings=inputs.policy.parameters,
        seed=spec.seed,
        labels=inputs.labels,
        scores=outputs.scores,
        decisions=outputs.decisions,
        sensitive=inputs.profile.sensitive_frame(inputs.data),
        model=inputs.candidate.access,
        contract=inputs.contract.expectations if inputs.contract else None,
        threshold=inputs.candidate.manifest.output.threshold,
        features=list(inputs.candidate.manifest.input_features),
        declared=tuple(inputs.candidate.manifest.declared_performance),
        feature_info=dict(inputs.contract.features) if inputs.contract else {},
        explain_ids=tuple(spec.raw_explain_ids()),
        pseudonym_key=Ledger(spec.ledger).pseudonym_key(),
        # An endpoint's requests must all land in this process's intake log and budget: its
        # chunks are never farmed out, neither to local processes nor to a cluster.
        workers=1 if inputs.candidate.intake_log is not None else os.cpu_count() or 1,
        chunk_map=None if inputs.candidate.intake_log is not None else chunk_map,
    )
    key = run_key(spec, inputs)
    check_task = run_one_check
    # An endpoint's requests must all be in this run's sealed intake log, so its checks rerun.
    if resumable and inputs.candidate.intake_log is None:
        # Only aggregates are persisted: the per-row scores are recomputed, never written out.
        check_task = run_one_check.with_options(
            persist_result=True,
            cache_policy=CacheKeyFnPolicy(cache_key_fn=lambda _, p: f"assay-{key}-{p['check_id']}"),
        )
    # Every registered check runs, so the record says what was measured and what could not be;
    # the policy only decides which of them carry a verdict.
    others = [c for c in all_checks() if c != CONTRACT_CHECK]
    futures = [check_task.submit(check_id, ctx) for check_id in others]
    results = [f.result() for f in futures]
    cached = [f.state.name == "Cached" for f in futures]
    # A check that errored (say, out of memory) is tried again rather than read back.
    for i, (check_id, result) in enumerate(zip(others, results, strict=True)):
        if cached[i] and result.status == Status.ERROR:
            results[i] = check_task.with_options(refresh_cache=True).submit(check_id, ctx).result()
            cached[i] = False
    results = [contract, *results]
    reused = sum(cached)
    timings["checks"] = sum(r.seconds or 0.0 for r in results)
    timings = {k: round(v, 3) for k, v in timings.items()}
    return Measured(spec, inputs, outputs, ctx.sensitive, results, timings, key, reused)
