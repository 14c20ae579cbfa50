"""The key under which a resumable audit persists its check results names exactly its inputs."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import SecretStr

from assay.data.loaders import POLICIES_DIR
from assay.flows.audit import AuditSpec, fingerprint, load_inputs, run_key


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


def test_a_change_to_the_pack_a_policy_extends_changes_the_fingerprint_and_the_key(
    scenario: Path, tmp_path: Path
) -> None:
    # The top file is the same bytes in both runs; only the base it extends changes.
    base = yaml.safe_load((POLICIES_DIR / "kr-public-service.yaml").read_text(encoding="utf-8"))
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    top = {"id": "city", "version": "1", "extends": "base.yaml", "title": {"ko": "시", "en": "city"}}
    (tmp_path / "city.yaml").write_text(yaml.safe_dump(top, allow_unicode=True), encoding="utf-8")
    spec = AuditSpec(
        service="welfare-review",
        candidate=scenario / "candidates" / "vendor-c" / "candidate.yaml",
        data=scenario / "windows" / "2026-09.parquet",
        policy=str(tmp_path / "city.yaml"),
        ledger=tmp_path / "ledger",
        seed=7,
    )
    before = load_inputs.fn(spec)
    key = run_key(spec, before)
    base["parameters"]["min_group_size"] = base["parameters"].get("min_group_size", 30) + 1
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
    after = load_inputs.fn(spec)
    assert fingerprint(spec, after).policy_sha256 != fingerprint(spec, before).policy_sha256
    assert run_key(spec, after) != key
    # The same pack loaded again gives the same fingerprint: it is of the pack, not of the load.
    assert fingerprint(spec, load_inputs.fn(spec)).policy_sha256 == fingerprint(spec, after).policy_sha256
