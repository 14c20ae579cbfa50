"""The `assay` command line: human summaries on stderr, machine-readable output on stdout."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay.checks.errors import AssayInputError
from assay.flows.ephemeral import tie_temporary_server
from assay.flows.usage import USAGE_ERRORS, usage_message, version_line
from assay.ledger.store import LedgerIntegrityError
from assay.policies import DEFAULT_POLICY

EXIT_GATE_FAILED, EXIT_BAD_INPUT, EXIT_INTEGRITY, EXIT_INTERNAL = 1, 2, 3, 4

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    # Every command and group inherits -h beside --help.
    context_settings={"help_option_names": ["-h", "--help"]},
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help=(
        "Assay: repeatable, tamper-evident audits of AI models for public services.\n\n"
        "Exit codes: 0 all gates passed, 1 a policy gate failed or could not be decided, "
        "2 bad input or usage, 3 ledger integrity failure, 4 internal error."
    ),
)
err = Console(stderr=True)

LedgerOpt = Annotated[
    Path,
    typer.Option("--ledger", envvar="ASSAY_LEDGER", help="Ledger folder.", show_default=True),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of every random draw.")]


class UserError(Exception):
    """A mistake the CLI reports in one line with its exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(version_line() + "\n")
        raise typer.Exit(0)


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print assay's version and exit."
        ),
    ] = False,
) -> None:
    # Set before prefect is imported (commands import it lazily to keep --help fast).
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # The temporary local server can take long to start on a busy machine (default 20 s).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "INFO" if verbose else "CRITICAL")


def _failing(summary: Any) -> str:
    """Say what each failed clause's verdict says (whose thresholds it fails), one per line."""
    return "\n".join(summary.findings) or "—"


def _summary_table(summaries: list[Any], title: str) -> Table:
    table = Table(title=escape(title))
    for col in ("candidate", "vendor", "recommendation", "failing clauses (metrics)", "audit id"):
        table.add_column(col, overflow="fold")
    colours = {"eligible": "green", "not_eligible": "red"}
    for s in summaries:
        if s.error:
            table.add_row(escape(s.candidate), "", "[red]intake failed[/]", escape(s.error), "")
            continue
        rec = s.recommendation or ""
        table.add_row(
            escape(s.candidate),
            escape(s.vendor or ""),
            f"[{colours.get(rec, 'yellow')}]{rec}[/]",
            escape(_failing(s)),
            escape(s.audit_id or ""),
        )
    return table


def _emit(payload: Any, output: Path | None) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text + "\n", encoding="utf-8")


TrustPickleOpt = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        help="Load pickle or joblib candidates. Dangerous: loading such a file runs whatever code "
        "it holds, with your permissions; pass this only for a file you would run as a program. "
        "The record says the pickle was trusted. Prefer skops or ONNX.",
    ),
]
OutputOpt = Annotated[Path | None, typer.Option(help="Write the JSON summary here instead of stdout.")]
SignKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--sign-key",
        help="Sign every sealed entry's manifest, and HEAD (the ledger's checkpoint), with this "
        "ed25519 private key (from `assay keys generate`); `assay verify --public-key` then checks "
        "the signatures.",
    ),
]
PolicyOpt = Annotated[str, typer.Option(help="Policy pack: shipped id or YAML path.")]
AnswersOpt = Annotated[
    Path | None,
    typer.Option(help="Checklist answers (YAML; start from `assay checklist template`)."),
]


@app.command()
def demo(
    ledger: LedgerOpt = Path("assay-ledger"),
    seed: SeedOpt = 7,
    policy: PolicyOpt = DEFAULT_POLICY,
    answers: AnswersOpt = None,
    sign_key: SignKeyOpt = None,
) -> None:
    """Run the demo's procurement round: three vendors of the welfare-review scenario, compared."""
    from assay.data.loaders import load_answers, load_policy
    from assay.data.scenario import ensure_welfare_review

    # Bad input fails before minutes of scenario generation, not once per vendor afterwards.
    _check_sign_key(sign_key)
    pack, _ = load_policy(policy)
    if answers:
        load_answers(answers, pack)
    start = time.perf_counter()
    with err.status("Generating the welfare-review scenario and training three vendor models…"):
        folder = ensure_welfare_review(seed)
    from assay.flows.triage_cli import run_triage, triage_line

    err.print(escape(triage_line(run_triage("welfare-review"))), highlight=False, soft_wrap=True)
    summary = _run_round(folder / "round.yaml", ledger, policy=policy, answers=answers, sign_key=sign_key)
    _demo_labels(ledger, summary.audits, sign_key)
    err.print(
        f"Ledger: {ledger} (check it with `assay verify`, list it with `assay history`). "
        f"Took {time.perf_counter() - start:.0f} s."
    )
    if any(c.error for c in summary.candidates):
        raise UserError("the demo could not audit every vendor (see the table above)")


