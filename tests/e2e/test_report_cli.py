"""`assay report`: a sealed audit's report re-rendered from its record, as HTML in either language
or as an A4 PDF that carries Hangul, the record's numbers and the manifest hash on every page."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from assay.data.loaders import load_policy

pytestmark = pytest.mark.e2e

AUDIT = "welfare-review.vendor-a.v1"


def _squash(text: str) -> str:
    """Drop all whitespace: table cells wrap titles across lines in the PDF's text."""
    return re.sub(r"\s+", "", text)


def _entry(ledger: Path, audit_id: str) -> Path:
    for folder in sorted((ledger / "entries").iterdir()):
        if json.loads((folder / "manifest.json").read_text())["audit_id"] == audit_id:
            return folder
    raise AssertionError(f"{audit_id} not in {ledger}")


def test_html_in_both_languages_is_the_sealed_report_byte_for_byte(run_assay, demo_ledger, tmp_path) -> None:
    entry = _entry(demo_ledger, AUDIT)
    for lang, sealed in (("ko", "report.html"), ("en", "report.en.html")):
        out = tmp_path / f"r.{lang}.html"
        proc = run_assay("report", AUDIT, "--ledger", str(demo_ledger), "--lang", lang, "--output", str(out))
        assert proc.returncode == 0, proc.stderr
        assert out.read_bytes() == (entry / sealed).read_bytes()
        assert f'<html lang="{lang}">' in out.read_text()


def test_the_korean_pdf_carries_the_clause_titles_the_numbers_and_the_manifest_hash(
    run_assay, demo_ledger, tmp_path
) -> None:
    out = tmp_path / "report.pdf"
    proc = run_assay("report", AUDIT, "--ledger", str(demo_ledger), "--format", "pdf", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(out), "-"], capture_output=True, text=True
    ).stdout
    flat = _squash(text)
    record = json.loads((_entry(demo_ledger, AUDIT) / "record.json").read_text())
    pack, _ = load_policy("kr-public-service")
    failed = [v for v in record["verdicts"] if v["verdict"] == "fail"]
    assert failed, "vendor-a fails gates in the demo"
    for verdict in failed:
        assert _squash(verdict["title"]["ko"]) in flat, verdict["clause_id"]
        assert verdict["title"]["en"] not in text  # one language per report
    # The numbers are the record's: its row count, and the values its reasons quote.
    assert f"{record['evaluation']['rows']:,}" in text
    quoted = re.findall(
        r"= (\d+\.\d{4})", " ".join(r for v in failed for ev in v["evidence"] for r in ev["reasons"])
    )
    assert quoted and all(q in flat for q in quoted[:5])
    assert _squash(pack.title.ko) in flat
    # Every page's footer names the sealed entry's manifest hash and the page number.
    manifest_sha = subprocess.run(
        ["sha256sum", str(_entry(demo_ledger, AUDIT) / "manifest.json")], capture_output=True, text=True
    ).stdout.split()[0]
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert manifest_sha in _squash(page), f"page {number} lacks the manifest hash"
        assert f"{number}/{len(pages)}" in _squash(page)
    assert "A4" in subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout


def test_no_report_from_a_tampered_ledger_and_one_line_errors(run_assay, demo_ledger, tmp_path) -> None:
    ledger = tmp_path / "ledger"
    shutil.copytree(demo_ledger, ledger)
    csv = _entry(ledger, AUDIT) / "metrics.csv"
    csv.write_bytes(csv.read_bytes().replace(b"0.", b"1.", 1))
    out = tmp_path / "r.html"
    proc = run_assay("report", AUDIT, "--ledger", str(ledger), "--output", str(out))
    assert proc.returncode == 3 and "metrics.csv" in proc.stderr and "no report printed" in proc.stderr
    assert not out.exists()
    for args, message in (
        (("--lang", "fr"), "--lang fr: expected ko or en"),
        (("--format", "docx"), "--format docx: expected html or pdf"),
    ):
        bad = run_assay("report", AUDIT, "--ledger", str(demo_ledger), *args, "--output", str(out))
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
    unknown = run_assay("report", "nope.v1", "--ledger", str(demo_ledger))
    assert unknown.returncode == 2 and "no audit 'nope.v1'" in unknown.stderr
    assert not out.exists()
