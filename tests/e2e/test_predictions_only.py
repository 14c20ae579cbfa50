"""A black-box audit of an arbitrary CSV: the vendor hands over predictions only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def black_box(tmp_path_factory) -> dict[str, Path]:
    """Write an evaluation CSV, a predictions file, a candidate.yaml and a service profile."""
    base = tmp_path_factory.mktemp("black-box")
    rng = np.random.default_rng(21)
    n = 3000
    data = pd.DataFrame(
        {
            "person": [f"P{i:05d}" for i in range(n)],
            "gender": rng.choice(["woman", "man"], n),
            "region": rng.choice(["north", "south", "islands"], n, p=[0.5, 0.4, 0.1]),
            "granted": (rng.random(n) < 0.4).astype(int),
        }
    )
    # The vendor's model grants the benefit less often in the islands, rightly or not.
    p_grant = np.where(data["region"] == "islands", 0.25, 0.45) + 0.3 * data["granted"]
    score = np.clip(p_grant + rng.normal(0, 0.05, n), 0, 1)
    preds = pd.DataFrame({"person": data["person"], "score": score.round(4)})
    data.to_csv(base / "eval.csv", index=False)
    preds.sample(frac=1.0, random_state=1).to_csv(base / "preds.csv", index=False)  # any row order
    (base / "candidate.yaml").write_text(
        yaml.safe_dump(
            {
                "id": "grant-model",
                "vendor": "Black Box Ltd",
                "model": "grants",
                "version": "1",
                "format": "predictions",
                "location": "preds.csv",
                "input_features": ["region"],
                "output": {"positive_class": 1, "score": "probability of granting", "threshold": 0.5},
                "predictions": {"id_column": "person", "score_column": "score"},
                "intended_use": "benefit decisions",
                "training_data": "not disclosed",
                "contact": "vendor@example.org",
            }
        )
    )
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
                "sensitive_attributes": [
                    {"name": "gender", "column": "gender"},
                    {"name": "region", "column": "region", "reference_group": "north"},
                ],
            }
        )
    )
    return {"base": base, "data": base / "eval.csv"}


def test_predictions_only_audit_gives_group_error_rates_as_long_rows(run_assay, black_box) -> None:
    ledger = black_box["base"] / "ledger"
    proc = run_assay(
        "audit",
        "--service",
        str(black_box["base"] / "service.yaml"),
        "--candidate",
        str(black_box["base"] / "candidate.yaml"),
        "--data",
        str(black_box["data"]),
        "--ledger",
        str(ledger),
    )
    assert proc.returncode == 1 and proc.stdout, proc.stderr
    summary = json.loads(proc.stdout)
    # The planted regional gap fails the diversity gate; what needs the model is not assessed.
    assert summary["recommendation"] == "not_eligible"
    assert "KR-AGENCY-PARITY" in summary["failing_clauses"]

    shown = run_assay("show", summary["audit_id"], "--ledger", str(ledger), "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    results = {r["check_id"]: r for r in record["results"]}
    assert results["explain.global_importance"]["status"] == "not_assessed"
    # The declared input is explained through a surrogate, labelled as such, with its fidelity.
    surrogate = results["explain.surrogate"]
    assert surrogate["status"] == "passed" and "SURROGATE" in surrogate["messages"][0]
    fidelity = surrogate["details"]["surrogate"]
    # Region alone cannot tell who deserved the grant: the surrogate says how little it mimics.
    assert 0.5 < fidelity["agreement"] < 0.9 and fidelity["r2"] < 0.5
    (share,) = [
        m for m in surrogate["metrics"]
        if m["metric"] == "sensitive_share" and m["attribute"] is None and m["feature"] is None
    ]  # fmt: skip
    assert share["value"] == pytest.approx(1.0)  # its only declared input is a protected one
    rows = results["fairness.group_metrics"]["metrics"]
    assert {"check_id", "metric", "attribute", "group", "value", "ci_low", "ci_high", "n"} <= set(rows[0])

    data = pd.read_csv(black_box["data"])
    preds = pd.read_csv(black_box["base"] / "preds.csv").set_index("person").loc[data["person"]]
    decided = (preds["score"].to_numpy() >= 0.5).astype(int)
    for region, group in data.groupby("region"):
        mask = (data["region"] == region).to_numpy()
        y, d = data["granted"].to_numpy()[mask], decided[mask]
        expected = {
            "tpr": d[y == 1].mean(),
            "fnr": 1 - d[y == 1].mean(),
            "fpr": d[y == 0].mean(),
            "selection_rate": d.mean(),
        }
        # n is the rate's denominator: the positives for TPR and FNR, the negatives for FPR.
        denominators = {
            "tpr": (y == 1).sum(),
            "fnr": (y == 1).sum(),
            "fpr": (y == 0).sum(),
            "selection_rate": len(group),
        }
        for metric, value in expected.items():
            (row,) = [
                r
                for r in rows
                if r["metric"] == metric and r["attribute"] == "region" and r["group"] == region
            ]
            assert row["value"] == pytest.approx(value, abs=1e-12)
            assert row["n"] == denominators[metric]
            assert row["ci_low"] <= row["value"] <= row["ci_high"]
    # The islands' lower grant rate shows as a significant gap to the named reference group.
    (gap,) = [
        r
        for r in rows
        if r["metric"] == "selection_rate_difference"
        and r["attribute"] == "region"
        and r["group"] == "islands"
    ]
    assert gap["ci_high"] < 0
    intersections = {r["attribute"] for r in rows if "×" in (r["attribute"] or "")}
    assert intersections == {"gender×region"}
