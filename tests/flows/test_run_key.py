"""The key under which a resumable audit persists its check results names exactly its inputs."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from assay.flows.audit import AuditSpec, load_inputs, run_key


def test_run_key_changes_with_every_input_that_changes_a_result(scenario: Path, tmp_path: Path) -> None:
    spec = AuditSpec(
        service="welfare-review",
        candidate=scenario / "candidates" / "vendor-c" / "candidate.yaml",
        data=scenario / "windows" / "2026-09.parquet",
        policy="kr-public-service",
        ledger=tmp_path / "ledger-a",
        seed=7,
    )
    inputs = load_inputs.fn(spec)
    key = run_key(spec, inputs)
    assert run_key(spec, inputs) == key  # the same inputs, the same key
    # Explained rows are pseudonymised with each ledger's own key, so results differ by ledger.
    assert run_key(spec.model_copy(update={"ledger": tmp_path / "ledger-b"}), inputs) != key
    assert run_key(spec.model_copy(update={"seed": 8}), inputs) != key
    assert run_key(spec.model_copy(update={"explain_ids": [SecretStr("WR-W0010000001")]}), inputs) != key
    other = spec.model_copy(update={"data": scenario / "windows" / "2026-10.parquet"})
    assert run_key(other, load_inputs.fn(other)) != key
