"""The import table of ARCHITECTURE.md ("Layout and who may import whom"), checked on the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Which of Assay's packages each package may import (itself included); flows/ may import them all.
MAY_IMPORT = {
    "checks": {"checks"},
    "models": {"checks", "models"},
    "data": {"checks", "data"},
    "ledger": {"checks", "ledger"},
    "dashboards": {"checks", "ledger", "dashboards"},
    "policies": {"policies"},
}
# Pure computation stays off the network and away from orchestration and rendering.
NEVER = {"checks": {"prefect", "jinja2", "httpx", "httpcore", "requests", "socket", "urllib"}}
# The exceptions ARCHITECTURE.md lists, to be removed (issue 22); a new one fails this test, and
# one that no longer occurs must be taken off this list and off ARCHITECTURE.md.
KNOWN = {
    ("models/candidate.py", "assay.data.loaders"),
    ("data/scenario.py", "assay.policies"),
}


def _imports(path: Path) -> set[str]:
    """Return the absolute module names a source file imports, anywhere in it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _breaches() -> set[tuple[str, str]]:
    """Return every (file, module) import the table does not allow."""
    found = set()
    for package, allowed in MAY_IMPORT.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in _imports(path):
                top, _, rest = name.partition(".")
                inside = top == "assay" and rest and rest.split(".")[0] not in allowed
                if inside or top in NEVER.get(package, ()):
                    found.add((str(path.relative_to(ROOT)), name))
    return found


def test_every_package_imports_only_what_the_architecture_allows() -> None:
    breaches = _breaches()
    assert breaches - KNOWN == set(), "imports the table in ARCHITECTURE.md does not allow"
    assert KNOWN - breaches == set(), "exceptions gone: take them off KNOWN and ARCHITECTURE.md"


def test_the_scan_sees_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check itself must be able to fail: a checks/ module importing prefect is caught.
    fake = tmp_path / "checks"
    fake.mkdir()
    (fake / "bad.py").write_text("import prefect\nfrom assay.flows.audit import run_key\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "MAY_IMPORT", {"checks": {"checks"}})
    assert _breaches() == {("checks/bad.py", "prefect"), ("checks/bad.py", "assay.flows.audit")}
