"""The per-audit HTML report, rendered from the stored record alone."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from assay.ledger.record import AuditRecord

_ENV = Environment(
    loader=PackageLoader("assay.dashboards", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


_ENV.filters["num"] = _num


def _published_rows(record: AuditRecord, disclosure_min: int) -> list[dict[str, Any]]:
    """Return metric rows for publication: cells of groups smaller than the minimum are blanked."""
    rows = []
    for row in record.metric_rows():
        item = row.model_dump()
        item["suppressed"] = row.group is not None and row.n is not None and row.n < disclosure_min
        if item["suppressed"]:
            item.update(value=None, ci_low=None, ci_high=None)
        rows.append(item)
    return rows


def render_report(record: AuditRecord) -> str:
    """Return the audit's HTML report; the same record always gives the same bytes."""
    disclosure_min = int(record.policy.get("parameters", {}).get("disclosure_min", 10))
    rows = _published_rows(record, disclosure_min)
    by_check: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_check.setdefault(row["check_id"], []).append(row)
    return _ENV.get_template("report.html.j2").render(
        r=record,
        rows_by_check=by_check,
        disclosure_min=disclosure_min,
        recommendation=record.recommendation.value,
    )
