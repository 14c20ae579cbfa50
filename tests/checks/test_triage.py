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
        {"kr_high_impact": ("yes", "자"), "kr_notice": ("yes", "31(1)"), "kr_compute": ("unknown", None),
         "kr_automated_decision": ("no", None), "eu_prohibited": ("none", None),
         "eu_annex_iii": ("high_risk", "5(a)"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference",
         "ca-dadm": "reference"},
    ),
    "benefit-fee": (
        {"kr_high_impact": ("no", None), "kr_notice": ("no", None), "kr_compute": ("not_reached", None),
         "kr_automated_decision": ("no", None), "eu_prohibited": ("none", None),
         "eu_annex_iii": ("high_risk", "5(a)"), "ca_impact_level": ("I", "I")},
        {"eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference", "ca-dadm": "reference"},
    ),
    "hiring-screening": (
        {"kr_high_impact": ("yes", "사"), "kr_notice": ("yes", "31(1)"), "kr_compute": ("unknown", None),
         "kr_automated_decision": ("no", None), "eu_prohibited": ("none", None),
         "eu_annex_iii": ("high_risk", "4"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference"},
    ),
    "school-grading": (
        {"kr_high_impact": ("yes", "차"), "kr_notice": ("yes", "31(1)"), "kr_compute": ("unknown", None),
         "kr_automated_decision": ("no", None), "eu_prohibited": ("unknown", None),
         "eu_annex_iii": ("high_risk", "3(b)"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference",
         "ca-dadm": "reference"},
    ),
    "info-chatbot": (
        {"kr_high_impact": ("no", None), "kr_notice": ("no", None), "kr_compute": ("not_reached", None),
         "kr_automated_decision": ("no", None), "eu_prohibited": ("none", None),
         "eu_annex_iii": ("transparency", "Art 50"), "ca_impact_level": ("I", "I")},
        {},
    ),
    "generative-chatbot": (
        {"kr_high_impact": ("no", None), "kr_notice": ("yes", "31(1)–(3)"),
         "kr_compute": ("not_reached", None), "kr_automated_decision": ("no", None),
         "eu_prohibited": ("none", None), "eu_annex_iii": ("transparency", "Art 50"),
         "ca_impact_level": ("I", "I")},
        {},
    ),
    "loan-screening": (
        {"kr_high_impact": ("yes", "사"), "kr_notice": ("yes", "31(1)"), "kr_compute": ("unknown", None),
         "kr_automated_decision": ("yes", None), "eu_prohibited": ("none", None),
         "eu_annex_iii": ("high_risk", "5(b)"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference"},
    ),
    "frontier-assistant": (
        {"kr_high_impact": ("no", None), "kr_notice": ("yes", "31(1)–(3)"), "kr_compute": ("reached", None),
         "kr_automated_decision": ("no", None), "eu_prohibited": ("none", None),
         "eu_annex_iii": ("transparency", "Art 50"), "ca_impact_level": ("I", "I")},
        {},
    ),
    "social-scoring": (
        {"kr_high_impact": ("yes", "자"), "kr_notice": ("yes", "31(1)"), "kr_compute": ("unknown", None),
         "kr_automated_decision": ("no", None), "eu_prohibited": ("prohibited", "5(1)(c)"),
         "eu_annex_iii": ("high_risk", "5(a)"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference",
         "ca-dadm": "reference"},
    ),
    "contractor-eligibility": (
        {"kr_high_impact": ("unknown", "자"), "kr_notice": ("unknown", None),
         "kr_compute": ("unknown", None), "kr_automated_decision": ("no", None),
         "eu_prohibited": ("none", None), "eu_annex_iii": ("unknown", None),
         "ca_impact_level": ("III", "III")},
        {"kr-public-service": "pending", "eu-ai-act-high-risk": "pending", "nist-ai-rmf": "reference"},
    ),
    "automated-discretion": (
        {"kr_high_impact": ("yes", "자"), "kr_notice": ("yes", "31(1)"), "kr_compute": ("unknown", None),
         "kr_automated_decision": ("flagged", "Art 20"), "eu_prohibited": ("none", None),
         "eu_annex_iii": ("high_risk", "5(a)"), "ca_impact_level": ("III", "III")},
        {"kr-public-service": "applies", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference",
         "ca-dadm": "reference"},
    ),
    "unknown-answers": (
        {"kr_high_impact": ("unknown", "자"), "kr_notice": ("unknown", None),
         "kr_compute": ("unknown", None), "kr_automated_decision": ("unknown", None),
         "eu_prohibited": ("unknown", None), "eu_annex_iii": ("high_risk", "5(a)"),
         "ca_impact_level": ("unknown", None)},
        {"kr-public-service": "pending", "eu-ai-act-high-risk": "applies", "nist-ai-rmf": "reference"},
    ),
}  # fmt: skip
# Findings whose unknown may rest on another finding's judgement (no answer missing), or whose
# definite answer still names an answer that would add to it (kr_notice's labelling).
OPEN_ENDED = ("kr_high_impact", "kr_notice")


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
        assert (f.answer == "unknown") == bool(f.missing) or f.topic in OPEN_ENDED


def test_the_shipped_welfare_review_profile_is_high_impact_under_item_ja(pack_checks) -> None:
    profile, _ = load_profile("welfare-review")
    assert isinstance(profile, ServiceProfile) and profile.triage is not None
    result = triage(profile, pack_checks=pack_checks)
    assert _answers(result)["kr_high_impact"] == ("yes", "자")
    assert _answers(result)["eu_annex_iii"] == ("high_risk", "5(a)")
    assert _answers(result)["ca_impact_level"] == ("III", "III")
    assert result.finding("kr_compute").missing == [
        "training_compute_flops",
        "state_of_the_art",
        "broad_serious_risk",
    ]
    kr = result.finding("kr_high_impact")
    assert {c.id: c.verified for c in kr.clauses}["KR-AIBA-2.4.ja"] is True
    assert "discretion" in kr.reasons[1]
    assert "performance.classification" in result.checks


def test_a_profile_without_triage_answers_says_unknown_everywhere(pack_checks) -> None:
    profile, _ = load_profile("welfare-review")
    bare = profile.model_copy(update={"triage": None})
    result = triage(bare, pack_checks=pack_checks)
    assert {f.topic: f.answer for f in result.findings} == dict.fromkeys(
        EXPECTED["unknown-answers"][0], "unknown"
    )
    assert result.finding("kr_high_impact").missing == ["domain"]
    assert result.sources == {}
    assert "triage" not in bare.model_dump(mode="json")  # the record of an old profile is unchanged


def test_unknown_grounds_are_named_and_not_guessed() -> None:
    kr = triage(_profile("unknown-answers")).finding("kr_high_impact")
    assert kr.answer == "unknown"
    assert kr.missing == [
        "discretion",
        "provision_or_order",
        "social_security",
        "final_decision",
        "rights_effect",
    ]
    assert "not guessed" in kr.reasons[0]
    # One ground is enough, with the significant effect every item needs: discretion makes it
    # high-impact whatever the rest would say.
    with_discretion = triage(
        _profile("unknown-answers"), TriageAnswers(discretion=True, rights_effect="high")
    )
    assert _answers(with_discretion)["kr_high_impact"] == ("yes", "자")
    # Every ground excluded: not high-impact.
    none = TriageAnswers(discretion=False, provision_or_order=False, social_security=False)
    assert _answers(triage(_profile("unknown-answers"), none))["kr_high_impact"] == ("no", None)


def test_a_fully_automated_final_decision_in_social_security_is_high_impact() -> None:
    automated = TriageAnswers(final_decision="system", automation="decides", rights_effect="high")
    result = triage(_profile("benefit-fee"), automated)
    assert _answers(result)["kr_high_impact"] == ("yes", "자")
    assert "without a person" in result.finding("kr_high_impact").reasons[1]


def test_item_ja_needs_the_chapeaus_significant_effect() -> None:
    """Art 2(4)'s chapeau holds for item 자 too: a guideline ground with a low effect is not enough."""
    automated = TriageAnswers(final_decision="system", automation="decides")  # a guideline ground
    low = triage(_profile("benefit-fee"), automated).finding("kr_high_impact")
    assert (low.answer, low.category) == ("no", None)
    assert "not the significant effect Art 2(4) requires of every item" in low.reasons[0]
    # A moderate effect is the operator's judgement: unknown, with nothing left to answer.
    moderate = triage(_profile("welfare-eligibility"), TriageAnswers(rights_effect="moderate"))
    kr = moderate.finding("kr_high_impact")
    assert (kr.answer, kr.missing) == ("unknown", [])
    assert "KR-AIBA-33" in [c.id for c in kr.clauses]
    assert moderate.pack("kr-public-service").need == "pending"
    unanswered = triage(_profile("welfare-eligibility"), TriageAnswers(rights_effect=None))
    assert unanswered.finding("kr_high_impact").missing == ["rights_effect"]


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
    answers = TriageAnswers.model_validate(
        {"state_body": False, "on_behalf_of_state_body": False, "rights_effect": None}
    )
    result = triage(profile, answers)
    assert result.answers.state_body is False and result.answers.rights_effect is None
    assert result.sources["state_body"] == result.sources["rights_effect"] == "answers"
    assert result.sources["domain"] == "profile"
    assert _answers(result)["kr_high_impact"] == ("no", None)
    assert _answers(result)["ca_impact_level"] == ("unknown", None)
    assert result.finding("ca_impact_level").missing == ["rights_effect"]


def test_the_candidates_compute_counts_only_when_no_answer_gives_one() -> None:
    criteria = TriageAnswers(state_of_the_art=True, broad_serious_risk=True)
    from_candidate = triage(_profile("welfare-eligibility"), criteria, compute=2.5e26)
    assert _answers(from_candidate)["kr_compute"] == ("reached", None)
    assert from_candidate.sources["training_compute_flops"] == "candidate"
    overridden = triage(_profile("benefit-fee"), criteria, compute=2.5e26)
    compute = overridden.finding("kr_compute")
    assert compute.answer == "not_reached"
    assert overridden.sources["training_compute_flops"] == "profile"
    assert "declares 2.5e+26 FLOPs" in compute.reasons[-1]
    # Exactly at the threshold counts as reached (≥ 10^26).
    at = TriageAnswers(training_compute_flops=1e26, state_of_the_art=True, broad_serious_risk=True)
    assert triage(at).finding("kr_compute").answer == "reached"


def test_art_32_is_not_reached_on_compute_alone() -> None:
    """Decree 24(1): 2×10^26 FLOPs without state of the art and broad, serious risk is not Art 32."""
    neither = triage(
        TriageAnswers(training_compute_flops=2e26, state_of_the_art=False, broad_serious_risk=False)
    ).finding("kr_compute")
    assert (neither.answer, neither.missing) == ("not_reached", [])
    assert "not on compute alone" in neither.reasons[0]
    assert neither.clauses[0].id == "KR-AIBA-32" and neither.clauses[0].verified
    assert not any("safety duties apply" in r and "only" not in r for r in neither.reasons)
    # One criterion missing is enough to keep it from being reached.
    one = triage(TriageAnswers(training_compute_flops=2e26, state_of_the_art=True, broad_serious_risk=False))
    assert one.finding("kr_compute").answer == "not_reached"
    # Unanswered criteria leave it unknown and named, never reached on compute.
    unanswered = triage(TriageAnswers(training_compute_flops=2e26)).finding("kr_compute")
    assert (unanswered.answer, unanswered.missing) == ("unknown", ["state_of_the_art", "broad_serious_risk"])
    # Below the threshold, the other two do not matter.
    small = triage(TriageAnswers(training_compute_flops=9.9e25)).finding("kr_compute")
    assert (small.answer, small.missing) == ("not_reached", [])


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


V1_ANSWERS = (
    "domain", "final_decision", "discretion", "automation", "provision_or_order", "social_security",
    "rights_effect", "reversibility", "state_body", "interacts_with_people", "training_compute_flops",
)  # fmt: skip


def test_the_result_is_json_with_a_schema_and_round_trips(pack_checks) -> None:
    result = triage(_profile("loan-screening"), compute=1e20, pack_checks=pack_checks)
    text = result.model_dump_json()
    assert TriageResult.model_validate_json(text) == result
    schema = TriageResult.model_json_schema()
    assert {"schema_version", "answers", "findings", "packs", "checks"} <= set(schema["properties"])
    data = json.loads(text)
    assert data["schema_version"] == "2"
    # A record sealed by version 1 (four findings, the first eleven answers) still reads.
    old_topics = ("kr_high_impact", "kr_compute", "eu_annex_iii", "ca_impact_level")
    v1 = {
        **data,
        "schema_version": "1",
        "findings": [f for f in data["findings"] if f["topic"] in old_topics],
        "answers": {k: v for k, v in data["answers"].items() if k in V1_ANSWERS},
    }
    assert TriageResult.model_validate(v1).schema_version == "1"
    ca = next(f for f in data["findings"] if f["topic"] == "ca_impact_level")
    assert "CA-DADM-C-HUMAN" in [c["id"] for c in ca["clauses"]]  # the system decides at level III


def test_unverified_ids_are_marked_and_checked_ones_are_not() -> None:
    result = triage(_profile("school-grading"))
    eu = result.finding("eu_annex_iii")
    point = eu.clauses[0]
    assert (point.id, point.verified, point.shown()) == (
        "EU-AIA-ANNEX-III-3(b)",
        False,
        "EU-AIA-ANNEX-III-3(b)?",
    )
    # The Art 2(4) letters were all checked against the Act (REGULATIONS.md).
    kr = {c.id: c.verified for c in result.finding("kr_high_impact").clauses}
    assert kr["KR-AIBA-2.4.cha"] is True and kr["KR-AIBA-2.4"] is True
    assert "item 차 (cha):" in result.finding("kr_high_impact").reasons[0]
    for domain in get_args(Domain):
        for c in triage(TriageAnswers(domain=domain)).finding("kr_high_impact").clauses:
            assert c.verified or c.id == "KR-GUIDE-HI-2026", c.id
    # Checked Annex III points and Art 6(3), 5; the law outside the AI Act was read in translation.
    checked = {
        "5(a)": "public_service_eligibility",
        "5(b)": "loan_screening",
        "1(a)": "biometrics_investigation",
    }
    for point, domain in checked.items():
        eu = triage(TriageAnswers(domain=domain, state_body=True)).finding("eu_annex_iii")
        assert (eu.category, eu.clauses[0].id, eu.clauses[0].verified) == (
            point,
            f"EU-AIA-ANNEX-III-{point}",
            True,
        )
    automated = triage(_profile("automated-discretion"))
    assert all(c.verified for c in automated.finding("eu_prohibited").clauses)
    assert {c.shown() for c in automated.finding("kr_automated_decision").clauses} == {
        "KR-GAPA-20?",
        "KR-PIPA-37-2?",
    }


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
        "on_behalf_of_state_body": st.booleans(),
        "profiling": st.booleans(),
        "social_scoring": st.booleans(),
        "crime_prediction": st.booleans(),
        "realtime_biometric_id": st.booleans(),
        "generative": st.booleans(),
        "state_of_the_art": st.booleans(),
        "broad_serious_risk": st.booleans(),
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
            full_finding = complete.finding(f.topic)
            assert f.answer == full_finding.answer
            # Art 31(1)'s notice is certain; generative AI, once answered, adds labelling to it. A
            # practice prohibited under one point of Art 5 stays so; more points may be named.
            widened = (
                f.topic == "kr_notice" and "generative" in f.missing and full_finding.category == "31(1)–(3)"
            ) or (
                f.topic == "eu_prohibited"
                and set((f.category or "").split(", ")) <= set((full_finding.category or "").split(", "))
            )
            assert f.category == full_finding.category or widened
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


def test_a_profiling_eligibility_system_is_never_exempt() -> None:
    """Art 6(3): an Annex III system that profiles is always high-risk, however objective its criteria."""
    for discretion in (True, False):
        for automation in ("assists", "recommends", "decides"):
            answers = TriageAnswers(discretion=discretion, automation=automation, final_decision=None)
            eu = triage(_profile("welfare-eligibility"), answers).finding("eu_annex_iii")
            assert (eu.answer, eu.category) == ("high_risk", "5(a)")
            assert any("always high-risk" in r and "not open to it" in r for r in eu.reasons), eu.reasons
            assert not any("exempts" in r for r in eu.reasons)
            assert {c.id: c.verified for c in eu.clauses}["EU-AIA-6(3)"] is True
    # No discretion no longer hints at an exemption; one that does not profile is told what 6(3) covers.
    fee = triage(_profile("benefit-fee")).finding("eu_annex_iii")
    assert fee.answer == "high_risk"
    assert any("narrow procedural task" in r and "objective criteria are no ground" in r for r in fee.reasons)
    unanswered = triage(_profile("unknown-answers")).finding("eu_annex_iii")
    assert any("whether the system profiles natural persons is unanswered" in r for r in unanswered.reasons)


def test_a_prohibited_practice_is_reported_as_such() -> None:
    result = triage(_profile("social-scoring"))
    art5 = result.finding("eu_prohibited")
    assert (art5.answer, art5.category, art5.missing) == ("prohibited", "5(1)(c)", [])
    assert "prohibited under Art 5(1)(c): social scoring" in art5.reasons[0]
    assert "no audit makes it lawful" in art5.reasons[-1]
    assert "EU-AIA-5(1)(c)" in [c.id for c in art5.clauses]
    eu_pack = result.pack("eu-ai-act-high-risk")
    assert eu_pack is not None and any("prohibited (Art 5)" in r for r in eu_pack.reasons)
    # Each screened prohibition on its own, and all of them named together.
    for key, point in (("crime_prediction", "5(1)(d)"), ("realtime_biometric_id", "5(1)(h)")):
        alone = triage(TriageAnswers.model_validate({key: True})).finding("eu_prohibited")
        assert (alone.answer, alone.category) == ("prohibited", point)
    every = TriageAnswers(social_scoring=True, crime_prediction=True, realtime_biometric_id=True)
    assert triage(every).finding("eu_prohibited").category == "5(1)(c), 5(1)(d), 5(1)(h)"
    # Unanswered screens stay unknown and are named; a screen answered no everywhere is none.
    partial = triage(TriageAnswers(social_scoring=False)).finding("eu_prohibited")
    assert (partial.answer, partial.missing) == ("unknown", ["crime_prediction", "realtime_biometric_id"])


def test_a_generative_chatbot_has_the_korean_notice_and_labelling_duties() -> None:
    result = triage(_profile("generative-chatbot"))
    notice = result.finding("kr_notice")
    assert (notice.answer, notice.category, notice.missing) == ("yes", "31(1)–(3)", [])
    said = " ".join(notice.reasons)
    assert "users (이용자)" in said and "Art 31(1)" in said and "Decree 23(1)" in said
    assert "label its outputs" in said and "Art 31(2)–(3)" in said
    assert "KRW 30 million (Art 43(1)1)" in said and "Decree 23(4)2" in said
    assert [c.id for c in notice.clauses] == ["KR-AIBA-31"]
    assert result.finding("kr_high_impact").answer == "no"  # a duty without being high-impact
    assert "no shipped policy pack covers Art 31" in notice.reasons[-1]
    # A high-impact service gets the notice; whether it is generative is still asked.
    welfare = triage(_profile("unknown-answers"), TriageAnswers(discretion=True, rights_effect="high"))
    notice = welfare.finding("kr_notice")
    assert (notice.answer, notice.category, notice.missing) == ("yes", "31(1)", ["generative"])
    # Neither generative nor high-impact: no Art 31 duty.
    assert triage(_profile("info-chatbot")).finding("kr_notice").answer == "no"


def test_a_body_acting_on_an_agencys_behalf_is_unknown_not_no() -> None:
    """Art 2(7) and Annex III 5(a) reach a company working for an agency: state_body=false is not enough."""
    result = triage(_profile("contractor-eligibility"))
    kr, eu = result.finding("kr_high_impact"), result.finding("eu_annex_iii")
    assert (kr.answer, kr.missing) == ("unknown", ["on_behalf_of_state_body"])
    assert (eu.answer, eu.missing) == ("unknown", ["on_behalf_of_state_body"])
    assert "KR-AIBA-2.7" in [c.id for c in kr.clauses]
    assert any(
        "acts on one's behalf, is unanswered" in r or "acts on one's behalf is unanswered" in r
        for r in eu.reasons
    )
    assert result.pack("kr-public-service").need == result.pack("eu-ai-act-high-risk").need == "pending"
    for_agency = triage(_profile("contractor-eligibility"), TriageAnswers(on_behalf_of_state_body=True))
    assert _answers(for_agency)["kr_high_impact"] == ("yes", "자")
    assert _answers(for_agency)["eu_annex_iii"] == ("high_risk", "5(a)")
    own = triage(_profile("contractor-eligibility"), TriageAnswers(on_behalf_of_state_body=False))
    assert _answers(own)["kr_high_impact"] == ("no", None)
    assert _answers(own)["eu_annex_iii"] == ("none", None)


def test_a_fully_automated_discretionary_decision_is_flagged() -> None:
    result = triage(_profile("automated-discretion"))
    auto = result.finding("kr_automated_decision")
    assert (auto.answer, auto.category) == ("flagged", "Art 20")
    assert "행정기본법 Art 20" in auto.reasons[0] and "possibly unlawful" in auto.reasons[0]
    assert "PIPA Art 37-2" in auto.reasons[1]
    assert all(word in auto.reasons[1] for word in ("refuse", "explanation", "criteria"))
    # Without discretion it is allowed, and the person keeps PIPA's rights.
    objective = triage(_profile("automated-discretion"), TriageAnswers(discretion=False))
    auto = objective.finding("kr_automated_decision")
    assert (auto.answer, auto.category) == ("yes", None)
    assert "PIPA Art 37-2" in auto.reasons[0]
    # A person deciding is not a fully automated decision; an unanswered discretion is unknown.
    assert triage(_profile("welfare-eligibility")).finding("kr_automated_decision").answer == "no"
    unknown = triage(_profile("automated-discretion"), TriageAnswers(discretion=None))
    assert unknown.finding("kr_automated_decision").missing == ["discretion"]


def test_biometric_identification_is_annex_iii_1a_and_nuclear_is_not_annex_i() -> None:
    bio = triage(TriageAnswers(domain="biometrics_investigation")).finding("eu_annex_iii")
    assert (bio.answer, bio.category) == ("high_risk", "1(a)")
    assert bio.clauses[0].id == "EU-AIA-ANNEX-III-1(a)"
    nuclear = triage(TriageAnswers(domain="nuclear")).finding("eu_annex_iii")
    assert nuclear.answer == "unknown"
    assert "Annex I lists no nuclear legislation" in nuclear.reasons[0]