def _demo_labels(ledger: Path, audits: list[Any], sign_key: Path | None) -> None:
    """Issue the trust label of every eligible audit of the demo into a folder beside the ledger.

    Without --sign-key the labels are signed with a demo key kept in LEDGER/private/, made once.
    """
    from datetime import date

    from assay.flows.label_cli import issue_label
    from assay.ledger.label import LABELLED
    from assay.ledger.signing import generate_keypair, load_private_key

    eligible = [a for a in audits if a.audit_id and a.recommendation in {r.value for r in LABELLED}]
    if not eligible:
        return
    if sign_key is None:
        sign_key = ledger / "private" / "demo-label.key"
        if not sign_key.exists():
            generate_keypair(sign_key.parent, "demo-label")
    public = sign_key.with_suffix(".pub")
    key = load_private_key(sign_key)
    out = ledger.parent / f"{ledger.name}-labels"
    for a in eligible:
        done = issue_label(ledger, a.audit_id, key, out, date.today())
        err.print(
            escape(
                f"Trust label {done.fingerprint} for {a.audit_id} ({a.recommendation}), valid until "
                f"{done.label['expires']}: {done.svg_path}; check it with `assay label verify "
                f"{done.json_path} --public-key {public} --ledger {ledger}`"
            ),
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def procure(
    round_file: Annotated[Path, typer.Argument(help="The round file (ROUND.yaml).", metavar="ROUND.yaml")],
    ledger: LedgerOpt = Path("assay-ledger"),
    policy: Annotated[
        str | None, typer.Option(help="Judge under this pack instead of the round file's.")
    ] = None,
    answers: AnswersOpt = None,
    task_runner: Annotated[
        str,
        typer.Option(
            help="Where heavy work runs: threads (this machine) or dask (SHAP chunks and bootstrap "
            "rankings on a Dask cluster's workers; a local two-worker cluster without --dask-address).",
        ),
    ] = "threads",
    dask_address: Annotated[
        str | None, typer.Option(help="Scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")
    ] = None,
    trust_pickle: TrustPickleOpt = False,
    output: OutputOpt = None,
    sign_key: SignKeyOpt = None,
) -> None:
    """Audit every candidate of a round under one protocol, then seal their ranked comparison.

    Exit code 1 when no candidate is eligible. A candidate whose intake fails is recorded as failed
    with the reason; the round goes on with the others.
    """
    if task_runner not in ("threads", "dask"):
        raise UserError(f"--task-runner {task_runner}: expected threads or dask")
    if dask_address and task_runner != "dask":
        raise UserError("--dask-address needs --task-runner dask")
    _check_sign_key(sign_key)
    summary = _run_round(
        round_file, ledger, policy, answers, task_runner, dask_address, trust_pickle, sign_key
    )
    _emit(summary.model_dump(mode="json"), output)
    if not summary.eligible:
        raise typer.Exit(EXIT_GATE_FAILED)


def _run_round(
    round_file: Path,
    ledger: Path,
    policy: str | None = None,
    answers: Path | None = None,
    task_runner: str = "threads",
    dask_address: str | None = None,
    trust_pickle: bool = False,
    sign_key: Path | None = None,
) -> Any:
    from assay.flows.procure import checked_round, procurement_round

    # The inputs every candidate shares are checked before Prefect starts (the flow reuses them).
    with checked_round(round_file, policy, answers) as rnd:
        tie_temporary_server()
        names = ", ".join(c.parent.name for c in rnd.candidates)
        with err.status(f"Auditing {names} concurrently (Prefect, {task_runner})…"):
            summary = procurement_round(
                round_file=round_file,
                ledger=ledger,
                task_runner=task_runner,
                dask_address=dask_address,
                trust_pickle=trust_pickle,
                policy=policy,
                answers=answers,
                sign_key=sign_key,
            )
    err.print(_summary_table(summary.audits, f"{rnd.spec.id} under {policy or rnd.spec.policy}"))
    for s in summary.audits:
        if s.entry:
            err.print(escape(f"{s.candidate}: report {Path(s.entry) / 'report.html'}"))
    for ranking in summary.rankings[:3]:
        for pair in ranking["pairwise"][:2]:
            err.print(escape(pair["sentence"]))
    err.print(escape(f"Comparison: {Path(summary.entry) / 'report.html'} ({summary.audit_id})"))
    return summary


@app.command()
def audit(
    service: Annotated[str, typer.Option(help="Service profile: shipped id or YAML path.")],
    candidate: Annotated[Path, typer.Option(help="The candidate's candidate.yaml.")],
    data: Annotated[Path, typer.Option(help="Evaluation set (.csv or .parquet) with labels.")],
    policy: PolicyOpt = DEFAULT_POLICY,
    ledger: LedgerOpt = Path("assay-ledger"),
    seed: SeedOpt = 0,
    output: OutputOpt = None,
    answers: AnswersOpt = None,
    explain_id: Annotated[
        list[str] | None,
        typer.Option(
            "--explain-id",
            help="Also give the individual reasons for the row with this id (repeatable). "
            "The record names it by a keyed pseudonym; the key stays in LEDGER/private/.",
        ),
    ] = None,
    trust_pickle: TrustPickleOpt = False,
    sign_key: SignKeyOpt = None,
) -> None:
    """Audit one candidate on an evaluation set under a policy and seal the record in the ledger."""
    _check_sign_key(sign_key)  # before Prefect is even imported: a wrong path costs no audit
    from assay.flows.audit import AuditSpec, audit_candidate, prechecked

    spec = AuditSpec(
        service=service,
        candidate=candidate,
        data=data,
        policy=policy,
        ledger=ledger,
        seed=seed,
        explain_ids=explain_id or [],
        answers=answers,
        trust_pickle=trust_pickle,
        sign_key=sign_key,
    )
    # Every input is loaded and validated before Prefect starts; the flow reuses them.
    with err.status(f"Auditing {candidate}…"), prechecked(spec):
        tie_temporary_server()
        summary = audit_candidate(spec)
    err.print(_summary_table([summary], f"{summary.service} under {policy}"))
    _emit(summary.model_dump(), output)
    if summary.recommendation not in ("eligible", "eligible_with_conditions"):
        raise typer.Exit(EXIT_GATE_FAILED)


@app.command()
def monitor(
    service: Annotated[str, typer.Option(help="Service profile: shipped id or YAML path.")],
    candidate: Annotated[Path, typer.Option(help="The deployed candidate's candidate.yaml.")],
    data: Annotated[
        Path,
        typer.Option(
            help="Evaluation window (.csv or .parquet), or a folder whose last window by name is audited."
        ),
    ],
    policy: PolicyOpt = DEFAULT_POLICY,
    ledger: LedgerOpt = Path("assay-ledger"),
    seed: SeedOpt = 0,
    answers: AnswersOpt = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            help="The previous audit's window, for drift (default: the file beside the window with its hash)."
        ),
    ] = None,
    notify: Annotated[
        str | None,
        typer.Option(help="Prefect notification block for the regression alert, e.g. custom-webhook/alerts."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Persist each check's result (in Prefect's result storage) so a run killed midway and "
            "started again recomputes only what it had not finished."
        ),
    ] = True,
    trust_pickle: TrustPickleOpt = False,
    output: OutputOpt = None,
    sign_key: SignKeyOpt = None,
) -> None:
    """Audit a deployed candidate on its latest window and compare with its previous version.

    Seals the audit as the subject's next version with what changed: each watched metric's change
    and interval, drift per input (PSI and KS or chi-square), and group-share shifts. Exit code 1
    when a watched metric regressed beyond the policy's tolerance (the run is Failed, the alert is
    sent) or the candidate is no longer eligible.
    """
    from assay.flows.monitor import MonitorSpec, RegressionDetected, check_inputs
    from assay.flows.monitor import monitor as monitor_flow

    spec = MonitorSpec(
        service=service,
        candidate=candidate,
        data=data,
        policy=policy,
        ledger=ledger,
        seed=seed,
        answers=answers,
        reference=reference,
        notify=notify,
        resumable=resume,
        trust_pickle=trust_pickle,
        sign_key=sign_key,
    )
    check_inputs(spec)  # before Prefect starts: a wrong path costs a second, not a server start
    tie_temporary_server()
    regressed = None
    with err.status(f"Auditing {candidate} on the latest window of {data}…"):
        try:
            summary = monitor_flow(spec)
        except RegressionDetected as exc:
            summary, regressed = exc.summary, exc
    err.print(_summary_table([summary.audit], f"{summary.audit.service} under {policy}"))
    since = f" since {summary.previous_audit_id}" if summary.previous_audit_id else ""
    colour = {"regression": "red", "stable": "green"}.get(summary.status, "yellow")
    err.print(f"[{colour}]{summary.status}[/]{escape(since)} on window {escape(summary.window)}")
    if regressed is not None:
        err.print(escape(str(regressed)), highlight=False, soft_wrap=True)
    elif summary.drifted:
        err.print(escape(f"drifted inputs: {', '.join(summary.drifted)}"))
    if not summary.sealed_now:
        err.print(escape(f"{summary.audit.audit_id} already held this window's audit: not sealed again"))
    if summary.reused_results:
        err.print(f"{summary.reused_results} check results read back from an earlier run of the same inputs")
    if summary.audit.entry:
        err.print(escape(f"Monitor report: {Path(summary.audit.entry) / 'monitor.md'}"))
    _emit(summary.model_dump(mode="json"), output)
    if regressed is not None or summary.audit.recommendation not in ("eligible", "eligible_with_conditions"):
        raise typer.Exit(EXIT_GATE_FAILED)


