"""`assay policy`: list the shipped packs, show what each clause relies on, export the schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from assay.data.loaders import POLICIES_DIR

pytestmark = pytest.mark.e2e


def test_list_names_every_shipped_pack(run_assay) -> None:
    proc = run_assay("policy", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    packs = {p["id"]: p for p in json.loads(proc.stdout)}
    assert set(packs) == {p.stem for p in POLICIES_DIR.glob("*.yaml")}
    kr = packs["kr-public-service"]
    assert kr["jurisdiction"] == "KR" and kr["gates"] == 7 and kr["advisory"] == 16
    assert kr["title"]["ko"].startswith("공공서비스")


def test_show_maps_each_clause_to_its_evidence(run_assay) -> None:
    proc = run_assay("policy", "show", "kr-public-service", "--json")
    assert proc.returncode == 0, proc.stderr
    pack = json.loads(proc.stdout)
    clauses = {c["id"]: c for c in pack["clauses"]}
    parity = {(e["check"], e["metric"]): e for e in clauses["KR-AGENCY-PARITY"]["evidence"]}
    assert parity[("explain.global_importance", "sensitive_share")]["range"] == "≤ 0.05"
    assert parity[("fairness.group_metrics", "selection_rate_ratio")]["range"] == "[0.8, 1.25]"
    assert clauses["KR-AGENCY-PARITY"]["severity"] == "gate"
    intersections = clauses["KR-AGENCY-INTERSECTIONS"]
    assert intersections["severity"] == "advisory"
    assert {e["groups"] for e in intersections["evidence"] if e["check"] == "fairness.group_metrics"} == {
        "intersections"
    }
    # Decree 28(1)5 asks the assessment to state its indicators and method: no threshold of its own.
    assert clauses["KR-DECREE-28.1.5"]["evidence"] == []
    # The voluntary ethics guidelines never outrank the Act's gates; Art 31(1) notice is one.
    assert {c["severity"] for cid, c in clauses.items() if cid.startswith("KR-ETHICS-")} == {"advisory"}
    assert clauses["KR-AIBA-31"]["severity"] == "gate"
    assert pack["parameters"]["explain_tolerance"] == pytest.approx(0.003)
    table = run_assay("policy", "show", "kr-public-service")
    assert table.returncode == 0 and "KR-AIBA-34.1.2" in table.stderr


def test_the_checklist_template_says_an_exempting_yes_lifts_the_clause(run_assay) -> None:
    proc = run_assay("checklist", "template", "--policy", "kr-public-service", "--lang", "en")
    assert proc.returncode == 0, proc.stderr
    questions = yaml.safe_load(proc.stdout)["answers"]
    assert questions["kr.notice_internal_use"]["question"].startswith("[KR-AIBA-31] ")
    assert questions["kr.notice_internal_use"]["question"].endswith(
        "(yes/no; yes = exempt, the clause does not apply)"
    )
    assert questions["kr.notice"]["question"].endswith("(yes/no)")


def test_show_of_an_unknown_pack_is_one_line_and_exit_2(run_assay) -> None:
    proc = run_assay("policy", "show", "kr-nonexistent")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown policy 'kr-nonexistent'" in lines[0]


def test_schema_accepts_the_shipped_packs_and_rejects_a_broken_one(run_assay, tmp_path) -> None:
    out = tmp_path / "policy.schema.json"
    proc = run_assay("policy", "schema", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(out.read_text())
    for path in POLICIES_DIR.glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    broken = yaml.safe_load((POLICIES_DIR / "kr-public-service.yaml").read_text())
    broken["clauses"][0]["severity"] = "blocking"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_show_of_a_local_pack_names_what_it_extends(run_assay, tmp_path) -> None:
    local = {
        "id": "seoul-welfare",
        "version": "1",
        "title": {"ko": "서울시", "en": "Seoul"},
        "jurisdiction": "KR-11",
        "extends": "kr-public-service",
        "overrides": [{"clause": "KR-AIBA-34.1.3", "check": "fairness.group_metrics", "metric": "fpr",
                       "max": 0.15}],
    }  # fmt: skip
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(local, allow_unicode=True), encoding="utf-8")
    proc = run_assay("policy", "show", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    pack = json.loads(proc.stdout)
    assert pack["lineage"] == ["kr-public-service@0.4.0"]
    (clause,) = [c for c in pack["clauses"] if c["id"] == "KR-AIBA-34.1.3"]
    assert clause["evidence"][0]["range"] == "≤ 0.15"


def _law_pack(tmp_path) -> str:
    """Write a local pack with one threshold a text sets and one the agency chose; return its path."""
    pack = {
        "id": "city-law", "version": "1", "title": {"ko": "시", "en": "City"}, "jurisdiction": "KR-11",
        "clauses": [{
            "id": "CITY-1", "title": {"ko": "가", "en": "a"}, "source": "City ordinance", "verified": True,
            "evidence": [
                {"check": "fairness.group_metrics", "metric": "fpr_gap", "max": 0.1, "basis": "law",
                 "cite": "Ordinance 7(2)"},
                {"check": "fairness.group_metrics", "metric": "selection_rate_ratio", "min": 0.8,
                 "basis": "agency"},
            ],
        }],
    }  # fmt: skip
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    return str(path)


def test_crosswalk_and_show_say_whose_each_threshold_is(run_assay, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich folds long cells in a narrow table
    local = _law_pack(tmp_path)
    proc = run_assay("policy", "crosswalk", "--policy", "kr-public-service", "--policy", local, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["evidence"]: r["packs"] for r in json.loads(proc.stdout)["rows"]}
    assert rows["fairness.group_metrics fpr_gap"]["city-law"][0]["basis"] == ["law: Ordinance 7(2)"]
    assert rows["fairness.group_metrics selection_rate_ratio"]["city-law"][0]["basis"] == ["agency"]
    kr = [u for used in rows.values() for u in used.get("kr-public-service", [])]
    assert kr and {b for u in kr for b in u["basis"]} == {"agency"}  # no shipped threshold is the law's
    table = run_assay("policy", "crosswalk", "--policy", "kr-public-service", "--policy", local)
    assert table.returncode == 0, table.stderr
    assert "CITY-1 [law: Ordinance 7(2)]" in table.stderr and "CITY-1 [agency]" in table.stderr
    assert "KR-AGENCY-PARITY [agency]" in table.stderr
    shown = run_assay("policy", "show", local, "--json")
    evidence = json.loads(shown.stdout)["clauses"][0]["evidence"]
    assert [(e["basis"], e["cite"]) for e in evidence] == [("law", "Ordinance 7(2)"), ("agency", None)]
    table = run_assay("policy", "show", local)
    assert "fpr_gap ≤ 0.1 [law: Ordinance 7(2)]" in table.stderr and "≥ 0.8 [agency]" in table.stderr


def test_the_schema_requires_every_threshold_to_say_whose_it_is(run_assay, tmp_path) -> None:
    out = tmp_path / "policy.schema.json"
    assert run_assay("policy", "schema", "--output", str(out)).returncode == 0
    schema = json.loads(out.read_text())
    assert "basis" in schema["$defs"]["Evidence"]["required"]
    for path in POLICIES_DIR.glob("*.yaml"):
        pack = yaml.safe_load(path.read_text())
        jsonschema.validate(pack, schema)
        assert all(
            e.get("basis") in ("law", "agency")
            for c in pack.get("clauses", [])
            for e in c.get("evidence", [])
        )
    good = yaml.safe_load(Path(_law_pack(tmp_path)).read_text())
    jsonschema.validate(good, schema)
    for change, why in ((lambda e: e.pop("basis"), "'basis' is a required property"),
                        (lambda e: e.pop("cite"), "'cite' is a required property"),
                        (lambda e: e.update(basis="statute"), "'statute' is not one of")):  # fmt: skip
        broken = yaml.safe_load(Path(_law_pack(tmp_path)).read_text())
        change(broken["clauses"][0]["evidence"][0])
        with pytest.raises(jsonschema.ValidationError, match=why):
            jsonschema.validate(broken, schema)
