"""A small black-box audit (predictions only) whose vendor and group names are hostile, and the way
to run the real `assay` command on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ASSAY = str(Path(sys.executable).parent / "assay")
VENDOR = "<img src=x onerror=alert(1)>|x"
REGIONS = ['=HYPERLINK("http://x","y")', "-2+3", "a|b"]


def write_black_box(base: Path, n: int = 3000) -> list[str]:
    """Write an evaluation set, predictions, candidate.yaml and service.yaml; return the audit's args."""
    rng = np.random.default_rng(5)
    data = pd.DataFrame(
        {
            "person": [f"P{i:05d}" for i in range(n)],
            "region": rng.choice(REGIONS, n, p=[0.4, 0.4, 0.2]),
            "granted": (rng.random(n) < 0.4).astype(int),
        }
    )
    score = np.clip(0.35 + 0.3 * data["granted"] + rng.normal(0, 0.1, n), 0, 1)
    data.to_csv(base / "eval.csv", index=False)
    pd.DataFrame({"person": data["person"], "score": score.round(4)}).to_csv(base / "preds.csv", index=False)
    candidate = {
        "id": "grant-model", "vendor": VENDOR, "model": "[m](javascript:alert(1))", "version": "1",
        "format": "predictions", "location": "preds.csv", "input_features": ["region"],
        "output": {"positive_class": 1, "score": "probability of granting", "threshold": 0.5},
        "predictions": {"id_column": "person", "score_column": "score"},
        "intended_use": "benefit decisions", "training_data": "not disclosed", "contact": "v@example.org",
    }  # fmt: skip
    service = {
        "id": "grants", "title": {"ko": "급여", "en": "Grants"}, "decision": {"ko": "지급", "en": "Grant"},
        "risk_tier": "high-impact", "id_column": "person", "label": {"column": "granted", "positive": 1},
        "positive_decision_is_favourable": True,
        "sensitive_attributes": [{"name": "region", "column": "region", "reference_group": "-2+3"}],
    }  # fmt: skip
    (base / "candidate.yaml").write_text(yaml.safe_dump(candidate), encoding="utf-8")
    (base / "service.yaml").write_text(yaml.safe_dump(service, allow_unicode=True), encoding="utf-8")
    return [
        "audit", "--service", str(base / "service.yaml"), "--candidate", str(base / "candidate.yaml"),
        "--data", str(base / "eval.csv"), "--ledger", str(base / "ledger"),
    ]  # fmt: skip


def assay_env(session_env: dict[str, str]) -> dict[str, str]:
    """Return the environment of a real `assay` run: the session's, with Prefect's temporary server."""
    env = {**os.environ, **session_env}
    env.pop("PREFECT_API_URL", None)
    return env


def run_assay(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the real `assay` command to its end."""
    return subprocess.run(
        [ASSAY, *args], capture_output=True, text=True, timeout=600, env=env, stdin=subprocess.DEVNULL
    )
