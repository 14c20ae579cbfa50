"""A vendor's declared accuracy levels, tested by `assay audit` and judged by a pack that asks for them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.e2e

# A pack with one gate: no declared accuracy level may be refuted by the agency's data.
PACK = {
    "id": "declared-only",
    "version": "1",
    "title": {"ko": "선언된 정확도", "en": "Declared accuracy"},
    "jurisdiction": "EU",
    "clauses": [
        {
            "id": "EU-AIA-15(3)",
            "title": {"ko": "선언된 정확도 수준", "en": "Declared levels of accuracy"},
            "source": "EU AI Act Art 13(3)(b)(ii); 15(3)",
            "verified": True,
            "severity": "gate",
            "evidence": [
                {
                    "check": "performance.declared",
                    "metric": "declared_shortfall",
                    "max": 0,
                    "basis": "law",
                    "cite": "EU AI Act Art 15(3)",
                }
            ],
        }
    ],
}


def _write(base: Path, declared: list[dict[str, object]]) -> dict[str, Path]:
    """Write evaluation data, predictions, a candidate.yaml declaring `declared`, a profile, the pack."""
    base.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n = 1500
    granted = (rng.random(n) < 0.4).astype(int)
    data = pd.DataFrame(
        {
            "person": [f"P{i:05d}" for i in range(n)],
            "gender": rng.choice(["woman", "man"], n),
            "granted": granted,
        }
    )
    score = np.clip(0.3 * granted + 0.7 * rng.random(n), 0, 1)  # ROC AUC about 0.8
    data.to_csv(base / "eval.csv", index=False)
    pd.DataFrame({"person": data["person"], "score": score.round(4)}).to_csv(base / "preds.csv", index=False)
    manifest = {
        "id": "grant-model",
        "vendor": "Claims Ltd",
        "model": "grants",
        "version": "1",
        "format": "predictions",
        "location": "preds.csv",
        "output": {"positive_class": 1, "score": "probability of granting", "threshold": 0.5},
        "predictions": {"id_column": "person", "score_column": "score"},
        "intended_use": "benefit decisions",
        "training_data": "not disclosed",
        "contact": "vendor@example.org",
    }
    if declared:
        manifest["declared_performance"] = declared
    (base / "candidate.yaml").write_text(yaml.safe_dump(manifest))
    (base / "service.yaml").write_text(
        yaml.safe_dump(
            {
                "id": "grants",
                "title": {"ko": "급여 지급", "en": "Benefit grants"},
                "decision": {"ko": "급여 지급 여부", "en": "Whether a benefit is granted"},
                "risk_tier": "high-impact",
                "id_column": "person",
                "label": {"column": "granted", "positive": 1},
                "positive_decision_is_favourable": True,
                "sensitive_attributes": [{"name": "gender", "column": "gender"}],
            }
        )
    )
    (base / "pack.yaml").write_text(yaml.safe_dump(PACK, allow_unicode=True))
    files = {name: base / f"{name}.yaml" for name in ("candidate", "service", "pack")}
    return {**files, "data": base / "eval.csv"}


def _audit(run_assay, files: dict[str, Path], ledger: Path) -> tuple[int, dict, dict]:
    """Audit under the pack; return the exit code, the summary and the sealed record."""
    proc = run_assay(
        "audit",
        *("--service", str(files["service"]), "--candidate", str(files["candidate"])),
        *("--data", str(files["data"]), "--policy", str(files["pack"]), "--ledger", str(ledger)),
    )
    assert proc.stdout, proc.stderr
    summary = json.loads(proc.stdout)
    shown = run_assay("show", summary["audit_id"], "--ledger", str(ledger), "--json")
    assert shown.returncode == 0, shown.stderr
    return proc.returncode, summary, json.loads(shown.stdout)


def test_a_refuted_accuracy_claim_fails_the_gate_and_an_honest_one_passes(run_assay, tmp_path) -> None:
    ledger = tmp_path / "ledger"
    claims = [{"metric": "roc_auc", "value": 0.95}, {"metric": "accuracy", "value": 0.5}]
    over = _write(tmp_path / "over", claims)
    code, summary, record = _audit(run_assay, over, ledger)
    assert code == 1 and summary["failing_clauses"] == ["EU-AIA-15(3)"]
    result = next(r for r in record["results"] if r["check_id"] == "performance.declared")
    assert result["status"] == "failed"
    roc_auc, accuracy = result["messages"]
    assert roc_auc.startswith("roc_auc: declared 0.95, measured ") and "refutes" in roc_auc
    assert accuracy.startswith("accuracy: declared 0.5, ") and "under-claimed" in accuracy

    honest = _write(tmp_path / "honest", [{"metric": "roc_auc", "value": 0.75}])
    code, summary, record = _audit(run_assay, honest, ledger)
    assert code == 0 and summary["recommendation"] == "eligible", summary
