"""The procurement round's comparison report, rendered from the stored comparison record alone."""

from __future__ import annotations

from assay.dashboards.report import ENV
from assay.ledger.comparison import ComparisonRecord


def render_comparison(record: ComparisonRecord) -> str:
    """Return the round's HTML comparison; the same record always gives the same bytes."""
    gates = [c for c in record.clauses if c.severity == "gate"]
    advisory = [c for c in record.clauses if c.severity != "gate"]
    audited = [c.candidate for c in record.candidates if c.error is None]
    return ENV.get_template("comparison.html.j2").render(
        r=record, gates=gates, advisory=advisory, audited=audited, eligible=record.eligible
    )
