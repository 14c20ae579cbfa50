"""The monitor flow: the recurring audit of a deployed candidate on its latest evaluation window,
compared with the subject's previous version in the ledger (issue 7)."""

from __future__ import annotations

import json
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.blocks.abstract import NotificationBlock
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from assay.checks.drift import feature_drift
from assay.checks.errors import AssayInputError
from assay.checks.monitoring import Drift, Monitoring, MonitorReport, flag_drift, group_share_shift
from assay.checks.regression import compare
from assay.dashboards.artifacts import alert_text, artifact_key
from assay.dashboards.escape import markdown_text
from assay.data import loaders
from assay.flows.audit import (
    AuditSpec,
    AuditSummary,
    Measured,
    measure,
    publish_artifacts,
    seal_record,
    summarize,
)
from assay.ledger.record import AuditRecord
from assay.ledger.signing import load_private_key
from assay.ledger.store import Entry, Ledger

WINDOW_SUFFIXES = (".csv", ".parquet", ".pq")


class MonitorSpec(AuditSpec):
    """A recurring audit: an audit spec whose data is a window file or a folder of windows."""

    # The previous audit's window, for drift; by default found by its hash beside the current one.
    reference: Path | None = None
    # A Prefect notification block (`<block-type>/<name>`, e.g. custom-webhook/assay-alerts).
    notify: str | None = None
    # Persist each check's result so a killed run, started again, recomputes only what was left.
    resumable: bool = True


class MonitorSummary(BaseModel):
    """What a monitor run did: the sealed audit, and what changed since the previous version."""

    audit: AuditSummary
    status: str
    previous_audit_id: str | None
    window: str
    reference_status: str
    regressions: list[str]
    drifted: list[str]
    shifted_groups: list[str]
    reused_results: int  # check results read back from an interrupted run of the same inputs
    sealed_now: bool  # False when this run found its audit already sealed by an interrupted run


class RegressionDetected(Exception):
    """A watched metric got worse than the pack tolerates: the run fails and the alert goes out."""

    def __init__(self, summary: MonitorSummary, message: str) -> None:
        super().__init__(message)
        self.summary = summary


def latest_window(path: Path) -> Path:
    """Return the window to audit: the file itself, or a folder's last window file by name."""
    if path.is_dir():
        windows = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in WINDOW_SUFFIXES)
        if not windows:
            raise AssayInputError(f"{path}: no evaluation window (.csv or .parquet file) in this folder")
        return windows[-1]
    if not path.is_file():
        raise AssayInputError(f"{path}: no such evaluation window (a .csv/.parquet file or a folder of them)")
    return path


def check_inputs(spec: MonitorSpec, deep: bool = False) -> None:
    """Load what a monitor run will need, so a mistake fails in one line before any work starts.

    `deep` also opens the candidate and the notification block (slower; for `assay schedule`,
    whose runs happen later, unattended).
    """
    from assay.models.candidate import load_candidate

    if spec.sign_key is not None:
        load_private_key(spec.sign_key)
    loaders.load_profile(spec.service)
    pack, _ = loaders.load_policy(spec.policy)
    if spec.answers:
        loaders.load_answers(spec.answers, pack)
    latest_window(spec.data)
    if spec.reference is not None and not spec.reference.is_file():
        raise AssayInputError(f"--reference {spec.reference}: no such file")
    if deep:
        load_candidate(spec.candidate, trust_pickle=spec.trust_pickle)
        if spec.notify:
            load_notifier(spec.notify)


def find_reference(window: Path, previous: AuditRecord) -> Path | None:
    """Return the file beside `window` whose bytes the previous audit evaluated, if it is still there."""
    wanted = previous.inputs.data_sha256
    named = window.parent / str(previous.evaluation.get("file", ""))
    siblings = sorted(
        (p for p in window.parent.iterdir() if p.is_file() and p.suffix.lower() in WINDOW_SUFFIXES),
        reverse=True,
    )
    # The file the previous record names is the likely one; the others are hashed only if it moved.
    for candidate in [named, *siblings]:
        if candidate.is_file() and loaders.sha256_file(candidate) == wanted:
            return candidate
    return None


def _audit_entries(ledger: Ledger, service: str, candidate: str) -> list[Entry]:
    return [e for e in ledger.of_subject(service, candidate) if "record.json" in e.manifest["files"]]


def _record(entry: Entry) -> AuditRecord:
    return AuditRecord.model_validate_json(entry.read("record.json"))


@task(cache_policy=NO_CACHE)
def measure_drift(reference: Path, window: Path, features: list[str], settings: Monitoring) -> list[Drift]:
    """Return each input feature's drift between the reference window and the current one."""
    ref, cur = loaders.read_table(reference), loaders.read_table(window)
    shared = [f for f in features if f in ref.columns and f in cur.columns]
    drift = [feature_drift(f, ref[f], cur[f], settings.drift_bins) for f in shared]
    return flag_drift(drift, settings)


