"""The procurement round's comparison report, rendered from the stored comparison record alone."""

from __future__ import annotations

from assay.dashboards import i18n
from assay.dashboards.report import report_env
from assay.ledger.comparison import ComparisonRecord


def render_comparison(record: ComparisonRecord, lang: str = i18n.DEFAULT_LANG) -> str:
    """Return the round's HTML comparison in `lang` (ko or en); the same record gives the same bytes."""
    env = report_env(i18n.check_lang(lang))
    other = next(code for code in i18n.LANGS if code != lang)
    gates = [c for c in record.clauses if c.severity == "gate"]
    advisory = [c for c in record.clauses if c.severity != "gate"]
    audited = [c.candidate for c in record.candidates if c.error is None]
    return env.get_template("comparison.html.j2").render(
        lang=lang,
        other={"lang": other, "name": i18n.LANG_NAMES[other], "file": i18n.REPORT_FILES[other]},
        r=record,
        gates=gates,
        advisory=advisory,
        audited=audited,
        eligible=record.eligible,
    )
