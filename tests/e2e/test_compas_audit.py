"""A real published dataset audited as a predictions-only candidate: ProPublica's COMPAS file.

The "vendor" hands over only its scores (the COMPAS decile / 10, medium or high risk from 0.5), and
the agency's holdout carries race, sex and whether the defendant reoffended within two years.
The audit must reproduce ProPublica's published error rates and fail the equalized-odds gate on
the large groups, though an 11-person group sits beside them.
"""

from __future__ import annotations

import json

import pytest
import yaml
from realdata import compas

pytestmark = pytest.mark.e2e

CANDIDATE = {
    "id": "compas",
    "vendor": "Northpointe (published scores)",
    "model": "COMPAS risk of recidivism",
    "version": "2013-2014",
    "format": "predictions",
    "location": "scores.csv",
    "input_features": ["age", "priors_count", "juv_fel_count", "charge_degree"],
    "output": {"positive_class": 1, "score": "decile score / 10", "threshold": 0.5},
    "predictions": {"id_column": "person", "score_column": "score"},
    "intended_use": "pretrial risk assessment",
    "training_data": "not disclosed",
    "contact": "vendor@example.org",
}
SERVICE = {
    "id": "recidivism-risk",
    "title": {"ko": "재범 위험 평가", "en": "Recidivism risk assessment"},
    "decision": {"ko": "중위험 이상 판정", "en": "Rated medium or high risk"},
    "risk_tier": "high-impact",
    "id_column": "person",
    "label": {"column": "reoffended", "positive": 1},
    "positive_decision_is_favourable": False,  # a high-risk rating is a burden
    "sensitive_attributes": [
        {"name": "race", "column": "race", "reference_group": "Caucasian"},
        {"name": "sex", "column": "sex"},
    ],
}
QUICK = "extends: kr-public-service\nid: kr-quick\nversion: '1'\nparameters: {surrogate_rows: 2000}\n"


@pytest.fixture(scope="module")
def audited(run_assay, tmp_path_factory) -> dict:
    """Audit the COMPAS scores as a predictions-only candidate and return the sealed record."""
    base = tmp_path_factory.mktemp("compas")
    data = compas()
    holdout = data.rename(columns={"id": "person", "two_year_recid": "reoffended"}).assign(
        charge_degree=data["c_charge_degree"]
    )
    columns = ["person", "race", "sex", "reoffended", *CANDIDATE["input_features"]]
    holdout[columns].to_csv(base / "holdout.csv", index=False)
    scores = holdout[["person"]].assign(score=data["decile_score"] / 10)
    scores.to_csv(base / "scores.csv", index=False)
    (base / "candidate.yaml").write_text(yaml.safe_dump(CANDIDATE))
    (base / "service.yaml").write_text(yaml.safe_dump(SERVICE, allow_unicode=True))
    (base / "pack.yaml").write_text(QUICK)
    ledger = base / "ledger"
    proc = run_assay(
        "audit", "--service", str(base / "service.yaml"), "--candidate", str(base / "candidate.yaml"),
        "--data", str(base / "holdout.csv"), "--policy", str(base / "pack.yaml"), "--ledger", str(ledger),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # a gate failed
    summary = json.loads(proc.stdout)
    shown = run_assay("show", summary["audit_id"], "--ledger", str(ledger), "--json")
    assert shown.returncode == 0, shown.stderr
    return {"summary": summary, "record": json.loads(shown.stdout)}


def _fairness(record: dict) -> list[dict]:
    (result,) = [r for r in record["results"] if r["check_id"] == "fairness.group_metrics"]
    return result["metrics"]


def test_the_audit_reproduces_propublicas_false_positive_rates(audited: dict) -> None:
    rows = {(r["metric"], r["attribute"], r["group"]): r for r in _fairness(audited["record"])}
    for race, fpr, negatives in (("African-American", 0.4234, 1514), ("Caucasian", 0.2201, 1281)):
        row = rows[("fpr", "race", race)]
        assert round(row["value"], 4) == fpr and row["n"] == negatives
    assert rows[("tpr", "race", "African-American")]["n"] == 3175 - 1514


def test_equalized_odds_fails_on_the_large_groups_and_names_them(audited: dict) -> None:
    summary, record = audited["summary"], audited["record"]
    assert summary["recommendation"] == "not_eligible" and "KR-AGENCY-PARITY" in summary["failing_clauses"]
    (clause,) = [v for v in record["verdicts"] if v["clause_id"] == "KR-AGENCY-PARITY"]
    (eod,) = [e for e in clause["evidence"] if e["metric"] == "equalized_odds_difference"]
    assert eod["verdict"] == "fail"
    assert any(
        "equalized_odds_difference[race]" in r and "decided by African-American" in r for r in eod["reasons"]
    )
