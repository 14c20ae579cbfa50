"""Helpers for driving the real `assay` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ASSAY = str(Path(sys.executable).parent / "assay")


@pytest.fixture(scope="session")
def run_assay(session_env: dict[str, str]):
    """Return a function that runs `assay ARGS` and returns the completed process."""

    def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ASSAY, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **session_env},
            stdin=subprocess.DEVNULL,
        )

    return run


@pytest.fixture(scope="session")
def demo_ledger(run_assay, scenario, tmp_path_factory) -> Path:
    """Run `assay demo` once into a fresh ledger and return the ledger folder."""
    ledger = tmp_path_factory.mktemp("demo") / "ledger"
    proc = run_assay("demo", "--ledger", str(ledger))
    assert proc.returncode == 0, proc.stderr
    return ledger
