"""Recurring audits end to end, on a real Prefect server: `assay schedule create`, `serve`, runs
triggered through the REST API, a drifted window that fails with the regression sealed and the
alert sent to a webhook, and a monitor run killed with SIGKILL that resumes from its persisted
results.

The test starts its own `prefect server start` on a free loopback port and stops only the
process groups it started.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from loopback import serving
from prefect.client.orchestration import SyncPrefectClient
from quick_pack import QUICK_PACK

from assay.checks.registry import all_checks
from assay.data import welfare_review

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
ROWS = 20_000
SEED = 7
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _free_port() -> int:
    """Return a free loopback port from below the kernel's ephemeral range.

    The server binds it seconds after this returns. A port from binding port 0 is in the ephemeral
    range, which the kernel may meanwhile give to any outgoing connection (this process's or, with
    pytest-xdist, another worker's); below it, only an explicit bind takes a port. Prefect's
    temporary servers take 8000-8999: start above them.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError:
        low = 32768  # not Linux: IANA's range starts at 49152
    for port in random.SystemRandom().sample(range(10_000, low), 100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in 10000-{low - 1}")


def _stop(proc: subprocess.Popen[Any]) -> None:
    """Stop a process group this test started (and only that one)."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class Server:
    """A running Prefect server and the environment that points the CLI at it."""

    api: str
    env: dict[str, str]
    home: Path


@pytest.fixture(scope="module")
def server(session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start `prefect server start` on a free loopback port; wait until it is healthy."""
    base = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    server_env = {**os.environ, **session_env, "PREFECT_HOME": str(base / "server-home")}
    server_env.pop("PREFECT_API_URL", None)
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Prefect server did not start: {(base / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        client_env = {
            **os.environ,
            **session_env,
            "PREFECT_API_URL": api,
            # The client's own home holds the persisted task results, apart from the server's.
            "PREFECT_HOME": str(base / "client-home"),
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
        }
        yield Server(api, client_env, base / "client-home")
    finally:
        _stop(proc)
        log.close()


def _assay(server: Server, *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "assay"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=server.env,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Webhook:
    """What the alert webhook received."""

    url: str
    bodies: list[dict[str, Any]]


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    """A loopback HTTP server standing in for the agency's chat webhook."""
    bodies: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                bodies.append(json.loads(raw))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with serving(Handler, poll_interval=0.05) as base:
        yield Webhook(f"{base}/hook", bodies)


def _window(folder: Path, name: str, window: int, drift: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    welfare_review.generate(ROWS, SEED, "window", window=window, drift=drift).to_parquet(path)
    return path


def _trigger_and_wait(api: str, deployment_id: str, timeout: float = 600) -> dict[str, Any]:
    """Create a flow run of the deployment through the REST API and wait for its final state."""
    # Through Prefect's own client, as `prefect deployment run` does: the server answers 503 (retry)
    # when its SQLite database is locked for a moment by the runner's and its own services' writes,
    # which a busy machine makes likelier, and the client tries again as the server asks.
    with SyncPrefectClient(api) as client:
        run_id = str(client.create_flow_run_from_deployment(UUID(deployment_id)).id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{api}/flow_runs/{run_id}", timeout=30).json()
        if body["state"]["type"] in FINAL:
            return body
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} did not finish within {timeout} s: {body['state']}")


def _artifacts(api: str, key: str) -> list[dict[str, Any]]:
    response = httpx.post(
        f"{api}/artifacts/filter",
        json={"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()[::-1]  # oldest first


def _record(ledger: Path, seq: int) -> dict[str, Any]:
    return json.loads((ledger / "entries" / f"{seq:06d}" / "record.json").read_text())


def test_scheduled_monitor_runs_and_fails_on_a_drifted_window(
    server: Server, webhook: Webhook, scenario: Path, tmp_path: Path
) -> None:
    """Create, list and serve a schedule; three runs: baseline, stable, and a regression alert."""
    pack = tmp_path / "quick.yaml"
    pack.write_text(QUICK_PACK)
    windows, ledger = tmp_path / "windows", tmp_path / "ledger"
    _window(windows, "2026-01.parquet", 1, 0.0)
    candidate = scenario / "candidates" / "vendor-c" / "candidate.yaml"
    block = subprocess.run(
        [str(BIN / "python"), "-c",
         "import sys\n"
         "from prefect.blocks.notifications import CustomWebhookNotificationBlock as B\n"
         "B(name='assay', url=sys.argv[1], json_data={'subject': '{{subject}}', 'text': '{{body}}'},"
         " allow_private_urls=True).save('assay-alerts')",
         webhook.url],
        env=server.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert block.returncode == 0, block.stderr

    created = _assay(
        server, "schedule", "create", "vendor-c-nightly", "--cron", "0 3 * * *",
        "--service", "welfare-review", "--candidate", str(candidate), "--data", str(windows),
        "--policy", str(pack), "--ledger", str(ledger), "--seed", str(SEED),
        "--notify", "custom-webhook/assay-alerts",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created assay-monitor/vendor-c-nightly" in created.stderr
    listed = _assay(server, "schedule", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["cron"], row["timezone"], row["paused"]) == (
        "vendor-c-nightly", "0 3 * * *", "Asia/Seoul", False,
    )  # fmt: skip
    assert row["data"] == str(windows.resolve()) and row["notify"] == "custom-webhook/assay-alerts"
    # A schedule naming a block that does not exist is refused before it reaches the server.
    wrong = _assay(
        server, "schedule", "create", "typo", "--cron", "0 3 * * *", "--service", "welfare-review",
        "--candidate", str(candidate), "--data", str(windows), "--notify", "custom-webhook/nope",
    )  # fmt: skip
    assert wrong.returncode == 2 and "--notify custom-webhook/nope" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr

    serve_log = (tmp_path / "serve.log").open("wb")
    serving_proc = subprocess.Popen(
        [str(BIN / "assay"), "schedule", "serve"],
        env=server.env, stdout=serve_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        first = _trigger_and_wait(server.api, row["id"])
        assert first["state"]["type"] == "COMPLETED", first["state"]
        baseline = _record(ledger, 1)
        assert baseline["audit_id"] == "welfare-review.vendor-c.v1"
        assert baseline["monitoring"]["status"] == "baseline"
        assert baseline["evaluation"]["file"] == "2026-01.parquet"

        _window(windows, "2026-02.parquet", 2, 0.0)
        second = _trigger_and_wait(server.api, row["id"])
        assert second["state"]["type"] == "COMPLETED", second["state"]
        stable = _record(ledger, 2)["monitoring"]
        assert (stable["status"], stable["previous_audit_id"]) == ("stable", "welfare-review.vendor-c.v1")
        assert stable["reference"] == "2026-01.parquet" and stable["reference_status"] == "found"
        assert not any(d["drifted"] for d in stable["drift"])
        assert not any(c["regression"] for c in stable["changes"])
        assert webhook.bodies == []

        _window(windows, "2026-03.parquet", 3, 1.0)
        third = _trigger_and_wait(server.api, row["id"])
    finally:
        _stop(serving_proc)
        serve_log.close()

    assert third["state"]["type"] == "FAILED", third["state"]
    assert "regressed since welfare-review.vendor-c.v2" in third["state"]["message"]
    drifted = _record(ledger, 3)
    report = drifted["monitoring"]
    assert drifted["audit_id"] == "welfare-review.vendor-c.v3" and report["status"] == "regression"
    # The record names the flow run that made it, and its page on the server.
    assert drifted["prefect"]["flow_run_id"] == third["id"]
    ui_url = drifted["prefect"]["ui_url"]
    assert ui_url.startswith(server.api.removesuffix("/api")) and ui_url.endswith(f"/flow-run/{third['id']}")
    regressed = {(c["metric"], c["attribute"]) for c in report["changes"] if c["regression"]}
    # The drift lands on older applicants' mail applications: the model misses them there.
    assert ("equalized_odds_difference", "age_band") in regressed, regressed
    assert ("balanced_accuracy", None) in regressed, regressed
    assert "application_channel" in {d["feature"] for d in report["drift"] if d["drifted"]}
    monitor_md = (ledger / "entries" / "000003" / "monitor.md").read_text()
    assert "# welfare-review.vendor-c.v3: regression" in monitor_md
    assert "| fairness.group_metrics | equalized_odds_difference | age_band |" in monitor_md

    [alert] = webhook.bodies
    assert alert["subject"] == "Assay regression: welfare-review.vendor-c.v3"
    assert "equalized_odds_difference (age_band)" in alert["text"]

    # Every run published its artifacts under the subject's keys, so the UI shows their history.
    monitors = _artifacts(server.api, "welfare-review-vendor-c-monitor")
    assert [a["description"].split(": ")[1] for a in monitors] == ["baseline", "stable", "regression"]
    assert "equalized_odds_difference" in monitors[-1]["data"]
    verdicts = _artifacts(server.api, "welfare-review-vendor-c-verdicts")
    assert len(verdicts) == 3 and {r["clause"] for r in json.loads(verdicts[-1]["data"])} >= {"KR-TTA-07"}
    reports = _artifacts(server.api, "welfare-review-vendor-c-report")
    assert (ledger / "entries" / "000003" / "report.html").resolve().as_uri() in reports[-1]["data"]

    assert _assay(server, "verify", "--ledger", str(ledger)).returncode == 0
    history = json.loads(_assay(server, "history", "--json", "--ledger", str(ledger)).stdout)
    assert [h["monitoring"] for h in history] == ["baseline", "stable", "regression"]
    deleted = _assay(server, "schedule", "delete", "vendor-c-nightly")
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(_assay(server, "schedule", "list", "--json").stdout) == []
    again = _assay(server, "schedule", "delete", "vendor-c-nightly")
    assert again.returncode == 2 and "no scheduled audit named 'vendor-c-nightly'" in again.stderr


def _parses(path: Path) -> bool:
    """Say whether a persisted result file is whole (Prefect writes them as JSON)."""
    try:
        json.loads(path.read_bytes())
    except ValueError:
        return False
    return True


def test_killed_monitor_run_resumes_from_its_persisted_results(
    server: Server, scenario: Path, tmp_path: Path
) -> None:
    """SIGKILL a monitor run midway; the rerun reads back every finished check and seals once."""
    windows, ledger = tmp_path / "windows", tmp_path / "ledger"
    _window(windows, "2026-01.parquet", 1, 0.0)
    storage = server.home / "storage"
    before = set(storage.glob("assay-*")) if storage.is_dir() else set()
    args = [
        "monitor", "--service", "welfare-review",
        "--candidate", str(scenario / "candidates" / "vendor-c" / "candidate.yaml"),
        "--data", str(windows), "--ledger", str(ledger), "--seed", str(SEED),
    ]  # fmt: skip
    proc = subprocess.Popen(
        [str(BIN / "assay"), *args],
        env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    persisted: set[Path] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        persisted = set(storage.glob("assay-*")) - before if storage.is_dir() else set()
        if len(persisted) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    persisted = set(storage.glob("assay-*")) - before
    # Killed midway: some checks finished and were persisted, the audit was not sealed.
    assert proc.returncode == -signal.SIGKILL
    assert 3 <= len(persisted) < 12, sorted(p.name for p in persisted)
    # The kill may land while a result file is being written: a half-written one is not read back.
    whole = [p for p in persisted if _parses(p)]
    assert len(whole) >= len(persisted) - 1
    assert not (ledger / "entries").exists() or not any((ledger / "entries").iterdir())

    out = tmp_path / "resumed.json"
    resumed = _assay(server, *args, "--output", str(out))
    assert resumed.returncode in (0, 1), resumed.stderr
    summary = json.loads(out.read_text())
    assert summary["reused_results"] == len(whole)
    assert summary["sealed_now"] and summary["audit"]["audit_id"] == "welfare-review.vendor-c.v1"
    record = _record(ledger, 1)
    assert len(record["results"]) == len(all_checks())
    assert all(r["status"] != "error" for r in record["results"])
    assert len(list((ledger / "entries").iterdir())) == 1
    assert _assay(server, "verify", "--ledger", str(ledger)).returncode == 0
    shutil.rmtree(windows)