def compare_with_previous(
    spec: MonitorSpec, window: Path, m: Measured, previous: AuditRecord | None
) -> MonitorReport:
    """Return what changed since the previous audit: watched metrics, drift, group shares."""
    settings = m.inputs.policy.monitoring
    base = {
        "run_key": m.key,
        "window": window.name,
        "window_sha256": loaders.sha256_file(window),
        "settings": settings,
    }
    if previous is None:
        return MonitorReport(**base, previous_audit_id=None, reference_status="none")
    if spec.reference is not None:
        reference, status = spec.reference, "given"
    else:
        reference = find_reference(window, previous)
        status = "found" if reference else "missing"
    before = previous.metric_rows()
    after = [row for r in m.results for row in r.metrics]
    features = list(m.inputs.candidate.manifest.input_features)
    return MonitorReport(
        **base,
        previous_audit_id=previous.audit_id,
        reference=reference.name if reference else None,
        reference_status=status,
        changes=compare(before, after, settings.watches, m.inputs.policy.parameters.confidence),
        drift=measure_drift(reference, window, features, settings) if reference else [],
        group_shift=group_share_shift(before, after, settings.share_shift),
    )


def load_notifier(name: str) -> NotificationBlock:
    """Return the Prefect notification block `<block-type>/<name>`, or raise a one-line error."""
    from prefect.blocks.core import Block

    if "/" not in name:
        raise AssayInputError(
            f"--notify {name}: expected <block-type>/<name>, e.g. custom-webhook/assay-alerts"
        )
    try:
        block = Block.load(name)
    except (ValueError, RuntimeError) as exc:
        raise AssayInputError(f"--notify {name}: no such Prefect block ({exc})") from exc
    if not isinstance(block, NotificationBlock):
        raise AssayInputError(f"--notify {name}: not a notification block ({type(block).__name__})")
    return block


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def send_alert(name: str, subject: str, body: str) -> None:
    """Send the alert through the configured Prefect notification block."""
    load_notifier(name).notify(body=body, subject=subject)


def _summary(entry: Entry, record: AuditRecord, m: Measured, sealed_now: bool) -> MonitorSummary:
    report = record.monitoring
    if report is None:  # pragma: no cover - the monitor seals every record with its report
        raise LookupError(f"{entry.audit_id} has no monitoring report")
    return MonitorSummary(
        audit=summarize(entry),
        status=report.status,
        previous_audit_id=report.previous_audit_id,
        window=report.window,
        reference_status=report.reference_status,
        regressions=[
            f"{c.check_id}/{c.metric}" + (f" ({c.attribute})" if c.attribute else "")
            for c in report.regressions()
        ],
        drifted=[d.feature for d in report.drift if d.drifted],
        shifted_groups=[f"{s.attribute}={s.group}" for s in report.group_shift if s.shifted],
        reused_results=m.reused,
        sealed_now=sealed_now,
    )


@flow(name="assay-monitor", flow_run_name="monitor {spec.candidate}")
def monitor(spec: MonitorSpec) -> MonitorSummary:
    """Audit the deployed candidate on its latest window and compare with its previous version.

    A watched metric worse than the pack's tolerance ends the run Failed, after the record (with
    the regression) is sealed, the markdown artifact is published and the alert is sent.
    """
    logger = get_run_logger()
    if spec.notify:
        load_notifier(spec.notify)  # a wrong block name fails now, not after the whole audit
    if spec.reference is not None and not spec.reference.is_file():
        raise AssayInputError(f"--reference {spec.reference}: no such file")
    window = latest_window(spec.data)
    audit_spec = AuditSpec(**{**spec.model_dump(include=set(AuditSpec.model_fields)), "data": window})
    m = measure(audit_spec, resumable=spec.resumable)
    ledger = Ledger(spec.ledger)
    history = _audit_entries(ledger, m.inputs.profile.id, m.inputs.candidate.manifest.id)
    # A run killed after sealing left its audit in the ledger: it is reused, never sealed twice.
    keyed = [(e, _run_key(e)) for e in history]
    done = next((e for e, key in reversed(keyed) if key == m.key), None)
    if done is None:
        earlier = [e for e, key in keyed if key != m.key]
        previous = _record(earlier[-1]) if earlier else None
        report = compare_with_previous(spec, window, m, previous)
        sealed = seal_record(audit_spec, m.inputs, m.results, m.timings, report)
        entry = ledger.find(str(sealed.audit_id))
        if entry is None:  # pragma: no cover - seal_record just wrote it
            raise LookupError(f"{spec.ledger}: the sealed entry {sealed.audit_id} is missing")
    else:
        logger.info("%s already holds this window's audit %s: not sealed again", spec.ledger, done.audit_id)
        entry = done
    record = _record(entry)
    summary = _summary(entry, record, m, sealed_now=done is None)
    publish_artifacts(spec.ledger, entry.audit_id)
    create_markdown_artifact(
        key=f"{artifact_key(record)}-monitor",
        markdown=entry.read("monitor.md").decode(),
        description=markdown_text(f"{record.audit_id}: {summary.status}"),
    )
    if summary.status != "regression":
        logger.info("%s: %s since %s", record.audit_id, summary.status, summary.previous_audit_id)
        return summary
    text = alert_text(record)
    if spec.notify:
        try:
            send_alert(spec.notify, f"Assay regression: {record.audit_id}", text)
        except Exception as exc:  # the regression is the news; a failed alert must not hide it
            logger.error("the alert through %s failed: %s", spec.notify, exc)
            text += f" (The alert through {spec.notify} failed: {exc}.)"
    raise RegressionDetected(summary, text)


def _run_key(entry: Entry) -> str | None:
    monitoring = json.loads(entry.read("record.json")).get("monitoring") or {}
    return monitoring.get("run_key")
