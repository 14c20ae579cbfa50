"""Prefect's temporary server ends with `assay`, however `assay` ends (SIGTERM, SIGKILL, Ctrl-C)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from black_box import ASSAY, assay_env, write_black_box

from assay.flows.ephemeral import SERVER_MARK

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform != "linux", reason="the watchdog finds servers through /proc"),
]


def _servers_of(parent: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in parent.children(recursive=True):
        try:
            if any(SERVER_MARK in part for part in child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {seconds:.0f} s waiting for {what}"
        time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_the_server_does_not_outlive_a_killed_assay(
    tmp_path: Path, session_env: dict[str, str], sig: signal.Signals
) -> None:
    args = write_black_box(tmp_path)
    proc = subprocess.Popen(
        [ASSAY, *args],
        env=assay_env(session_env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers: list[psutil.Process] = []
    try:
        main = psutil.Process(proc.pid)

        def started() -> bool:
            servers[:] = _servers_of(main)
            return bool(servers)

        _wait(started, 180, "the temporary server to start")
        time.sleep(1)  # let it get going: a server half up must end as well
        proc.send_signal(sig)
        proc.wait(timeout=60)
        # A generous deadline: the server is stopped gently first (up to 10 s), then killed.
        _wait(lambda: not any(_alive(s) for s in servers), 60, "the server to end")
    finally:
        if proc.poll() is None:
            proc.kill()
        for server in servers:  # a failed run leaves nothing behind either
            if _alive(server):
                server.kill()