def _check_sign_key(path: Path | None) -> None:
    """Load the signing key now, so a bad path fails in one line before any audit work."""
    if path is not None:
        from assay.ledger.signing import load_private_key

        load_private_key(path)


@app.command()
def verify(
    ledger: LedgerOpt = Path("assay-ledger"),
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Also require every entry and HEAD (the signed checkpoint) to carry a valid "
            "signature by this ed25519 public key.",
        ),
    ] = None,
    since: Annotated[
        Path | None,
        typer.Option(
            "--since",
            metavar="CHECKPOINT",
            help="A checkpoint saved earlier (by `assay verify --output`, or published): the ledger "
            "must still hold its entries, none cut off and none rewritten.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Write the verified checkpoint here instead of stdout (keep it for --since)."),
    ] = None,
) -> None:
    """Recompute every hash and link of the ledger; exit 3 naming the first broken file.

    Checks every file against its entry's manifest, each manifest against the hash its successor
    (or HEAD) recorded, the order of the entries, that entries/ holds nothing else, and any
    signature's form. With --public-key every entry and HEAD must be signed by that key. With
    --since the ledger must still have at least the checkpoint's entries, with the same manifest
    at its last one. On success prints the ledger's checkpoint (HEAD: entry count and newest
    manifest hash, signed when the ledger is) as JSON: keep it, or publish it, to check later with
    --since that nothing was cut off or rewritten since.
    """
    from assay.ledger import checkpoint
    from assay.ledger.signing import fingerprint, load_public_key
    from assay.ledger.store import Ledger

    key = load_public_key(public_key) if public_key is not None else None
    seen = checkpoint.load(since) if since is not None else None
    store = Ledger(ledger)
    if not store.root.is_dir():
        raise UserError(f"{ledger}: no such ledger folder")
    problems = store.verify(key, seen)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise UserError(f"ledger integrity failure: {problems[0]}{more}", EXIT_INTEGRITY)
    head = store.head()
    if key is not None:
        signed = f", every entry signed by key {fingerprint(key)}, and HEAD too"
    elif head is not None and head.signature is not None:
        signed = f"; HEAD names key {head.signed_by()} (pass --public-key to check the signatures)"
    elif head is not None:
        signed = "; HEAD is not signed: entries cut from the end go unnoticed without --since"
    else:
        signed = ""
    held = f", and it holds checkpoint {since} (entry {seen.seq})" if seen is not None else ""
    if head is None:
        held += "; no checkpoint (the ledger has no entries)"
    else:
        text = head.document().decode()
        if output is None:
            sys.stdout.write(text)
        else:
            _write_atomic(output, text.encode())
    err.print(
        "[green]ok[/]: "
        + escape(f"{len(store.entries())} entries in {ledger}, every hash and link intact{signed}{held}"),
        highlight=False,
        soft_wrap=True,
    )


