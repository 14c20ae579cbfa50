"""What an audit publishes beside its report: the Prefect artifacts' rows and the monitor's alert
(markdown for the ledger and the Prefect UI, one paragraph for a webhook), from the record alone."""

from __future__ import annotations

import re
from typing import Any

from assay.dashboards.escape import markdown_text
from assay.dashboards.report import ENV
from assay.ledger.record import AuditRecord

# Markdown is not HTML: every value a template prints is escaped for markdown instead (a vendor's
# name must not bring a tag, a link or a table column into the monitor's report).
MARKDOWN = ENV.overlay(autoescape=False, finalize=markdown_text)


def key_of(*parts: str) -> str:
    """Return a Prefect artifact key made of `parts` (Prefect allows lowercase, digits, dashes)."""
    raw = "-".join(parts).lower()
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")


def artifact_key(record: AuditRecord) -> str:
    """Return the Prefect artifact key prefix of the record's subject."""
    return key_of(record.subject.service, record.subject.candidate)


def verdict_rows(record: AuditRecord) -> list[dict[str, Any]]:
    """Return one row per clause: id, title, severity, verdict and the first reason, as markdown."""
    # Prefect's UI renders every text cell of a table artifact as markdown.
    return [
        {
            "clause": markdown_text(v.clause_id),
            "title": markdown_text(v.title.en),
            "severity": markdown_text(v.severity),
            "verdict": markdown_text(v.verdict.value),
            "reason": markdown_text((v.reasons or [""])[0]),
        }
        for v in record.verdicts
    ]


def _published(record: AuditRecord, n: int | None) -> bool:
    return n is None or n >= record.disclosure_min


def render_monitor_markdown(record: AuditRecord) -> str:
    """Return the monitor's report as markdown; numbers about groups below the minimum are withheld."""
    report = record.monitoring
    if report is None:
        raise ValueError(f"{record.audit_id} is not a monitored audit")
    changes = [(c, _published(record, c.n)) for c in report.changes]
    # A group absent on one side reveals nothing about anyone there: its other count decides.
    shifts = [
        (s, _published(record, min((n for n in (s.n_before, s.n_after) if n > 0), default=0)))
        for s in report.group_shift
    ]
    return MARKDOWN.get_template("monitor.md.j2").render(
        record=record,
        report=report,
        regressions=[(c, ok) for c, ok in changes if c.regression],
        real=[(c, ok) for c, ok in changes if c.real and not c.regression],
        steady=sum(1 for c, _ in changes if not c.real),
        drifted=[d for d in report.drift if d.drifted],
        shifts=shifts,
    )


def alert_text(record: AuditRecord) -> str:
    """Return the one-paragraph alert a webhook carries for a monitored audit that regressed."""
    report = record.monitoring
    if report is None:
        raise ValueError(f"{record.audit_id} is not a monitored audit")
    parts = []
    for c in report.regressions()[:5]:
        where = f" ({c.attribute})" if c.attribute else ""
        if not _published(record, c.n):  # the alert is published too: small groups stay withheld
            parts.append(f"{c.metric}{where} worse (numbers withheld: a group below {record.disclosure_min})")
            continue
        interval = f"[change {c.ci_low:+.3f} to {c.ci_high:+.3f}]"
        parts.append(f"{c.metric}{where} {c.before:.3f} → {c.after:.3f} {interval}")
    more = len(report.regressions()) - len(parts)
    drifted = [d.feature for d in report.drift if d.drifted]
    return (
        f"Assay: {record.subject.service}/{record.subject.candidate} regressed since "
        f"{report.previous_audit_id} (window {report.window}): "
        + "; ".join(parts)
        + (f"; and {more} more" if more > 0 else "")
        + (f". Drifted inputs: {', '.join(drifted)}" if drifted else "")
        + f". Recommendation now {record.recommendation.value}. Ledger entry {record.audit_id}."
    )
