"""An agency's local pack on top of the national one: inherited clauses, overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assay.checks.errors import AssayInputError
from assay.data.loaders import load_policy

LOCAL = {
    "id": "seoul-welfare",
    "version": "2026.1",
    "title": {"ko": "서울시 복지 점검", "en": "Seoul welfare audits"},
    "jurisdiction": "KR-11",
    "extends": "kr-public-service",
    "parameters": {"min_group_size": 50},
    "overrides": [
        {"clause": "KR-AGENCY-PARITY", "check": "fairness.group_metrics",
         "metric": "equalized_odds_difference", "max": 0.05},
        {"clause": "KR-TTA-07", "severity": "gate"},
    ],
    "clauses": [
        {
            "id": "SEOUL-WELFARE-1",
            "title": {"ko": "교차 집단 보정", "en": "Calibration in every group"},
            "source": "Seoul welfare office rule 1",
            "verified": False,
            "severity": "advisory",
            "evidence": [
                {"check": "fairness.score_metrics", "metric": "ece", "basis": "agency", "max": 0.03}
            ],
        }
    ],
}  # fmt: skip


def _write(tmp_path: Path, pack: dict, name: str = "local.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    return path


def _evidence(pack, clause_id: str, metric: str):
    clause = next(c for c in pack.clauses if c.id == clause_id)
    return [e for e in clause.evidence if e.metric == metric]


def test_local_pack_keeps_the_national_clauses_and_overrides_its_thresholds(tmp_path) -> None:
    national, _ = load_policy("kr-public-service")
    local, path = load_policy(str(_write(tmp_path, LOCAL)))
    assert path.name == "local.yaml" and local.id == "seoul-welfare"
    assert local.lineage == [f"kr-public-service@{national.version}"]
    assert [c.id for c in local.clauses] == [c.id for c in national.clauses] + ["SEOUL-WELFARE-1"]
    # The override reaches the attribute evidence of KR-AGENCY-PARITY only, not the intersections'.
    assert [e.max for e in _evidence(local, "KR-AGENCY-PARITY", "equalized_odds_difference")] == [0.05]
    assert [e.max for e in _evidence(local, "KR-AGENCY-INTERSECTIONS", "equalized_odds_difference")] == [0.10]
    assert next(c for c in local.clauses if c.id == "KR-TTA-07").severity == "gate"
    assert local.parameters.min_group_size == 50
    assert local.parameters.disclosure_min == national.parameters.disclosure_min
    # The national pack itself is untouched.
    assert [e.max for e in _evidence(national, "KR-AGENCY-PARITY", "equalized_odds_difference")] == [0.10]


def test_a_pack_can_extend_a_local_pack_by_relative_path(tmp_path) -> None:
    _write(tmp_path, LOCAL)
    district = {
        "id": "gangnam-welfare",
        "version": "1",
        "title": {"ko": "강남구", "en": "Gangnam"},
        "jurisdiction": "KR-11-680",
        "extends": "local.yaml",
        "overrides": [{"clause": "SEOUL-WELFARE-1", "check": "fairness.score_metrics", "metric": "ece",
                       "max": 0.02}],
    }  # fmt: skip
    pack, _ = load_policy(str(_write(tmp_path, district, "district.yaml")))
    assert pack.lineage == ["kr-public-service@0.4.0", "seoul-welfare@2026.1"]
    assert [e.max for e in _evidence(pack, "SEOUL-WELFARE-1", "ece")] == [0.02]


EOD = {"check": "fairness.group_metrics", "metric": "roc_auc", "max": 1}
PARITY_EOD = {
    "clause": "KR-AGENCY-PARITY",
    "check": "fairness.group_metrics",
    "metric": "equalized_odds_difference",
}
BROKEN = {
    "unknown clause": (
        {"overrides": [{"clause": "KR-NOPE", "severity": "gate"}]},
        "overrides.0.clause: the base pack has no clause 'KR-NOPE'",
    ),
    "evidence the clause lacks": (
        {"overrides": [{"clause": "KR-AGENCY-PARITY", **EOD}]},
        "overrides.0: clause KR-AGENCY-PARITY has no evidence fairness.group_metrics roc_auc",
    ),
    "override of nothing": (
        {"overrides": [{"clause": "KR-AGENCY-PARITY"}]},
        "overrides.0: Value error, an override changes a threshold or the 'severity'",
    ),
    "threshold not a number": (
        {"overrides": [{**PARITY_EOD, "min": float("nan")}]},
        "overrides.0.min: Input should be a finite number",
    ),
    "threshold infinite": (
        {"overrides": [{**PARITY_EOD, "max": float("inf")}]},
        "overrides.0.max: Input should be a finite number",
    ),
    "infinite time budget": (
        {"parameters": {"explain_seconds": float("inf")}},
        "field 'parameters.explain_seconds': Input should be a finite number",
    ),
    "infinite drift threshold": (
        {"monitoring": {"drift_psi": float("inf")}},
        "field 'monitoring.drift_psi': Input should be a finite number",
    ),
    "infinite tolerance": (
        {
            "monitoring": {
                "watches": [
                    {
                        "check": "fairness.group_metrics",
                        "metric": "fpr_gap",
                        "worse": "up",
                        "tolerance": float("inf"),
                    }
                ]
            }
        },
        "field 'monitoring.watches.0.tolerance': Input should be a finite number",
    ),
    "unknown base": ({"extends": "kr-nonexistent"}, "field 'extends': unknown policy 'kr-nonexistent'"),
    "bad parameter": ({"parameters": {"min_group_size": 0}}, "field 'parameters.min_group_size'"),
    "clause id taken": (
        {"clauses": [{**LOCAL["clauses"][0], "id": "KR-AGENCY-PARITY"}]},
        "clause ids used twice: KR-AGENCY-PARITY",
    ),
}


@pytest.mark.parametrize(("change", "message"), list(BROKEN.values()), ids=list(BROKEN))
def test_a_broken_local_pack_fails_with_one_line_naming_the_file_and_field(tmp_path, change, message) -> None:
    path = _write(tmp_path, {**LOCAL, **change})
    with pytest.raises(AssayInputError) as caught:
        load_policy(str(path))
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text and "\n" not in text


def test_packs_that_extend_each_other_are_a_cycle(tmp_path) -> None:
    _write(tmp_path, {**LOCAL, "id": "a", "extends": "b.yaml"}, "a.yaml")
    _write(tmp_path, {**LOCAL, "id": "b", "extends": "a.yaml"}, "b.yaml")
    with pytest.raises(AssayInputError, match="a cycle"):
        load_policy(str(tmp_path / "a.yaml"))
