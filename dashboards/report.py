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


def render_report(record: AuditRecord) -> str:
    """Return the audit's HTML report; the same record always gives the same bytes."""
    disclosure_min = record.disclosure_min
    rows = record.published_rows()
    by_check: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_check.setdefault(row["check_id"], []).append(row)
    return _ENV.get_template("report.html.j2").render(
        r=record,
        rows_by_check=by_check,
        disclosure_min=disclosure_min,
        recommendation=record.recommendation.value,
    )
