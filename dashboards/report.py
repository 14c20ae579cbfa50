"""The per-audit HTML report, rendered from the stored record alone."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from assay.ledger.record import AuditRecord

ENV = Environment(
    loader=PackageLoader("assay.dashboards", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


ENV.filters["num"] = _num


EXPLANATION_CHECKS = ("explain.global_importance", "explain.surrogate")


def _explanations(record: AuditRecord, by_check: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Return what the report shows of each global explanation that ran: ranking, groups, dependence."""
    out = []
    for res in record.results:
        if res.check_id not in EXPLANATION_CHECKS or res.status.value != "passed":
            continue
        shares = {
            row["feature"]: row
            for row in by_check.get(res.check_id, [])
            if row["metric"] == "importance_share" and row["attribute"] is None
        }
        out.append(
            {
                "result": res,
                "top": [shares[f] for f in res.details["ranking"][:10] if f in shares],
                "groups": res.details.get("group_rankings", {}),
                "dependence": res.details.get("dependence", {}),
            }
        )
    return out


def _reasons(record: AuditRecord) -> list[dict[str, Any]]:
    """Return the explained single decisions, those asked for first."""
    res = next((r for r in record.results if r.check_id == "explain.individual_reasons"), None)
    if res is None or res.status.value != "passed":
        return []
    return sorted(res.details["examples"], key=lambda e: not e["requested"])


def render_report(record: AuditRecord) -> str:
    """Return the audit's HTML report; the same record always gives the same bytes."""
    disclosure_min = record.disclosure_min
    rows = record.published_rows()
    by_check: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_check.setdefault(row["check_id"], []).append(row)
    return ENV.get_template("report.html.j2").render(
        r=record,
        rows_by_check=by_check,
        explanations=_explanations(record, by_check),
        reasons=_reasons(record),
        disclosure_min=disclosure_min,
        recommendation=record.recommendation.value,
    )