def _write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all, or say in one line why it cannot be written."""
    from assay.flows.files import write_whole

    try:
        write_whole({path: data})
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None


def _history_rows(ledger: Path) -> list[dict[str, Any]]:
    from assay.ledger.store import Ledger

    rows = []
    for entry in Ledger(ledger).entries():
        if "comparison.json" in entry.manifest["files"]:
            rows.append(_round_row(entry))
            continue
        record = json.loads(entry.read("record.json"))
        rows.append(
            {
                "kind": "audit",
                "audit_id": entry.audit_id,
                "service": record["subject"]["service"],
                "candidate": record["subject"]["candidate"],
                "vendor": record["subject"]["vendor"],
                "version": entry.manifest["version"],
                "recommendation": record["recommendation"],
                "failing_clauses": [v["clause_id"] for v in record["verdicts"] if v["verdict"] == "fail"],
                # baseline, stable or regression for `assay monitor` audits; None otherwise.
                "monitoring": (record.get("monitoring") or {}).get("status"),
                "created_at": entry.manifest["created_at"],
                "manifest_sha256": entry.manifest_sha256,
            }
        )
    return rows


def _round_row(entry: Any) -> dict[str, Any]:
    comparison = json.loads(entry.read("comparison.json"))
    ok = ("eligible", "eligible_with_conditions")
    eligible = [c["candidate"] for c in comparison["candidates"] if c["recommendation"] in ok]
    return {
        "kind": "round",
        "audit_id": entry.audit_id,
        "service": entry.manifest["subject"]["service"],
        "candidate": entry.manifest["subject"]["candidate"],
        "vendor": "",
        "version": entry.manifest["version"],
        "recommendation": f"round: {len(eligible)} of {len(comparison['candidates'])} eligible",
        "failing_clauses": [],
        "monitoring": None,
        "created_at": entry.manifest["created_at"],
        "manifest_sha256": entry.manifest_sha256,
    }


@app.command()
def history(
    ledger: LedgerOpt = Path("assay-ledger"),
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List every audit in the ledger, oldest first."""
    if not ledger.is_dir():
        raise UserError(f"{ledger}: no such ledger folder")
    rows = _history_rows(ledger)
    if as_json:
        _emit(rows, None)
        return
    table = Table(title=f"Audits in {ledger}")
    for col in ("audit id", "vendor", "recommendation", "failing clauses", "created"):
        table.add_column(col)
    for r in rows:
        monitored = {"regression": " [red](regression)[/]", "stable": " (stable)", "baseline": " (baseline)"}
        table.add_row(
            escape(r["audit_id"]),
            escape(r["vendor"]),
            r["recommendation"] + monitored.get(r["monitoring"] or "", ""),
            escape(", ".join(r["failing_clauses"]) or "—"),
            r["created_at"],
        )
    Console().print(table)


