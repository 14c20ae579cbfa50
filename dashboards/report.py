"""The per-audit HTML report, rendered from the stored record alone, in Korean or English."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from assay.dashboards import i18n
from assay.dashboards.charts import fairness_charts
from assay.ledger.record import AuditRecord


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("assay.dashboards", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.filters["num"] = _num
    return env


# Shared with the comparison report and the monitor's markdown, which are not translated: `_()` is
# the identity there. Each report language has an environment of its own (`report_env`).
ENV = _environment()
ENV.install_null_translations(newstyle=True)


EXPLANATION_CHECKS = ("explain.global_importance", "explain.surrogate")


def _explanations(record: AuditRecord, by_check: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Return what the report shows of each global explanation that ran: ranking, groups, dependence."""
    out = []
    for res in record.results:
        if res.check_id not in EXPLANATION_CHECKS or res.status.value != "passed":
            continue
        rows = by_check.get(res.check_id, [])
        shares = {
            row["feature"]: row
            for row in rows
            if row["metric"] == "importance_share" and row["attribute"] is None
        }
        # A group below the disclosure minimum has its shares blanked: its top inputs go too.
        withheld = {(row["attribute"], row["group"]) for row in rows if row["suppressed"]}
        groups = {
            attr: {group: top for group, top in tops.items() if (attr, group) not in withheld}
            for attr, tops in res.details.get("group_rankings", {}).items()
        }
        out.append(
            {
                "result": res,
                "top": [shares[f] for f in res.details["ranking"][:10] if f in shares],
                "groups": groups,
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


@functools.cache
def report_env(lang: str) -> Environment:
    """Return the environment that renders reports in `lang`, with that language's catalog."""
    # Not an overlay of ENV: an overlay shares ENV's globals (and its extension installs
    # translations there), so the comparison report would turn Korean after a Korean report.
    env = _environment()
    translations = i18n.translations(lang)
    env.install_gettext_translations(translations, newstyle=True)
    env.filters.update(
        local=lambda text: i18n.in_lang(text, lang),
        # A verdict's reasons or a check's messages in `lang`; English when the record predates phrases.
        said=lambda item: item.said(lang, translations.gettext),
        # One phrase (a failed clause's finding) in `lang`.
        say=lambda phrase: phrase.say(lang, translations.gettext),
        # A text only known at rendering (a check's title) looked up in the catalog. Unlike `_()`, it
        # does no %-formatting on the result; gettext("") would be the catalog's header.
        translate=lambda text: translations.gettext(text) if text else text,
        number=lambda value: i18n.number(value, lang),
        long_date=lambda value: i18n.long_date(value, lang),
        long_datetime=lambda value: i18n.long_datetime(value, lang),
    )
    return env


def render_report(record: AuditRecord, lang: str = i18n.DEFAULT_LANG) -> str:
    """Return the audit's HTML report in `lang` (ko or en); the same record always gives the same bytes.

    Raises ValueError for any other language.
    """
    env = report_env(i18n.check_lang(lang))
    other = next(code for code in i18n.LANGS if code != lang)
    disclosure_min = record.disclosure_min
    rows = record.published_rows()
    by_check: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_check.setdefault(row["check_id"], []).append(row)
    return env.get_template("report.html.j2").render(
        lang=lang,
        other={"lang": other, "name": i18n.LANG_NAMES[other], "file": i18n.REPORT_FILES[other]},
        r=record,
        rows_by_check=by_check,
        explanations=_explanations(record, by_check),
        charts=fairness_charts(rows),
        reasons=_reasons(record),
        disclosure_min=disclosure_min,
        recommendation=record.recommendation.value,
        triage_pack_used=_triage_pack_used(record),
    )


def _triage_pack_used(record: AuditRecord) -> bool:
    """Say whether the audit's policy, or a pack it extends, is one the triage calls for."""
    if record.triage is None:
        return False
    lineage = [str(item).split("@")[0] for item in record.policy.get("lineage", [])]
    return any(record.triage.pack(pack_id) is not None for pack_id in [record.policy.get("id"), *lineage])
