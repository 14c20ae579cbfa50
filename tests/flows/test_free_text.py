"""Free text about a person (the profile's `free_text` columns) never reaches a check or a candidate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from assay.checks.context import ServiceProfile
from assay.checks.errors import AssayInputError
from assay.flows.audit import AuditSpec, load_inputs


def _spec(scenario: Path, tmp_path: Path, candidate: Path) -> AuditSpec:
    return AuditSpec(
        service="welfare-review",
        candidate=candidate,
        data=scenario / "windows" / "2026-09.parquet",
        policy="kr-public-service",
        ledger=tmp_path / "ledger",
        seed=7,
    )


def test_the_audit_drops_the_free_text_before_anything_is_measured(scenario: Path, tmp_path: Path) -> None:
    spec = _spec(scenario, tmp_path, scenario / "candidates" / "vendor-c" / "candidate.yaml")
    inputs = load_inputs.fn(spec)
    assert inputs.profile.free_text == ["caseworker_note"]
    assert "caseworker_note" not in inputs.data.columns
    assert {"case_id", "irregularity_found", "nationality"} <= set(inputs.data.columns)


def test_a_candidate_asking_for_the_free_text_is_refused(scenario: Path, tmp_path: Path) -> None:
    vendor = scenario / "candidates" / "vendor-c"
    manifest = yaml.safe_load((vendor / "candidate.yaml").read_text(encoding="utf-8"))
    (tmp_path / "scores.csv").write_text("case_id,score\nWR-W0010000000,0.5\n", encoding="utf-8")
    manifest.update(
        format="predictions",
        location="scores.csv",
        predictions={"id_column": "case_id", "score_column": "score"},
        input_features=[*manifest["input_features"], "caseworker_note"],
    )
    path = tmp_path / "candidate.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    with pytest.raises(AssayInputError, match=r"'caseworker_note' is a free-text column .* never sent"):
        load_inputs.fn(_spec(scenario, tmp_path, path))


def test_a_free_text_column_cannot_be_the_id_the_label_or_a_sensitive_attribute(profile) -> None:
    raw = profile.model_dump()
    for column, role in (("case_id", "the id column"), ("sex", "sensitive attribute 'sex'")):
        with pytest.raises(ValidationError, match=f"free_text: '{column}' is {role}"):
            ServiceProfile.model_validate({**raw, "free_text": [column]})
