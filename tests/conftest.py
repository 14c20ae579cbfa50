"""Shared fixtures: an isolated Prefect home and scenario cache, and the generated scenario."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Point Prefect and the scenario cache at session folders, quiet and offline."""
    base = tmp_path_factory.mktemp("env")
    env = {
        "PREFECT_HOME": str(base / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
        "GX_ANALYTICS_ENABLED": "false",
        # As the CLI sets it: the in-process flows' temporary server may start slowly on a busy
        # 2-core machine (Prefect's default is 20 s).
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "ASSAY_CACHE": str(base / "cache"),
    }
    os.environ.update(env)
    return env


@pytest.fixture(scope="session")
def scenario(session_env: dict[str, str]) -> Path:
    """Return the folder of the generated welfare-review scenario (splits and demo candidates)."""
    from assay.data.scenario import ensure_welfare_review

    return ensure_welfare_review(seed=7)


@pytest.fixture(scope="session")
def holdout(scenario: Path) -> pd.DataFrame:
    """Return the welfare-review holdout."""
    return pd.read_parquet(scenario / "holdout.parquet")


@pytest.fixture(scope="session")
def train(scenario: Path) -> pd.DataFrame:
    """Return the welfare-review training split."""
    return pd.read_parquet(scenario / "train.parquet")


@pytest.fixture(scope="session")
def profile():
    """Return the shipped welfare-review service profile."""
    from assay.data.loaders import load_profile

    return load_profile("welfare-review")[0]


@pytest.fixture()
def assay_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Return a function that runs `assay ARGS` in this process and gives its exit code, stdout, stderr.

    In-process runs cost milliseconds where a subprocess costs seconds of imports; what the CLI's
    setup puts into os.environ is taken back afterwards.
    """
    import sys

    from assay.flows.cli import main

    before = dict(os.environ)
    monkeypatch.setenv("COLUMNS", "200")  # rich's tables wrap at the terminal's width

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["assay", *args])
        with pytest.raises(SystemExit) as exc:
            main()
        out = capsys.readouterr()
        return int(exc.value.code or 0), out.out, out.err

    yield run
    os.environ.clear()
    os.environ.update(before)
