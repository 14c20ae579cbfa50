"""Usage errors of `assay` (no command, an unknown command or option, a missing option) end in exit 2
with one `error:` line naming what was wrong; `--version` and `-h` answer; a real bug stays exit 4.

Most cases run in this process through `assay.flows.cli.main`; the first four also as the installed
command, since the bundled click of typer is what the real process raises.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

CASES = {
    "alone": ((), "'assay' needs a command or arguments (see 'assay -h')"),
    "unknown command": (("frobnicate",), "No such command 'frobnicate'"),
    "unknown option": (("audit", "--frobnicate"), "No such option: --frobnicate"),
    "missing option": (("audit",), "Missing option '--service'"),
}


def _one_error_line(err: str, expect: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert expect in lines[0], err
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("name", CASES)
def test_usage_errors_in_process(assay_cli, name: str) -> None:
    args, expect = CASES[name]
    code, _, err = assay_cli(*args)
    assert code == 2, err
    _one_error_line(err, expect)


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("schedule",), "'assay schedule' needs a command or arguments"),
        (("policy", "frobnicate"), "No such command 'frobnicate'"),
        (("audit", "--service"), "Option '--service' requires an argument"),
        (("audit", "--service", "s", "--candidate", "c", "--data", "d", "--seed", "x"), "'--seed'"),
        (("report",), "Missing argument 'audit_id'"),
    ],
)
def test_more_usage_errors_in_process(assay_cli, args: tuple[str, ...], expect: str) -> None:
    code, _, err = assay_cli(*args)
    assert code == 2, err
    _one_error_line(err, expect)


def test_alone_prints_the_help(assay_cli) -> None:
    code, out, _ = assay_cli()
    assert code == 2
    assert "Usage: assay" in out and "audit" in out


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help(assay_cli, flag: str) -> None:
    code, out, err = assay_cli(flag)
    assert code == 0, err
    assert "Usage: assay" in out and "--version" in out
    code, out, err = assay_cli("audit", flag)
    assert code == 0, err
    assert "Usage: assay audit" in out and "--candidate" in out


def test_version(assay_cli) -> None:
    from importlib.metadata import version

    code, out, err = assay_cli("--version")
    assert code == 0, err
    assert out == f"assay {version('assay')}\n"


def test_a_real_bug_is_still_an_internal_error(assay_cli, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import assay.ledger.store as store

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store.Ledger, "entries", broken)
    code, _, err = assay_cli("history", "--ledger", str(tmp_path))
    assert code == 4, err
    assert "internal error: RuntimeError: disk on fire" in err


@pytest.mark.parametrize("name", CASES)
def test_usage_errors_of_the_real_command(run_assay, name: str) -> None:
    args, expect = CASES[name]
    proc = run_assay(*args, timeout=120)
    assert proc.returncode == 2, proc.stderr
    _one_error_line(proc.stderr, expect)
