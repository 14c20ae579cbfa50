"""`assay triage`: is a service high-impact AI, which rules apply, and which packs and checks to audit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay.checks.errors import AssayInputError
from assay.checks.triage import TriageAnswers, TriageProfile, TriageResult, evidence_checks, triage

if TYPE_CHECKING:
    from assay.checks.context import ServiceProfile

err = Console(stderr=True)
# The packs the triage can call for (policies/*.yaml).
TRIAGE_PACKS = ("kr-public-service", "eu-ai-act-high-risk", "nist-ai-rmf", "ca-dadm")
_COLOURS = {
    "yes": "red",
    "prohibited": "red",
    "flagged": "red",
    "reached": "red",
    "high_risk": "red",
    "applies": "red",
    "unknown": "yellow",
    "pending": "yellow",
    "no": "green",
    "none": "green",
    "not_reached": "green",
}


def load_subject(path: Path) -> ServiceProfile | TriageProfile:
    """Read a full service profile, or a triage-only one (id, title, decision, triage), refusing typos.

    A file with any key only a full profile has (risk_tier, label, ...) must be a full profile;
    otherwise it is read as a triage-only profile, so that a misspelt key is named, not ignored.
    """
    from assay.checks.context import ServiceProfile
    from assay.data.loaders import load_yaml, validation_message

    raw = load_yaml(path)
    full_only = set(ServiceProfile.model_fields) - set(TriageProfile.model_fields)
    full = bool(full_only & set(raw))
    try:
        return ServiceProfile.model_validate(raw) if full else TriageProfile.model_validate(raw)
    except ValidationError as exc:
        hint = ""
        if full and exc.errors()[0]["type"] == "missing":
            hint = " (a full service profile; a triage-only profile has just id, title, decision and triage)"
        raise AssayInputError(f"{path}: {validation_message(exc)}{hint}") from None


def load_triage_answers(path: Path) -> TriageAnswers:
    """Read a triage answers file: a mapping of the triage questions' keys to their answers."""
    from assay.data.loaders import load_model

    return load_model(path, TriageAnswers)


def shipped_pack_checks() -> dict[str, list[str]]:
    """Return, for each pack the triage can call for, the checks its clauses use as evidence."""
    from assay.data.loaders import load_policy

    return {pack_id: evidence_checks(load_policy(pack_id)[0]) for pack_id in TRIAGE_PACKS}


def run_triage(
    service: str | Path, answers: Path | None = None, candidate: Path | None = None
) -> TriageResult:
    """Triage a service profile (shipped id or path), with an answers file and a candidate.yaml if given."""
    from assay.data.loaders import SERVICES_DIR, load_model, resolve, validation_message
    from assay.models.manifest import CandidateManifest

    profile = resolve(str(service), SERVICES_DIR, "service")
    subject = load_subject(profile)
    given = load_triage_answers(answers) if answers is not None else None
    compute = (
        load_model(candidate, CandidateManifest).training_compute_flops if candidate is not None else None
    )
    try:
        return triage(subject, given, compute=compute, pack_checks=shipped_pack_checks())
    except ValidationError as exc:
        # The answers file's answers, merged over the profile's, contradict each other.
        raise AssayInputError(f"{answers or profile}: {validation_message(exc)}") from None


def triage_line(result: TriageResult) -> str:
    """Return the triage in one line: each finding's answer, then the packs that apply."""
    shown = []
    for f in result.findings:
        answer = f.answer + (f" {f.category}" if f.category and f.category != f.answer else "")
        shown.append(f"{f.title.en}: {answer}")
    packs = ", ".join(f"{p.id} ({p.need})" for p in result.packs) or "none"
    return f"Triage of {result.service or 'the answers'}: {'; '.join(shown)}. Packs: {packs}."


def triage_table(result: TriageResult) -> Table:
    """Return the triage as a table: finding, answer, clause ids and reasons, then the packs."""
    table = Table(
        title=escape(f"Triage of {result.service or 'the answers'}"),
        caption="Ids marked ? were not verified letter by letter. Triage is information, not a gate.",
    )
    table.add_column("finding", overflow="fold", max_width=26)
    table.add_column("answer", no_wrap=True)
    table.add_column("clause ids", no_wrap=True)
    table.add_column("reasons", overflow="fold", ratio=1)
    for n, f in enumerate(result.findings, 1):
        answer = f.answer + (f" ({f.category})" if f.category and f.category != f.answer else "")
        reasons = [f"• {r}" for r in f.reasons]
        if f.missing:
            reasons.append(f"unanswered: {', '.join(f.missing)}")
        table.add_row(
            escape(f.title.en),
            f"[{_COLOURS.get(f.answer, 'cyan')}]{escape(answer)}[/]",
            escape("\n".join(c.shown() for c in f.clauses)),
            escape("\n".join(reasons)),
            end_section=n == len(result.findings),
        )
    for n, p in enumerate(result.packs, 1):
        table.add_row(
            escape(f"pack {p.id}"),
            f"[{_COLOURS.get(p.need, 'cyan')}]{p.need}[/]",
            "",
            escape("\n".join(f"• {r}" for r in p.reasons)),
            end_section=n == len(result.packs),
        )
    checks = "\n".join(result.checks) or "none (no pack applies)"
    table.add_row("checks the audit needs", "", "", escape(checks))
    return table


def triage_command(
    service: Annotated[
        str,
        typer.Argument(
            help="Service profile: shipped id or YAML path (a full or a triage-only profile).",
            metavar="SERVICE.yaml",
        ),
    ],
    answers: Annotated[
        Path | None,
        typer.Option(help="Triage answers (YAML mapping); they override the profile's `triage:` block."),
    ] = None,
    candidate: Annotated[
        Path | None,
        typer.Option(help="candidate.yaml: its `training_compute_flops` when the answers give none."),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write the JSON result here instead of stdout.")] = None,
) -> None:
    """Triage a service: is it high-impact AI (Framework Act Art 2(4)), do Art 31's notice and
    labelling and Art 32's safety duties (Decree 24(1)'s three criteria) apply, is a fully automated
    decision lawful (행정기본법 Art 20) and which rights it gives (PIPA Art 37-2), is it an EU AI Act
    Art 5 prohibited practice, which Annex III point and indicative Canadian AIA level, and so which
    policy packs and checks the audit needs.

    Unanswered questions are reported as unknown, never guessed. Exit code 0 (triage is
    information, not a gate) or 2 for bad input.
    """
    result = run_triage(service, answers, candidate)
    err.print(triage_table(result))
    payload: dict[str, Any] = result.model_dump(mode="json")
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AssayInputError(f"{output}: cannot write ({exc.strerror or exc})") from None
