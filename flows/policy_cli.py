"""`assay policy` and `assay checklist`: packs, their clauses and crosswalk, and the questionnaire."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay.policies import DEFAULT_POLICY

policy_app = typer.Typer(
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help="Policy packs: list the shipped ones, show a pack's clauses, line packs up by evidence "
    "(crosswalk), judge a sealed audit under another pack, export the schema.",
)
checklist_app = typer.Typer(
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help="Checklists: the questions a policy asks people to answer, beside the measured evidence.",
)
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]


def _pack_summary(path: Path) -> dict[str, Any]:
    from assay.data.loaders import load_policy

    pack, _ = load_policy(str(path))
    return {
        "id": pack.id,
        "version": pack.version,
        "title": pack.title.model_dump(),
        "jurisdiction": pack.jurisdiction,
        "gates": sum(c.severity == "gate" for c in pack.clauses),
        "advisory": sum(c.severity == "advisory" for c in pack.clauses),
        "file": path.name,
    }


@policy_app.command("list")
def list_packs(as_json: JsonOpt = False) -> None:
    """List the shipped policy packs."""
    from assay.data.loaders import POLICIES_DIR

    packs = [_pack_summary(p) for p in sorted(POLICIES_DIR.glob("*.yaml"))]
    if as_json:
        sys.stdout.write(json.dumps(packs, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title="Shipped policy packs")
    for col in ("id", "version", "jurisdiction", "title", "gates", "advisory"):
        table.add_column(col, overflow="fold")
    for p in packs:
        title = f"{p['title']['ko']}\n{p['title']['en']}"
        row = (p["id"], p["version"], p["jurisdiction"], title, str(p["gates"]), str(p["advisory"]))
        table.add_row(*map(escape, row))
    err.print(table)


@policy_app.command("show")
def show_pack(
    policy: Annotated[str, typer.Argument(help="Shipped pack id or a YAML path.")],
    as_json: JsonOpt = False,
) -> None:
    """Show a pack's clauses and the evidence each relies on (check, metric, allowed range, whose range)."""
    from assay.data.loaders import load_policy

    pack, _ = load_policy(policy)
    clauses = [
        {
            "id": c.id,
            "title": c.title.model_dump(),
            "source": c.source,
            "verified": c.verified,
            "severity": c.severity,
            "levels": c.levels,
            "evidence": [
                {
                    "check": e.check,
                    "metric": e.metric,
                    "groups": e.groups,
                    "range": e.bounds(),
                    "basis": e.basis,
                    "cite": e.cite,
                }
                for e in c.evidence
            ],
            "questions": [{"id": q.id, "topic": q.topic, "kind": q.kind} for q in c.questions],
        }
        for c in pack.clauses
    ]
    if as_json:
        payload = {"id": pack.id, "version": pack.version, "lineage": pack.lineage, "clauses": clauses}
        payload["parameters"] = pack.parameters.model_dump()
        payload["impact_levels"] = pack.impact_levels.model_dump() if pack.impact_levels else None
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return
    on_top = f" (extends {' → '.join(pack.lineage)})" if pack.lineage else ""
    table = Table(title=escape(f"{pack.id} {pack.version}{on_top}: {pack.title.en}"))
    for col in ("clause", "severity", "title", "evidence"):
        table.add_column(col, overflow="fold")
    for c in clauses:
        evidence = "\n".join(
            [
                f"{e['check']} {e['metric']} {e['range']}"
                + ("" if e["groups"] == "attributes" else f" ({e['groups']})")
                + (f" [law: {e['cite']}]" if e["basis"] == "law" else " [agency]")
                for e in c["evidence"]
            ]
            + [f"checklist {q['id']} ({q['kind']})" for q in c["questions"]]
        )
        if c["levels"]:
            evidence = f"only at impact levels {' / '.join(c['levels'])}\n{evidence}"
        source = c["source"] + ("" if c["verified"] else " (id not verified)")
        table.add_row(
            escape(f"{c['id']}\n{source}"),
            c["severity"],
            escape(f"{c['title']['ko']}\n{c['title']['en']}"),
            escape(evidence),
        )
    err.print(table)