@app.command()
def show(
    audit_id: Annotated[str, typer.Argument(help="An audit id from `assay history`.")],
    ledger: LedgerOpt = Path("assay-ledger"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole record as JSON.")] = False,
) -> None:
    """Show one audit record: its verdicts, or with --json the whole record."""
    from assay.ledger.store import Ledger

    entry = Ledger(ledger).find(audit_id) if ledger.is_dir() else None
    if entry is None:
        raise UserError(f"{ledger}: no audit {audit_id!r} (see `assay history`)")
    name = "comparison.json" if "comparison.json" in entry.manifest["files"] else "record.json"
    record = json.loads(entry.read(name))
    if as_json or name == "comparison.json":
        _emit(record, None)
        return
    from assay.flows.policy_cli import verdict_table

    Console().print(verdict_table(f"{audit_id}: {record['recommendation']}", record["verdicts"]))
    Console().print(f"Report: {entry.path / 'report.html'}")


@app.command()
def report(
    audit_id: Annotated[str, typer.Argument(help="An audit or round id from `assay history`.")],
    ledger: LedgerOpt = Path("assay-ledger"),
    lang: Annotated[str, typer.Option(help="Language of the report: ko or en.")] = "ko",
    fmt: Annotated[str, typer.Option("--format", help="html, or pdf (A4, needs the pdf extra).")] = "html",
    output: Annotated[
        Path | None, typer.Option(help="Write it here (default: ./AUDIT_ID.LANG.html or .pdf).")
    ] = None,
) -> None:
    """Render a sealed audit's report (or a round's comparison) from its stored record alone.

    The ledger is verified first: a report is never printed from an entry that was altered. A
    PDF carries the entry's manifest SHA-256 and the page number in every page footer.
    """
    from assay.ledger.record import AuditRecord
    from assay.ledger.store import Ledger

    if lang not in ("ko", "en"):
        raise UserError(f"--lang {lang}: expected ko or en")
    if fmt not in ("html", "pdf"):
        raise UserError(f"--format {fmt}: expected html or pdf")
    store = Ledger(ledger)
    entry = store.find(audit_id) if ledger.is_dir() else None
    if entry is None:
        raise UserError(f"{ledger}: no audit {audit_id!r} (see `assay history`)")
    problems = store.verify()
    if problems:
        raise UserError(f"ledger integrity failure: {problems[0]} (no report printed)", EXIT_INTEGRITY)
    if "comparison.json" in entry.manifest["files"]:
        from assay.dashboards.comparison import render_comparison
        from assay.ledger.comparison import ComparisonRecord

        comparison = ComparisonRecord.model_validate_json(entry.read("comparison.json"))
        html = render_comparison(comparison, lang=lang)
    else:
        from assay.dashboards.report import render_report

        html = render_report(AuditRecord.model_validate_json(entry.read("record.json")), lang=lang)
    target = output or Path(f"{audit_id}.{lang}.{fmt}")
    if fmt == "pdf":
        try:
            from assay.dashboards.pdf import render_pdf
        except ImportError as exc:  # pragma: no cover - the pdf extra is part of make's install
            raise UserError(f"--format pdf needs the pdf extra (pip install 'assay[pdf]'): {exc}") from exc
        data = render_pdf(html, f"{audit_id} · manifest SHA-256 {entry.manifest_sha256}")
    else:
        data = html.encode()
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    err.print(escape(f"{target} ({len(data):,} bytes) from {entry.path}"))


def _register_subcommands() -> None:
    from assay.flows.dashboard_cli import dashboard_app
    from assay.flows.keys_cli import keys_app
    from assay.flows.label_cli import label_app
    from assay.flows.ledger_cli import ledger_app
    from assay.flows.policy_cli import checklist_app, policy_app
    from assay.flows.schedule_cli import schedule_app
    from assay.flows.triage_cli import triage_command

    app.add_typer(policy_app, name="policy")
    app.add_typer(checklist_app, name="checklist")
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(dashboard_app, name="dashboard")
    app.add_typer(ledger_app, name="ledger")
    app.add_typer(keys_app, name="keys")
    app.add_typer(label_app, name="label")
    # One command, not a group: `assay triage SERVICE.yaml`.
    app.command("triage")(triage_command)


_register_subcommands()


def main() -> None:
    """Run the CLI, turning user mistakes into one-line errors with their exit codes."""
    try:
        # Outside standalone mode click returns a command's exit code instead of exiting.
        code = app(standalone_mode=False, prog_name="assay")
    except UserError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.code)
    except AssayInputError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)
    except LedgerIntegrityError as exc:
        err.print(
            f"[red]error:[/] ledger integrity failure: {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(EXIT_INTEGRITY)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except USAGE_ERRORS as exc:  # an unknown command or option, a missing one, a bad value
        err.print(f"[red]error:[/] {escape(usage_message(exc))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)
    except Exception as exc:
        # Not the user's mistake, and it must not read as a failed gate (exit 1).
        detail = str(exc).splitlines()[0] if str(exc) else ""
        err.print(
            f"[red]internal error:[/] {escape(type(exc).__name__)}: {escape(detail)} "
            "(run with --verbose for Prefect's logs)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)
