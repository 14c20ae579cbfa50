"""`assay schedule`: recurring monitor audits as Prefect deployments on the server in PREFECT_API_URL."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay.checks.errors import AssayInputError
from assay.policies import DEFAULT_POLICY

if TYPE_CHECKING:
    from prefect.client.schemas.responses import DeploymentResponse

FLOW_NAME = "assay-monitor"
DEFAULT_TIMEZONE = "Asia/Seoul"

schedule_app = typer.Typer(
    no_args_is_help=True,
    # Markdown joins a docstring's wrapped lines into one paragraph in --help.
    rich_markup_mode="markdown",
    help="Recurring audits: create, list and delete scheduled `assay monitor` deployments on the "
    "Prefect server in PREFECT_API_URL, and serve them (run the scheduled audits).",
)
err = Console(stderr=True)


def _api_url() -> str:
    """Return the configured Prefect API url, or refuse: schedules need a server that outlives us."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise AssayInputError(
            "PREFECT_API_URL is not set: start a server with `prefect server start` and "
            "`export PREFECT_API_URL=http://127.0.0.1:4200/api` (schedules live on the server)"
        )
    return str(url)


def _client_call(fn: Any) -> Any:
    """Run `fn(client)` against the server; an unreachable server is a one-line error."""
    import httpx
    from prefect.client.orchestration import get_client

    url = _api_url()
    try:
        with get_client(sync_client=True) as client:
            return fn(client)
    except (httpx.ConnectError, httpx.TimeoutException) as exc:
        raise AssayInputError(f"PREFECT_API_URL {url}: cannot reach the Prefect server ({exc})") from None


def monitor_deployments(client: Any, names: list[str] | None = None) -> list[DeploymentResponse]:
    """Return the server's deployments of the monitor flow (only `names`, when given)."""
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    found = client.read_deployments(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])))
    if names:
        known = {d.name for d in found}
        missing = [n for n in names if n not in known]
        if missing:
            raise AssayInputError(f"no scheduled audit named {missing[0]!r} (see `assay schedule list`)")
        found = [d for d in found if d.name in names]
    return sorted(found, key=lambda d: d.name)


def _schedule_of(d: DeploymentResponse) -> tuple[str, str]:
    if not d.schedules:
        return "—", ""
    s = d.schedules[0].schedule
    return getattr(s, "cron", None) or str(s), getattr(s, "timezone", None) or ""