@policy_app.command("crosswalk")
def crosswalk_packs(
    policy: Annotated[
        list[str] | None,
        typer.Option(
            help="Packs to compare (shipped id or YAML path; repeatable). Default: every shipped pack."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show, for each kind of evidence, the clauses of every pack that rely on it and whose thresholds
    they use: [agency] for the agency's own choice, [law: CITE] for a number a text sets."""
    from assay.checks.crosswalk import crosswalk
    from assay.data.loaders import POLICIES_DIR, load_policy

    # The default pack first, then the others by id.
    shipped = sorted(p.stem for p in POLICIES_DIR.glob("*.yaml"))
    refs = policy or sorted(shipped, key=lambda ref: (ref != DEFAULT_POLICY, ref))
    packs = [load_policy(ref)[0] for ref in refs]
    rows = crosswalk(packs)
    if as_json:
        payload = {"packs": [p.id for p in packs], "rows": [r.model_dump() for r in rows]}
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title="Evidence → clauses (? marks an id not yet verified against the official text)")
    table.add_column("evidence", overflow="fold")
    for pack in packs:
        table.add_column(pack.id, overflow="fold")
    for row in rows:
        cells = []
        for pack in packs:
            names = [
                u.clause
                + ("?" if not u.verified else "")
                + (" (advisory)" if u.severity == "advisory" else "")
                + "".join(f" ({g})" for g in u.groups)
                # Whose thresholds these are: a reader must not take the agency's for the law's.
                + "".join(f" [{b}]" for b in dict.fromkeys(u.basis))
                for u in row.packs.get(pack.id, [])
            ]
            cells.append(escape("\n".join(names)) or "—")
        label = row.evidence if row.kind == "measured" else f"checklist: {row.evidence}"
        table.add_row(escape(label), *cells)
    err.print(table)


@policy_app.command("judge")
def judge_record(
    audit_id: Annotated[str, typer.Argument(help="An audit id from `assay history`.")],
    policy: Annotated[str, typer.Option(help="Policy pack to judge it under: shipped id or YAML path.")],
    answers: Annotated[
        Path | None, typer.Option(help="Checklist answers for that pack (see `assay checklist template`).")
    ] = None,
    ledger: Annotated[
        Path, typer.Option("--ledger", envvar="ASSAY_LEDGER", help="Ledger folder.", show_default=True)
    ] = Path("assay-ledger"),
    as_json: JsonOpt = False,
) -> None:
    """Judge a sealed audit's results under another pack, without re-running its checks or sealing.

    Exit code 1 when a gate fails or cannot be decided, as for `assay audit`.
    """
    from assay.checks.errors import AssayInputError
    from assay.checks.policy import recommend
    from assay.data.loaders import load_answers, load_policy
    from assay.ledger.record import AuditRecord
    from assay.ledger.store import Ledger

    pack, _ = load_policy(policy)
    given = load_answers(answers, pack) if answers else {}
    entry = Ledger(ledger).find(audit_id) if ledger.is_dir() else None
    if entry is None or "record.json" not in entry.manifest["files"]:
        raise AssayInputError(f"{ledger}: no audit {audit_id!r} (see `assay history`)")
    record = AuditRecord.model_validate_json(entry.read("record.json"))
    try:
        verdicts = record.judge_under(pack, given)
    except ValueError as exc:
        raise AssayInputError(f"{audit_id}: {exc}") from None
    recommendation = recommend(verdicts)
    if as_json:
        payload = {
            "audit_id": audit_id,
            "policy": {"id": pack.id, "version": pack.version},
            "sealed": False,
            "recommendation": recommendation.value,
            "verdicts": [v.model_dump(mode="json") for v in verdicts],
        }
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        title = f"{audit_id} under {pack.id} {pack.version}: {recommendation.value} (not sealed)"
        err.print(verdict_table(title, [v.model_dump(mode="json") for v in verdicts]))
    if recommendation.value not in ("eligible", "eligible_with_conditions"):
        raise typer.Exit(1)


def verdict_table(title: str, verdicts: list[dict[str, Any]]) -> Table:
    """Return a table of clause verdicts (as stored in a record) with their reasons."""
    from assay.checks.policy import Verdict

    table = Table(title=escape(title))
    for col in ("clause", "severity", "verdict", "reasons"):
        table.add_column(col)
    for v in verdicts:
        reasons = [reason for ev in v["evidence"] for reason in ev["reasons"]]
        # A failed clause says whose thresholds it fails: the agency's are not a breach of the law.
        finding = Verdict.model_validate(v).finding()
        said = v["verdict"] + ("" if finding is None else f": {finding}")
        table.add_row(v["clause_id"], v["severity"], escape(said), escape("\n".join(reasons)))
    return table


@policy_app.command("schema")
def schema(
    output: Annotated[Path | None, typer.Option(help="Write the schema here instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema that every policy pack must satisfy."""
    from assay.checks.policy import PolicyPack

    text = json.dumps(PolicyPack.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


KIND_HINTS = {
    "ko": {"yes_no": "yes/no", "text": "글로 답함", "number": "숫자"},
    "en": {"yes_no": "yes/no", "text": "in words", "number": "a number"},
}
# An exempting question's yes lifts its clause: said beside it, so nobody claims it by habit.
EXEMPT_HINTS = {
    "ko": "yes/no; yes이면 적용 제외, 이 조항은 적용되지 않음",
    "en": "yes/no; yes = exempt, the clause does not apply",
}


@checklist_app.command("template")
def checklist_template(
    policy: Annotated[str, typer.Option(help="Policy pack: shipped id or YAML path.")] = DEFAULT_POLICY,
    lang: Annotated[str, typer.Option(help="Language of the questions: ko or en.")] = "ko",
    output: Annotated[Path | None, typer.Option(help="Write the template here instead of stdout.")] = None,
) -> None:
    """Write the questionnaire of a policy's checklist, to fill in and pass to `assay audit --answers`."""
    import yaml

    from assay.checks.errors import AssayInputError
    from assay.data.loaders import load_policy

    if lang not in ("ko", "en"):
        raise AssayInputError(f"--lang {lang}: expected ko or en")
    pack, _ = load_policy(policy)
    answers = {
        q.id: {
            "question": f"[{clause.id}] {getattr(q.text, lang)} "
            f"({EXEMPT_HINTS[lang] if q.exempts else KIND_HINTS[lang][q.kind]})",
            "answer": None,
            "answered_by": None,
            "answered_at": None,
        }
        for clause, q in pack.questions()
    }
    intro = {
        "ko": "각 질문에 답하십시오 (yes 또는 no, 글, 숫자 가운데 질문이 청하는 것). "
        "답한 사람(answered_by)과 날짜(answered_at, YYYY-MM-DD)가 필요합니다. "
        "답하지 않은 질문은 'needs_attestation'이 됩니다.",
        "en": "Answer each question (yes or no, a text or a number, as it asks), with who answered "
        "(answered_by) and when (answered_at, YYYY-MM-DD). "
        "An unanswered question leaves its clause 'needs_attestation'.",
    }[lang]
    body = yaml.safe_dump({"policy": pack.id, "answers": answers}, sort_keys=False, allow_unicode=True)
    text = f"# {pack.id} {pack.version}: {intro}\n{body}"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
