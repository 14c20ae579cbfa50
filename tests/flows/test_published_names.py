"""A real audit whose groups are named like spreadsheet formulas and whose vendor is named like
HTML: metrics.csv shows them as text, and the numbers stay numbers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from black_box import REGIONS, assay_env, run_assay, write_black_box

pytestmark = pytest.mark.e2e


def test_an_audit_writes_formula_like_groups_as_text(tmp_path: Path, session_env: dict[str, str]) -> None:
    proc = run_assay(write_black_box(tmp_path), assay_env(session_env))
    assert proc.returncode in (0, 1), proc.stderr
    entry = Path(json.loads(proc.stdout)["entry"])
    table = list(csv.DictReader(io.StringIO((entry / "metrics.csv").read_text(encoding="utf-8"), newline="")))
    groups = {r["group"] for r in table if r["attribute"] == "region" and r["group"]}
    assert groups == {"'" + REGIONS[0], "'" + REGIONS[1], REGIONS[2]}
    # No text cell of the file starts a formula; a negative number is still written as a number.
    for row in table:
        for column in ("check_id", "metric", "attribute", "group", "feature"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), row
    negative = [r["value"] for r in table if r["value"].startswith("-")]
    assert negative and all(float(v) < 0 for v in negative)
