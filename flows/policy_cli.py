"""`assay policy` and `assay checklist`: the packs, what each clause relies on, the questionnaire."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

policy_app = typer.Typer(
    no_args_is_help=True,
    help="Inspect policy packs: list the shipped ones, show a pack's clauses, export the schema.",
)
checklist_app = typer.Typer(
    no_args_is_help=True,
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
    """Show a pack's clauses and the evidence each relies on (check, metric, allowed range)."""
    from assay.data.loaders import load_policy

    pack, _ = load_policy(policy)
    clauses = [
        {
            "id": c.id,
            "title": c.title.model_dump(),
            "source": c.source,
            "verified": c.verified,
            "severity": c.severity,
            "evidence": [
                {"check": e.check, "metric": e.metric, "groups": e.groups, "range": e.bounds()}
                for e in c.evidence
            ],
        }
        for c in pack.clauses
    ]
    if as_json:
        payload = {"id": pack.id, "version": pack.version, "lineage": pack.lineage, "clauses": clauses}
        payload["parameters"] = pack.parameters.model_dump()
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return
    on_top = f" (extends {' → '.join(pack.lineage)})" if pack.lineage else ""
    table = Table(title=escape(f"{pack.id} {pack.version}{on_top}: {pack.title.en}"))
    for col in ("clause", "severity", "title", "evidence"):
        table.add_column(col, overflow="fold")
    for c in clauses:
        evidence = "\n".join(
            f"{e['check']} {e['metric']} {e['range']}"
            + ("" if e["groups"] == "attributes" else f" ({e['groups']})")
            for e in c["evidence"]
        )
        source = c["source"] + ("" if c["verified"] else " (id not verified)")
        table.add_row(
            escape(f"{c['id']}\n{source}"),
            c["severity"],
            escape(f"{c['title']['ko']}\n{c['title']['en']}"),
            escape(evidence),
        )
    err.print(table)


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


@checklist_app.command("template")
def checklist_template(
    policy: Annotated[str, typer.Option(help="Policy pack: shipped id or YAML path.")] = "kr-public-service",
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
            "question": f"[{clause.id}] {getattr(q.text, lang)}",
            "answer": None,
            "answered_by": None,
            "answered_at": None,
        }
        for clause, q in pack.questions()
    }
    intro = {
        "ko": "각 질문에 답하십시오 (예/아니오 질문은 yes 또는 no). 답한 사람(answered_by)과 날짜"
        "(answered_at, YYYY-MM-DD)가 필요합니다. 답하지 않은 질문은 'needs_attestation'이 됩니다.",
        "en": "Answer each question (yes or no where it asks so), with who answered (answered_by) and "
        "when (answered_at, YYYY-MM-DD). An unanswered question leaves its clause 'needs_attestation'.",
    }[lang]
    body = yaml.safe_dump({"policy": pack.id, "answers": answers}, sort_keys=False, allow_unicode=True)
    text = f"# {pack.id} {pack.version}: {intro}\n{body}"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
