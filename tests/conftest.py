"""Shared fixtures: an isolated Prefect home and scenario cache, and the generated scenario."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


# Session fixtures that take a minute or more: the tests that use one run on the same pytest-xdist
# worker, so that it is set up once per run rather than once per worker.
SHARED_ONCE = ("demo_ledger",)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests that share an expensive fixture for `--dist loadgroup` (see Makefile).

    A module's tests stay together when one of them uses a module-scoped fixture, and join the
    tests that use one of SHARED_ONCE when one of them does: each such fixture is then set up on
    one worker only, and a group runs in file order (test_personal_data's scan of the worker's
    Prefect artifacts follows the audits test_demo and test_packs_golden run with the demo).
    Every other test is scheduled on its own.
    """
    modules: dict[str, set[str]] = {}  # module → what its tests must run with
    for item in items:
        info = getattr(item, "_fixtureinfo", None)  # pytest's record of the fixtures a test uses
        scopes = {defs[-1].scope for defs in info.name2fixturedefs.values()} if info else set()
        module = modules.setdefault(item.nodeid.split("::")[0], set())
        module.update(name for name in SHARED_ONCE if name in item.fixturenames)
        if "module" in scopes:
            module.add("")  # "": with the module's other tests
    parent: dict[str, str] = {}  # modules joined through a shared fixture (a union-find forest)

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    for path, needs in modules.items():
        for name in needs - {""}:
            parent[root(path)] = root(name)
    for item in items:
        path = item.nodeid.split("::")[0]
        if modules[path]:
            item.add_marker(pytest.mark.xdist_group(root(path)))


def pytest_configure(config: pytest.Config) -> None:
    """Set the environment pytest-xdist's workers start with; refuse xdist that cannot group."""
    workers = config.getoption("numprocesses", None) or 0  # an int once xdist has read `-n`
    if workers:
        # OpenMP and OpenBLAS threads spin while they wait for each other: with a pool of every core
        # in each worker, a thread waits for a partner that the other worker keeps off its core, and
        # scikit-learn's boosting takes minutes instead of seconds (the scenario's vendors: 6 s
        # alone, 184 s beside one busy process). Each worker gets its share of the cores; the CLI
        # and its loky and Dask workers inherit it. An OMP_NUM_THREADS already set is kept.
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, threads)
        # pytest imports readline (capture's _readline_workaround), and GNU readline puts COLUMNS=80
        # and LINES=24 in this process's C environment: os.environ does not show them, but the
        # workers inherit them, and the CLI's rich consoles, made when a test module imports them,
        # would keep 80 columns (assay_cli's COLUMNS=200 comes later). Unset those the user did not.
        for name in ("COLUMNS", "LINES"):
            if name not in os.environ:
                os.unsetenv(name)
    if config.getoption("dist", "no") != "loadgroup" or pytest.version_tuple < (9, 2):
        return
    from importlib.metadata import version

    # xdist 3.8 passes a test's group as a suffix of its node id, which pytest 9.2's structured node
    # ids silently drop (pytest-dev/pytest-xdist#1386): every test would be scheduled on its own,
    # and the demo and the module fixtures set up on both workers. pyproject.toml pins pytest<9.2.
    if tuple(int(p) for p in version("pytest-xdist").split(".")[:2]) <= (3, 8):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} and pytest-xdist {version('pytest-xdist')} do not group "
            "tests under --dist loadgroup (pytest-dev/pytest-xdist#1386): "
            "install pytest<9.2, as pyproject.toml asks"
        )


@pytest.fixture(scope="session", autouse=True)
def session_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Point Prefect and the scenario cache at session folders, quiet and offline.

    Autouse, so that every test of a session (each xdist worker is one, with its own temporary
    folder) uses them, whichever test a worker happens to run first.
    """
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
    # Prefect reads its settings once, when imported (test modules import it at collection): read
    # them again, or flows run in this process keep ~/.prefect (shared by every run and worker) for
    # their persisted results and the 20 s default start-up timeout of their temporary server.
    import prefect.context

    prefect.context.refresh_global_settings_context()
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
