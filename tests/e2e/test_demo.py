"""`assay demo` end to end: recommendations, verification, tamper evidence, re-rendering."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from assay.dashboards.comparison import render_comparison
from assay.dashboards.report import render_report
from assay.ledger.comparison import ComparisonRecord
from assay.ledger.record import AuditRecord
from assay.ledger.signing import generate_keypair

pytestmark = pytest.mark.e2e


def _history(run_assay, ledger: Path) -> dict[str, dict]:
    proc = run_assay("history", "--ledger", str(ledger), "--json")
    assert proc.returncode == 0, proc.stderr
    return {row["candidate"]: row for row in json.loads(proc.stdout) if row["kind"] == "audit"}


def test_demo_recommends_only_the_fair_vendor(run_assay, demo_ledger) -> None:
    rows = _history(run_assay, demo_ledger)
    assert set(rows) == {"vendor-a", "vendor-b", "vendor-c"}
    for row in rows.values():
        for key in ("audit_id", "service", "vendor", "version", "created_at", "manifest_sha256"):
            assert row[key]
    assert rows["vendor-a"]["recommendation"] == "not_eligible"
    assert rows["vendor-b"]["recommendation"] == "not_eligible"
    # Its only condition is the evaluation data's shortfall of foreign residents (advisory).
    assert rows["vendor-c"]["recommendation"] == "eligible_with_conditions"
    assert rows["vendor-c"]["failing_clauses"] == ["KR-TTA-07"]
    assert "KR-AGENCY-PARITY" in rows["vendor-a"]["failing_clauses"]
    assert "KR-AGENCY-PARITY" in rows["vendor-b"]["failing_clauses"]


def _failed_metrics(run_assay, ledger: Path, audit_id: str) -> set[str]:
    proc = run_assay("show", audit_id, "--ledger", str(ledger), "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    return {ev["metric"] for v in record["verdicts"] for ev in v["evidence"] if ev["verdict"] == "fail"}


def test_failing_clauses_name_the_reasons(run_assay, demo_ledger) -> None:
    rows = _history(run_assay, demo_ledger)
    a = _failed_metrics(run_assay, demo_ledger, rows["vendor-a"]["audit_id"])
    b = _failed_metrics(run_assay, demo_ledger, rows["vendor-b"]["audit_id"])
    # vendor-a reads nationality: its decisions flip with it and it drives the scores.
    assert {"sensitive_share", "selection_rate_ratio", "four_fifths_ratio", "flip_rate"} <= a
    # vendor-b does not, but its inputs are proxies of nationality and the gap remains.
    # Its reliance on those proxies is measured by the explanation and tied to them.
    assert {"selection_rate_ratio", "proxy_auc", "proxy_share"} <= b
    assert not {"sensitive_share", "flip_rate"} & b


def test_show_json_has_long_format_metric_rows(run_assay, demo_ledger) -> None:
    audit_id = _history(run_assay, demo_ledger)["vendor-b"]["audit_id"]
    record = json.loads(run_assay("show", audit_id, "--ledger", str(demo_ledger), "--json").stdout)
    rows = [row for res in record["results"] for row in res["metrics"]]
    keys = {"check_id", "metric", "attribute", "group", "value", "ci_low", "ci_high", "n"}
    assert all(keys <= set(row) for row in rows)
    fpr = [r for r in rows if r["metric"] == "fpr" and r["attribute"] == "nationality"]
    assert {r["group"] for r in fpr} == {"korean", "naturalized", "foreign_resident"}


def test_verify_passes_then_names_any_changed_file(run_assay, demo_ledger, tmp_path) -> None:
    ok = run_assay("verify", "--ledger", str(demo_ledger))
    assert ok.returncode == 0, ok.stderr
    for name in ("record.json", "metrics.csv", "report.html", "manifest.json"):
        copy = tmp_path / name / "ledger"
        shutil.copytree(demo_ledger, copy)
        target = copy / "entries" / "000002" / name
        data = bytearray(target.read_bytes())
        data[100] ^= 0x20
        target.write_bytes(bytes(data))
        proc = run_assay("verify", "--ledger", str(copy))
        assert proc.returncode == 3, proc.stderr
        assert f"entries/000002/{name}" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_report_re_renders_byte_identical_from_the_stored_record(demo_ledger) -> None:
    for entry in sorted((demo_ledger / "entries").iterdir()):
        if (entry / "comparison.json").exists():
            comparison = ComparisonRecord.model_validate_json((entry / "comparison.json").read_text())
            assert render_comparison(comparison).encode() == (entry / "report.html").read_bytes()
            assert render_comparison(comparison, "en").encode() == (entry / "report.en.html").read_bytes()
            continue
        record = AuditRecord.model_validate_json((entry / "record.json").read_text())
        assert render_report(record).encode() == (entry / "report.html").read_bytes()
        assert render_report(record, "en").encode() == (entry / "report.en.html").read_bytes()
        assert record.recommendation.value in (entry / "report.html").read_text()


def test_the_demo_round_seals_a_ranked_comparison(run_assay, demo_ledger) -> None:
    proc = run_assay("history", "--ledger", str(demo_ledger), "--json")
    (round_row,) = [row for row in json.loads(proc.stdout) if row["kind"] == "round"]
    assert round_row["audit_id"] == "welfare-review.round-welfare-review-demo.v1"
    assert round_row["recommendation"] == "round: 1 of 3 eligible"
    shown = run_assay("show", round_row["audit_id"], "--ledger", str(demo_ledger))
    comparison = json.loads(shown.stdout)
    assert {c["candidate"]: c["recommendation"] for c in comparison["candidates"]} == {
        "vendor-a": "not_eligible", "vendor-b": "not_eligible", "vendor-c": "eligible_with_conditions",
    }  # fmt: skip
    gates = {row["clause_id"]: row["verdicts"] for row in comparison["clauses"]}
    assert gates["KR-AGENCY-PARITY"] == {"vendor-a": "fail", "vendor-b": "fail", "vendor-c": "pass"}
    eod = next(
        r for r in comparison["rankings"]
        if r["metric"] == "equalized_odds_difference" and r["attribute"] == "nationality"
    )  # fmt: skip
    assert eod["order"][0] == "vendor-c"
    pairs = {(p["better"], p["worse"]): p["probability"] for p in eod["pairwise"]}
    assert pairs[("vendor-c", "vendor-a")] >= 0.95 and pairs[("vendor-c", "vendor-b")] >= 0.95
    (entry,) = [e for e in (demo_ledger / "entries").iterdir() if (e / "comparison.json").exists()]
    sentence = "vendor-c has a smaller equalized-odds difference across nationality groups than vendor-a"
    assert sentence in (entry / "report.en.html").read_text()
    assert "vendor-c의 값이 vendor-a보다 작을 확률" in (entry / "report.html").read_text()


def test_audit_prints_json_and_exits_1_when_a_gate_fails(run_assay, scenario, tmp_path) -> None:
    ledger = tmp_path / "ledger"
    private, public = generate_keypair(tmp_path / "keys", "agency")
    proc = run_assay(
        "audit", "--service", "welfare-review",
        "--candidate", str(scenario / "candidates" / "vendor-a" / "candidate.yaml"),
        "--data", str(scenario / "holdout.parquet"), "--ledger", str(ledger), "--seed", "7",
        "--sign-key", str(private),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["audit_id"] == "welfare-review.vendor-a.v1"
    assert summary["recommendation"] == "not_eligible"
    assert "KR-AGENCY-PARITY" in summary["failing_clauses"]
    assert run_assay("verify", "--ledger", str(ledger)).returncode == 0
    # The entry was signed with the key given, and verifies with its public half.
    assert (ledger / "entries" / "000001" / "manifest.sig").is_file()
    signed = run_assay("verify", "--ledger", str(ledger), "--public-key", str(public))
    assert signed.returncode == 0, signed.stderr
    assert "every entry signed by key" in signed.stderr


def test_individual_reasons_for_an_id_asked_for_are_sealed_under_a_pseudonym(
    run_assay, scenario, holdout, tmp_path, session_env
) -> None:
    ledger = tmp_path / "ledger"
    wanted = str(holdout["case_id"].iloc[4321])
    # The checklist template, filled in: every question answered yes (or named) by one person (a
    # member of staff, whose name the scenario's synthetic applicants never carry: the personal-data
    # scan of this session's Prefect artifacts looks for theirs).
    template = run_assay("checklist", "template", "--policy", "kr-public-service", "--lang", "en")
    assert template.returncode == 0, template.stderr
    filled = yaml.safe_load(template.stdout)
    for item in filled["answers"].values():
        item.update(answer="Minji Kim, 02-0000-0000" if "name and contact" in item["question"] else "yes")
        if "claim this exemption" in item["question"]:
            item.update(answer="no")  # recipients are told; the office claims no internal-use exemption
        item.update(answered_by="Minji Kim (welfare policy team)", answered_at="2026-11-20")
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(filled, allow_unicode=True), encoding="utf-8")
    proc = run_assay(
        "audit", "--service", "welfare-review",
        "--candidate", str(scenario / "candidates" / "vendor-c" / "candidate.yaml"),
        "--data", str(scenario / "holdout.parquet"), "--ledger", str(ledger), "--seed", "7",
        "--explain-id", wanted, "--answers", str(answers),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    entry = Path(json.loads(proc.stdout)["entry"])
    record = json.loads((entry / "record.json").read_text())
    results = {r["check_id"]: r for r in record["results"]}
    examples = results["explain.individual_reasons"]["details"]["examples"]
    asked = [e for e in examples if e["requested"]]
    assert len(asked) == 1 and asked[0]["pseudonym"].startswith("p-")
    # Sentences come from the contract's feature names, in both languages.
    sentences = [r["sentence"] for e in examples for r in e["reasons"]]
    assert any("→ 위험 점수" in s["ko"] for s in sentences)
    assert any("→ risk score" in s["en"] for s in sentences)
    report = (entry / "report.html").read_text()
    assert asked[0]["pseudonym"] in report and asked[0]["reasons"][0]["sentence"]["ko"] in report
    # The id itself is nowhere in the sealed entry; the key that maps it stays out of every entry.
    for path in entry.iterdir():
        assert wanted not in path.read_text(errors="replace"), path.name
    assert (ledger / "private" / "pseudonym.key").stat().st_mode & 0o077 == 0
    # Nor in what Prefect keeps of the run: the flow's parameters hold it masked.
    db = Path(session_env["PREFECT_HOME"]) / "prefect.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        parameters = [str(p) for (p,) in conn.execute("SELECT parameters FROM flow_run")]
    assert any("**********" in p for p in parameters)
    assert not any(wanted in p for p in parameters)
    # The answers are sealed with who gave them, and settle the clauses that asked.
    assert len(record["attestations"]) == 26
    assert {a["answered_by"] for a in record["attestations"]} == {"Minji Kim (welfare policy team)"}
    verdicts = {v["clause_id"]: v["verdict"] for v in record["verdicts"]}
    assert verdicts["KR-AIBA-34.1.4"] == verdicts["KR-AIBA-34.1.5"] == verdicts["KR-AIBA-31"] == "pass"
    assert record["inputs"]["answers_sha256"] and "Minji Kim" in report
    assert run_assay("verify", "--ledger", str(ledger)).returncode == 0


def test_the_demo_seals_its_triage_and_labels_the_eligible_vendor(run_assay, demo_ledger) -> None:
    rows = _history(run_assay, demo_ledger)
    for row in rows.values():
        proc = run_assay("show", row["audit_id"], "--ledger", str(demo_ledger), "--json")
        triage = json.loads(proc.stdout)["triage"]
        high_impact = next(f for f in triage["findings"] if f["topic"] == "kr_high_impact")
        assert (high_impact["answer"], high_impact["category"]) == ("yes", "자")
    labels = demo_ledger.parent / f"{demo_ledger.name}-labels"
    issued = sorted(p.name for p in labels.iterdir())
    vendor_c = rows["vendor-c"]["audit_id"]
    # Only the eligible vendor gets one; the not-eligible vendors' audits are refused a label.
    assert issued == [f"{vendor_c}.label.json", f"{vendor_c}.label.svg"]
    proc = run_assay(
        "label", "verify", str(labels / f"{vendor_c}.label.json"),
        "--public-key", str(demo_ledger / "private" / "demo-label.pub"), "--ledger", str(demo_ledger),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "eligible_with_conditions" in proc.stderr and "audit entry is intact" in proc.stderr
    label = json.loads((labels / f"{vendor_c}.label.json").read_text())["label"]
    # Conditions are the clauses not passed; the demo vendors declare no accuracy levels, so the
    # clause that measures them is not assessed and listed with them.
    assert label["conditions"] == [
        c
        for c in label["conditions"]
        if c["verdict"] in ("fail", "needs_attestation", "inconclusive", "not_assessed")
    ]
    assert {"clause": "KR-AIBA-34.1.5-DECLARED", "verdict": "not_assessed"} in label["conditions"]
    assert {"clause": "KR-TTA-07", "verdict": "fail"} in label["conditions"]
