"""Applicability triage: known services give known findings, and what is unanswered stays unknown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from assay.checks.context import ServiceProfile
from assay.checks.phrase import fields
from assay.checks.triage import (
    CA_MATRIX,
    Domain,
    TriageAnswers,
    TriageProfile,
    TriageResult,
    evidence_checks,
    merge_answers,
    triage,
)
from assay.data.loaders import load_policy, load_profile

PROFILES = Path(__file__).parent / "triage_profiles"
PACKS = ("kr-public-service", "eu-ai-act-high-risk", "nist-ai-rmf", "ca-dadm")


@pytest.fixture(scope="module")
def pack_checks() -> dict[str, list[str]]:
    return {p: evidence_checks(load_policy(p)[0]) for p in PACKS}


def _profile(name: str) -> TriageProfile:
    return TriageProfile.model_validate(yaml.safe_load((PROFILES / f"{name}.yaml").read_text()))


def _answers(result: TriageResult) -> dict[str, tuple[str, str | None]]:
    return {f.topic: (f.answer, f.category) for f in result.findings}


# Each profile's expected findings: (answer, category) by topic, and the packs with their need.
EXPECTED = {
    "welfare-eligibility": (
        {"kr_high_impact": ("yes", "자"), "kr_compute": ("unknown", None),
         "eu_annex_iii": ("high_risk", "5(a)"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference",
         "ca-dadm": "reference"},
    ),
    "benefit-fee": (
        {"kr_high_impact": ("no", None), "kr_compute": ("not_reached", None),
         "eu_annex_iii": ("high_risk", "5(a)"), "ca_impact_level": ("I", "I")},
        {"eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference", "ca-dadm": "reference"},
    ),
    "hiring-screening": (
        {"kr_high_impact": ("yes", "사"), "kr_compute": ("unknown", None),
         "eu_annex_iii": ("high_risk", "4"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference"},
    ),
    "school-grading": (
        {"kr_high_impact": ("yes", "차"), "kr_compute": ("unknown", None),
         "eu_annex_iii": ("high_risk", "3(b)"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference",
         "ca-dadm": "reference"},
    ),
    "info-chatbot": (
        {"kr_high_impact": ("no", None), "kr_compute": ("not_reached", None),
         "eu_annex_iii": ("transparency", "Art 50"), "ca_impact_level": ("I", "I")},
        {},
    ),
    "loan-screening": (
        {"kr_high_impact": ("yes", "사"), "kr_compute": ("unknown", None),
         "eu_annex_iii": ("high_risk", "5(b)"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference"},
    ),
    "frontier-assistant": (
        {"kr_high_impact": ("no", None), "kr_compute": ("reached", None),
         "eu_annex_iii": ("transparency", "Art 50"), "ca_impact_level": ("I", "I")},
        {},
    ),
    "unknown-answers": (
        {"kr_high_impact": ("unknown", "자"), "kr_compute": ("unknown", None),
         "eu_annex_iii": ("high_risk", "5(a)"), "ca_impact_level": ("unknown", None)},
        {"kr-public-service": "pending", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_profile_gives_its_known_findings(name: str, pack_checks) -> None:
    result = triage(_profile(name), pack_checks=pack_checks)
    findings, packs = EXPECTED[name]
    assert result.service == name
    assert _answers(result) == findings
    assert {p.id: p.need for p in result.packs} == packs
    needed = {c for p in result.packs if p.need != "reference" for c in pack_checks[p.id]}
    assert result.checks == sorted(needed)
    for f in result.findings:
        assert f.reasons and f.reasons == [str(p) for p in f.phrases]
        assert f.clauses, f.topic
        assert (f.answer == "unknown") == bool(f.missing) or f.topic == "kr_high_impact"


def test_the_shipped_welfare_review_profile_is_high_impact_under_item_ja(pack_checks) -> None:
    profile, _ = load_profile("welfare-review")
    assert isinstance(profile, ServiceProfile) and profile.triage is not None
    result = triage(profile, pack_checks=pack_checks)
    assert _answers(result)["kr_high_impact"] == ("yes", "자")
    assert _answers(result)["eu_annex_iii"] == ("high_risk", "5(a)")
    assert _answers(result)["ca_impact_level"] == ("III", "III")
    assert result.finding("kr_compute").missing == ["training_compute_flops"]
    kr = result.finding("kr_high_impact")
    assert {c.id: c.verified for c in kr.clauses}["KR-AIBA-2.4.ja"] is True
    assert "discretion" in kr.reasons[1]
    assert "performance.classification" in result.checks


def test_a_profile_without_triage_answers_says_unknown_everywhere(pack_checks) -> None:
    profile, _ = load_profile("welfare-review")
    bare = profile.model_copy(update={"triage": None})
    result = triage(bare, pack_checks=pack_checks)
    assert {f.topic: f.answer for f in result.findings} == dict.fromkeys(
        ("kr_high_impact", "kr_compute", "eu_annex_iii", "ca_impact_level"), "unknown"
    )
    assert result.finding("kr_high_impact").missing == ["domain"]
    assert result.sources == {}
    assert "triage" not in bare.model_dump(mode="json")  # the record of an old profile is unchanged


def test_unknown_grounds_are_named_and_not_guessed() -> None:
    kr = triage(_profile("unknown-answers")).finding("kr_high_impact")
    assert kr.answer == "unknown"
    assert kr.missing == ["discretion", "provision_or_order", "social_security", "final_decision"]
    assert "not guessed" in kr.reasons[0]
    # One ground is enough: discretion makes it high-impact whatever the rest would say.
    with_discretion = triage(_profile("unknown-answers"), TriageAnswers(discretion=True))
    assert _answers(with_discretion)["kr_high_impact"] == ("yes", "자")
    # Every ground excluded: not high-impact.
    none = TriageAnswers(discretion=False, provision_or_order=False, social_security=False)
    assert _answers(triage(_profile("unknown-answers"), none))["kr_high_impact"] == ("no", None)


def test_a_fully_automated_final_decision_in_social_security_is_high_impact() -> None:
    automated = TriageAnswers(final_decision="system", automation="decides")
    result = triage(_profile("benefit-fee"), automated)
    assert _answers(result)["kr_high_impact"] == ("yes", "자")
    assert "without a person" in result.finding("kr_high_impact").reasons[1]


def test_a_moderate_effect_outside_item_ja_is_left_to_the_operator() -> None:
    moderate = triage(_profile("hiring-screening"), TriageAnswers(rights_effect="moderate"))
    kr = moderate.finding("kr_high_impact")
    assert (kr.answer, kr.missing) == ("unknown", [])
    assert "KR-AIBA-33" in [c.id for c in kr.clauses]
    assert moderate.pack("kr-public-service").need == "pending"
    low = triage(_profile("hiring-screening"), TriageAnswers(rights_effect="low"))
    assert low.finding("kr_high_impact").answer == "no"


def test_the_answers_file_overrides_the_profile_and_an_explicit_null_unknowns() -> None:
    profile = _profile("welfare-eligibility")
    answers = TriageAnswers.model_validate({"state_body": False, "rights_effect": None})
    result = triage(profile, answers)
    assert result.answers.state_body is False and result.answers.rights_effect is None
    assert result.sources["state_body"] == result.sources["rights_effect"] == "answers"
    assert result.sources["domain"] == "profile"
    assert _answers(result)["kr_high_impact"] == ("no", None)
    assert _answers(result)["ca_impact_level"] == ("unknown", None)
    assert result.finding("ca_impact_level").missing == ["rights_effect"]


def test_the_candidates_compute_counts_only_when_no_answer_gives_one() -> None:
    from_candidate = triage(_profile("welfare-eligibility"), compute=2.5e26)
    assert _answers(from_candidate)["kr_compute"] == ("reached", None)
    assert from_candidate.sources["training_compute_flops"] == "candidate"
    overridden = triage(_profile("benefit-fee"), compute=2.5e26)
    compute = overridden.finding("kr_compute")
    assert compute.answer == "not_reached"
    assert overridden.sources["training_compute_flops"] == "profile"
    assert "declares 2.5e+26 FLOPs" in compute.reasons[-1]
    # Exactly at the threshold counts as reached (≥ 10^26).
    assert triage(TriageAnswers(training_compute_flops=1e26)).finding("kr_compute").answer == "reached"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"training_compute_flops": "lots"}, "valid number"),
        ({"training_compute_flops": True}, "not yes/no"),
        ({"training_compute_flops": -1}, "greater than or equal to 0"),
        ({"training_compute_flops": float("inf")}, "finite number"),
        ({"domain": "welfare"}, "public_service_eligibility"),
        ({"discretin": True}, "Extra inputs are not permitted"),
        ({"final_decision": "system", "automation": "recommends"}, "does not decide"),
    ],
)
def test_bad_answers_are_refused(given: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TriageAnswers.model_validate(given)


def test_yaml_exponents_are_numbers() -> None:
    # PyYAML reads 1e26 (no dot) as text; the answer is still a number.
    answers = TriageAnswers.model_validate(yaml.safe_load("training_compute_flops: 1e26"))
    assert answers.training_compute_flops == 1e26


def test_typos_are_refused_in_light_and_full_profiles() -> None:
    light = yaml.safe_load((PROFILES / "hiring-screening.yaml").read_text())
    with pytest.raises(ValidationError, match="tirage"):
        TriageProfile.model_validate({**{k: v for k, v in light.items() if k != "triage"}, "tirage": {}})
    with pytest.raises(ValidationError, match=r"triage\.discretin"):
        TriageProfile.model_validate({**light, "triage": {"discretin": True}})
    full = load_profile("welfare-review")[0].model_dump(mode="json")
    with pytest.raises(ValidationError, match=r"triage\.domian"):
        ServiceProfile.model_validate({**full, "triage": {"domian": "hiring"}})


def test_the_result_is_json_with_a_schema_and_round_trips(pack_checks) -> None:
    result = triage(_profile("loan-screening"), compute=1e20, pack_checks=pack_checks)
    text = result.model_dump_json()
    assert TriageResult.model_validate_json(text) == result
    schema = TriageResult.model_json_schema()
    assert {"schema_version", "answers", "findings", "packs", "checks"} <= set(schema["properties"])
    data = json.loads(text)
    assert data["schema_version"] == "1"
    ca = next(f for f in data["findings"] if f["topic"] == "ca_impact_level")
    assert "CA-DADM-C-HUMAN" in [c["id"] for c in ca["clauses"]]  # the system decides at level III


def test_unverified_ids_are_marked() -> None:
    result = triage(_profile("school-grading"))
    eu = result.finding("eu_annex_iii")
    (point,) = eu.clauses
    assert (point.id, point.verified, point.shown()) == (
        "EU-AIA-ANNEX-III-3(b)",
        False,
        "EU-AIA-ANNEX-III-3(b)?",
    )
    kr = {c.id: c.verified for c in result.finding("kr_high_impact").clauses}
    assert kr["KR-AIBA-2.4.cha"] is False and kr["KR-AIBA-2.4"] is True
    assert "item 차 (cha)?" in result.finding("kr_high_impact").reasons[0]


def test_every_phrase_says_itself_in_korean() -> None:
    from assay.dashboards.i18n import translations

    ko = translations("ko")
    for name in EXPECTED:
        for f in triage(_profile(name)).findings:
            for phrase in f.phrases:
                said = phrase.say("ko", ko.gettext)
                assert said != phrase.say("en") or fields(phrase.template) == {"domain", "how"}, said


def test_the_canadian_matrix_grows_with_effect_and_irreversibility() -> None:
    effects = list(CA_MATRIX)
    columns = list(CA_MATRIX["none"])
    rank = {"I": 1, "II": 2, "III": 3, "IV": 4}
    for i, effect in enumerate(effects):
        for j, rev in enumerate(columns):
            level = rank[CA_MATRIX[effect][rev]]
            if i:
                assert level >= rank[CA_MATRIX[effects[i - 1]][rev]]
            if j:
                assert level >= rank[CA_MATRIX[effect][columns[j - 1]]]


# Consistent full answers: a system that only assists or recommends takes no final decision.
FULL = st.fixed_dictionaries(
    {
        "domain": st.sampled_from(get_args(Domain)),
        "automation": st.sampled_from(["assists", "recommends", "decides"]),
        "discretion": st.booleans(),
        "provision_or_order": st.booleans(),
        "social_security": st.booleans(),
        "rights_effect": st.sampled_from(["none", "low", "moderate", "high", "very_high"]),
        "reversibility": st.sampled_from(
            ["reversible", "reversible_with_effort", "difficult", "irreversible"]
        ),
        "state_body": st.booleans(),
        "interacts_with_people": st.booleans(),
        "training_compute_flops": st.sampled_from([1e9, 9.9e25, 1e26, 4e26]),
        "final_decision": st.sampled_from(["person", "system"]),
    }
).map(lambda d: {**d, "final_decision": "person" if d["automation"] != "decides" else d["final_decision"]})


@settings(max_examples=300, deadline=None)
@given(full=FULL, data=st.data())
def test_a_definite_finding_never_changes_when_the_unanswered_questions_are_answered(full, data) -> None:
    """Never guessed: whatever a partial triage asserts holds for every completion of its answers."""
    keys = data.draw(st.sets(st.sampled_from(sorted(full))), label="answered")
    partial = triage(TriageAnswers.model_validate({k: full[k] for k in keys}))
    complete = triage(TriageAnswers.model_validate(full))
    for f in partial.findings:
        if f.answer != "unknown":
            assert (f.answer, f.category) == (
                complete.finding(f.topic).answer,
                complete.finding(f.topic).category,
            )
    for p in partial.packs:
        if p.need == "applies":
            assert complete.pack(p.id) is not None and complete.pack(p.id).need == "applies"


def test_merge_keeps_only_what_each_source_gives() -> None:
    merged, sources = merge_answers(
        ("candidate", TriageAnswers(training_compute_flops=5.0)),
        ("profile", TriageAnswers(domain="hiring", training_compute_flops=7.0)),
        ("answers", TriageAnswers(state_body=True)),
    )
    assert (merged.domain, merged.training_compute_flops, merged.state_body) == ("hiring", 7.0, True)
    assert sources == {"domain": "profile", "state_body": "answers", "training_compute_flops": "profile"}
