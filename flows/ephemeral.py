"""Prefect's temporary local server, tied to the `assay` process so that it never outlives it.

Without PREFECT_API_URL, Prefect starts a server in a subprocess and stops it at exit (atexit), which
a SIGTERM or SIGKILL of `assay` skips: the server would stay behind. A watchdog process, started
before the server, waits for `assay` to end however it ends and then stops the servers it started.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

# Marks the servers this process starts: their environment is inherited from ours.
OWNER_VARIABLE = "ASSAY_TEMPORARY_SERVER_OWNER"
# What names the server's process on its command line (prefect/server/api/server.py).
SERVER_MARK = "prefect.server.api.server:create_app"

# Reads its stdin to the end, which comes when `assay` exits however it exits (the kernel closes
# the pipe's other end), then stops every server process carrying the owner's mark (Linux /proc).
WATCHDOG = """
import os, signal, sys, time
mark, owner = sys.argv[1].encode(), sys.argv[2].encode()
sys.stdin.buffer.read()
def servers():
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if mark not in f.read():
                    continue
            with open(f"/proc/{name}/environ", "rb") as f:
                if owner in f.read().split(b"\\0"):
                    found.append(int(name))
        except OSError:
            continue
    return found
def signal_all(sig):
    for pid in servers():
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
signal_all(signal.SIGTERM)
deadline = time.monotonic() + 10
while servers() and time.monotonic() < deadline:
    time.sleep(0.1)
signal_all(signal.SIGKILL)
"""

_watchdog: subprocess.Popen[bytes] | None = None


def tie_temporary_server() -> None:
    """Start Prefect's temporary server now, if Prefect would use one, so that it ends with `assay`."""
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:  # a real server: not ours to stop
        return
    if sys.platform == "linux":
        _start_watchdog()
    from prefect.server.api.server import SubprocessASGIServer

    # A singleton: the flows that follow use this server rather than start their own.
    SubprocessASGIServer().start()


def _start_watchdog() -> None:
    global _watchdog
    if _watchdog is not None:
        return
    owner = f"{OWNER_VARIABLE}={os.getpid()}-{secrets.token_hex(8)}"
    _watchdog = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, SERVER_MARK, owner],
        # Its stdin pipe stays open for the life of this process; nothing is ever written to it.
        stdin=subprocess.PIPE,
        # Its own session: a Ctrl-C at the terminal must not end it before the server.
        start_new_session=True,
    )
    # Set after the watchdog starts; every server started from now on inherits it.
    name, _, value = owner.partition("=")
    os.environ[name] = value