@schedule_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The deployment's name, e.g. welfare-review-vendor-c.")],
    cron: Annotated[str, typer.Option(help='When to audit, as cron, e.g. "0 6 1 * *" (06:00 on the 1st).')],
    service: Annotated[str, typer.Option(help="Service profile: shipped id or YAML path.")],
    candidate: Annotated[Path, typer.Option(help="The deployed candidate's candidate.yaml.")],
    data: Annotated[
        Path, typer.Option(help="Evaluation window file, or a folder whose last window by name is audited.")
    ],
    timezone: Annotated[str, typer.Option(help="Timezone of the cron times (IANA name).")] = DEFAULT_TIMEZONE,
    policy: Annotated[str, typer.Option(help="Policy pack: shipped id or YAML path.")] = DEFAULT_POLICY,
    ledger: Annotated[Path, typer.Option(help="Ledger folder.")] = Path("assay-ledger"),
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 0,
    answers: Annotated[Path | None, typer.Option(help="Checklist answers (YAML).")] = None,
    reference: Annotated[
        Path | None, typer.Option(help="The previous window for drift (default: found by its hash).")
    ] = None,
    notify: Annotated[
        str | None,
        typer.Option(
            help="Prefect notification block for regression alerts, e.g. custom-webhook/assay-alerts."
        ),
    ] = None,
    trust_pickle: Annotated[bool, typer.Option(help="Let a pickle/joblib candidate run its code.")] = False,
    paused: Annotated[bool, typer.Option(help="Create the schedule paused.")] = False,
) -> None:
    """Create (or replace) a scheduled monitor audit on the Prefect server."""
    import zoneinfo

    from prefect.client.schemas.schedules import CronSchedule
    from prefect.deployments.runner import EntrypointType

    from assay.flows.monitor import MonitorSpec, check_inputs, monitor

    if timezone not in zoneinfo.available_timezones():
        raise AssayInputError(f"--timezone {timezone}: not an IANA timezone name (e.g. Asia/Seoul)")
    try:
        schedule = CronSchedule(cron=cron, timezone=timezone)
    except ValueError as exc:
        raise AssayInputError(f"--cron {cron!r}: not a valid cron expression") from exc
    spec = MonitorSpec(
        service=service if not Path(service).is_file() else str(Path(service).resolve()),
        candidate=candidate.resolve(),
        data=data.resolve(),
        policy=policy if not Path(policy).is_file() else str(Path(policy).resolve()),
        ledger=ledger.resolve(),
        seed=seed,
        answers=answers.resolve() if answers else None,
        reference=reference.resolve() if reference else None,
        notify=notify,
        trust_pickle=trust_pickle,
    )
    _api_url()
    check_inputs(spec, deep=True)
    deployment = monitor.to_deployment(
        name=name,
        schedule=schedule,
        paused=paused,
        parameters={"spec": spec.model_dump(mode="json")},
        description=f"Recurring audit of {candidate} for {service} under {policy}",
        tags=["assay", "monitor"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )

    def upsert(client: Any) -> tuple[bool, Any]:
        existed = any(d.name == name for d in monitor_deployments(client))
        return existed, deployment.apply()

    existed, deployment_id = _client_call(upsert)
    verb = "replaced" if existed else "created"
    err.print(
        f"{verb} {FLOW_NAME}/{escape(name)} ({deployment_id}): {escape(cron)} {timezone}"
        f"{' (paused)' if paused else ''}. Run the audits with `assay schedule serve`."
    )


@schedule_app.command("list")
def list_schedules(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")] = False,
) -> None:
    """List the scheduled monitor audits on the Prefect server, with their next run."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    def gather(client: Any) -> list[dict[str, Any]]:
        rows = []
        for d in monitor_deployments(client):
            upcoming = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=1,
            )
            cron, tz = _schedule_of(d)
            spec = (d.parameters or {}).get("spec", {})
            rows.append(
                {
                    "name": d.name,
                    "id": str(d.id),
                    "cron": cron,
                    "timezone": tz,
                    "paused": bool(d.paused),
                    "next_run": upcoming[0].expected_start_time.isoformat() if upcoming else None,
                    "service": spec.get("service"),
                    "candidate": spec.get("candidate"),
                    "data": spec.get("data"),
                    "ledger": spec.get("ledger"),
                    "notify": spec.get("notify"),
                }
            )
        return rows

    rows = _client_call(gather)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"Scheduled audits ({_api_url()})")
    for col in ("name", "schedule", "next run", "candidate", "data", "alerts"):
        table.add_column(col, overflow="fold")
    for r in rows:
        when = f"{r['cron']} {r['timezone']}" + (" [yellow](paused)[/]" if r["paused"] else "")
        table.add_row(
            escape(r["name"]),
            when,
            r["next_run"] or "—",
            escape(str(r["candidate"])),
            escape(str(r["data"])),
            escape(r["notify"] or "—"),
        )
    Console().print(table)


@schedule_app.command("delete")
def delete(name: Annotated[str, typer.Argument(help="The scheduled audit's name.")]) -> None:
    """Delete a scheduled monitor audit (its past runs and the ledger stay)."""

    def remove(client: Any) -> None:
        for d in monitor_deployments(client, [name]):
            client.delete_deployment(d.id)

    _client_call(remove)
    err.print(f"deleted {FLOW_NAME}/{escape(name)}")


@schedule_app.command("serve")
def serve_schedules(
    names: Annotated[
        list[str] | None, typer.Argument(help="Serve only these scheduled audits (default: all).")
    ] = None,
) -> None:
    """Run the scheduled audits as they fall due, and any run triggered by hand, until stopped."""
    from prefect import serve
    from prefect.deployments.runner import EntrypointType

    from assay.flows.monitor import monitor

    found = _client_call(lambda c: monitor_deployments(c, names or None))
    if not found:
        raise AssayInputError("no scheduled audits on the server (create one with `assay schedule create`)")
    # Serving re-applies each deployment, so it is rebuilt exactly as the server holds it.
    deployments = [
        monitor.to_deployment(
            name=d.name,
            schedules=[s.schedule for s in d.schedules],
            paused=d.paused,
            parameters=d.parameters,
            description=d.description,
            tags=d.tags,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for d in found
    ]
    err.print(f"serving {', '.join(escape(d.name) for d in found)}; stop with Ctrl-C")
    serve(*deployments, pause_on_shutdown=False, print_starting_message=False)
