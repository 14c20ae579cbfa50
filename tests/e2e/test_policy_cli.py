"""`assay policy`: list the shipped packs, show what each clause relies on, export the schema."""

from __future__ import annotations

import json

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
    assert kr["jurisdiction"] == "KR" and kr["gates"] == 7 and kr["advisory"] == 13
    assert kr["title"]["ko"].startswith("공공서비스")


def test_show_maps_each_clause_to_its_evidence(run_assay) -> None:
    proc = run_assay("policy", "show", "kr-public-service", "--json")
    assert proc.returncode == 0, proc.stderr
    pack = json.loads(proc.stdout)
    clauses = {c["id"]: c for c in pack["clauses"]}
    ethics = {(e["check"], e["metric"]): e for e in clauses["KR-ETHICS-03"]["evidence"]}
    assert ethics[("explain.global_importance", "sensitive_share")]["range"] == "≤ 0.05"
    assert ethics[("fairness.group_metrics", "selection_rate_ratio")]["range"] == "[0.8, 1.25]"
    decree = clauses["KR-DECREE-28.1.5"]
    assert decree["severity"] == "advisory"
    assert {e["groups"] for e in decree["evidence"] if e["check"] == "fairness.group_metrics"} == {
        "intersections"
    }
    assert pack["parameters"]["explain_tolerance"] == pytest.approx(0.003)
    table = run_assay("policy", "show", "kr-public-service")
    assert table.returncode == 0 and "KR-AIBA-34.1.2" in table.stderr


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
        "overrides": [{"clause": "KR-AIBA-34.1.3", "check": "performance.classification", "metric": "roc_auc",
                       "min": 0.75}],
    }  # fmt: skip
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(local, allow_unicode=True), encoding="utf-8")
    proc = run_assay("policy", "show", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    pack = json.loads(proc.stdout)
    assert pack["lineage"] == ["kr-public-service@0.3.0"]
    (clause,) = [c for c in pack["clauses"] if c["id"] == "KR-AIBA-34.1.3"]
    assert clause["evidence"][0]["range"] == "≥ 0.75"
