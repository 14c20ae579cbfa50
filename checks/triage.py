"""Applicability triage: from a few answers about a service, which rules apply and what to audit.

Before an audit, an agency asks whether its service is high-impact AI under Korea's Framework Act
(Art 2(4) and the ministry's 2026 guideline), whether Art 31's notice and labelling duties apply,
whether Art 32's safety duties are reached (Decree 24(1)'s three criteria), whether a fully
automated decision is lawful and which rights it gives (행정기본법 Art 20, PIPA Art 37-2), whether
the EU AI Act prohibits the practice (Art 5) and which point of its Annex III it falls under, which
indicative impact level Canada's AIA would give, and so which policy packs (and their checks) the
audit needs.

The rules are written below, one function per finding, each citing the clause ids of
`../shared/REGULATIONS.md`; a `ClauseRef` whose id was not verified letter by letter against the
official text says so (`verified: false`, shown with a `?`). An unanswered question is never
guessed: a finding that depends on it is `unknown` and names it in `missing`. Reasons are kept as
phrases (`checks/phrase.py`) so that a Korean report can say them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from assay.checks.phrase import N_, Phrase, Text, said

if TYPE_CHECKING:
    from assay.checks.context import ServiceProfile
    from assay.checks.policy import PolicyPack

# 2: the answers and findings of Art 5, 6(3) profiling, Art 31, Decree 24(1) and fully automated
# decisions were added; records of version 1 still read (every new answer is optional).
SCHEMA_VERSION = "2"
# Framework Act Art 32 + Decree 24(1): one of the three criteria of the safety duties, training
# compute of at least this many FLOPs (the other two: state of the art, risk of broad and serious
# effects); compute alone does not trigger them.
COMPUTE_THRESHOLD_FLOPS = 1e26


def _no_bool(value: Any) -> Any:
    """Refuse yes/no where a number of FLOPs is asked (pydantic would read true as 1.0)."""
    if isinstance(value, bool):
        raise ValueError("expected a number of FLOPs (e.g. 3.2e+24), not yes/no")
    return value


# A declared training compute in floating-point operations: a finite number ≥ 0. YAML reads `1e26`
# as text; pydantic reads that text as the number.
Flops = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, allow_inf_nan=False)]

# The domains of Art 2(4) (items 가–차), plus two that are in none of them. `hiring`,
# `loan_screening` and `rights_and_duties` are the one item on judgments about rights and duties.
Domain = Literal[
    "energy",
    "drinking_water",
    "healthcare",
    "medical_devices",
    "nuclear",
    "biometrics_investigation",
    "hiring",
    "loan_screening",
    "rights_and_duties",
    "transport",
    "public_service_eligibility",
    "student_evaluation",
    "general_information",
    "other",
]
RightsEffect = Literal["none", "low", "moderate", "high", "very_high"]
Reversibility = Literal["reversible", "reversible_with_effort", "difficult", "irreversible"]


class TriageAnswers(BaseModel):
    """The triage questions; an answer left out (or null) is unknown and is never guessed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: Domain | None = Field(
        None,
        description="The Art 2(4) domain the system works in; general_information or other when none.",
    )
    final_decision: Literal["person", "system"] | None = Field(
        None, description="Who takes the final decision about a person: a person or the system."
    )
    discretion: bool | None = Field(
        None, description="Whether the decision's criteria leave discretion (are not objective rules)."
    )
    automation: Literal["assists", "recommends", "decides"] | None = Field(
        None, description="What the system does: assists a person, recommends a decision, or decides."
    )
    provision_or_order: bool | None = Field(
        None, description="Whether the decision is whether, or in what order, a service is provided."
    )
    social_security: bool | None = Field(None, description="Whether the decision is in social security.")
    rights_effect: RightsEffect | None = Field(
        None, description="The decision's effect on a person's rights, life or safety."
    )
    reversibility: Reversibility | None = Field(
        None, description="How far the decision's effect can be undone."
    )
    state_body: bool | None = Field(
        None, description="Whether the operator is a state body or public institution."
    )
    on_behalf_of_state_body: bool | None = Field(
        None,
        description="Whether the operator develops or runs the system on behalf of a state body or public "
        "institution (Framework Act Art 2(7); EU AI Act Annex III 5(a)).",
    )
    profiling: bool | None = Field(
        None,
        description="Whether the system profiles natural persons, e.g. scores individuals' eligibility or "
        "fraud risk: EU AI Act Art 6(3) (a profiling Annex III system is always high-risk).",
    )
    social_scoring: bool | None = Field(
        None,
        description="Whether it scores people by social behaviour or personal traits, leading to "
        "detrimental treatment in unrelated contexts or out of proportion: EU AI Act Art 5(1)(c).",
    )
    crime_prediction: bool | None = Field(
        None,
        description="Whether it predicts the risk that a person commits a criminal offence based solely on "
        "profiling or personality traits: EU AI Act Art 5(1)(d).",
    )
    realtime_biometric_id: bool | None = Field(
        None,
        description="Whether it identifies people remotely by biometrics in real time in publicly "
        "accessible spaces for law enforcement: EU AI Act Art 5(1)(h).",
    )
    generative: bool | None = Field(
        None, description="Whether the service uses generative AI: Framework Act Art 31(1)-(3)."
    )
    state_of_the_art: bool | None = Field(
        None, description="Whether the model uses state-of-the-art technology: Decree 24(1) (Art 32)."
    )
    broad_serious_risk: bool | None = Field(
        None,
        description="Whether the model carries a risk of broad and serious effects on life, safety or "
        "fundamental rights: Decree 24(1) (Art 32).",
    )
    interacts_with_people: bool | None = Field(
        None, description="Whether people talk with the system directly (a chatbot): EU AI Act Art 50."
    )
    training_compute_flops: Flops | None = Field(
        None, description="The candidate's declared training compute in FLOPs (Framework Act Art 32)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> TriageAnswers:
        if self.final_decision == "system" and self.automation in ("assists", "recommends"):
            raise ValueError(
                f"final_decision: 'system' takes the final decision, but automation '{self.automation}' "
                "says the system does not decide"
            )
        return self


class TriageProfile(BaseModel):
    """A service profile for triage only (an agency triages before it has data): no audit fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Text
    decision: Text
    triage: TriageAnswers | None = None


class ClauseRef(BaseModel):
    """A clause a finding rests on; `verified` is false when its id was not checked letter by letter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    source: str
    verified: bool

    def shown(self) -> str:
        """Return the id, marked with `?` when it was not verified."""
        return self.id if self.verified else f"{self.id}?"


Topic = Literal[
    "kr_high_impact",
    "kr_notice",
    "kr_compute",
    "kr_automated_decision",
    "eu_prohibited",
    "eu_annex_iii",
    "ca_impact_level",
]
TITLES: dict[str, Text] = {
    "kr_high_impact": Text(
        ko="고영향 인공지능 (인공지능기본법 제2조제4호)", en="High-impact AI (Framework Act Art 2(4))"
    ),
    "kr_notice": Text(
        ko="이용자 고지와 표시 (인공지능기본법 제31조)",
        en="Notice to users and labelling (Framework Act Art 31)",
    ),
    "kr_compute": Text(
        ko="안전성 확보 의무 (인공지능기본법 제32조, 시행령 제24조제1항)",
        en="Safety duties (Framework Act Art 32; Decree 24(1))",
    ),
    "kr_automated_decision": Text(
        ko="완전히 자동화된 결정 (행정기본법 제20조, 개인정보 보호법 제37조의2)",
        en="Fully automated decisions (General Act on Public Administration Art 20; PIPA Art 37-2)",
    ),
    "eu_prohibited": Text(ko="EU 인공지능법 금지 관행 (제5조)", en="EU AI Act prohibited practices (Art 5)"),
    "eu_annex_iii": Text(ko="EU 인공지능법 부속서 III", en="EU AI Act Annex III"),
    "ca_impact_level": Text(ko="캐나다 영향 수준 (참고용)", en="Canada's AIA impact level (indicative)"),
}


class TriageFinding(BaseModel):
    """One finding: its answer, the category it names, the clauses and reasons, what is unanswered.

    Answers by topic: kr_high_impact yes / no / unknown (category: the Art 2(4) item, e.g. 자);
    kr_notice yes / no / unknown (category: 31(1), or 31(1)–(3) for generative AI); kr_compute
    reached / not_reached / unknown; kr_automated_decision flagged (possibly unlawful: category
    Art 20) / yes / no / unknown; eu_prohibited prohibited / none / unknown (category: the Art 5
    points); eu_annex_iii high_risk / transparency / none / unknown (category: the Annex III point,
    e.g. 5(a), or Art 50); ca_impact_level I–IV / unknown.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: Topic
    title: Text
    answer: str
    category: str | None = None
    clauses: list[ClauseRef] = Field(default_factory=list)
    # The answer keys whose absence leaves the finding unknown.
    missing: list[str] = Field(default_factory=list)
    # In English; `phrases` says the same in a form each report language can say.
    reasons: list[str] = Field(default_factory=list)
    phrases: list[Phrase] = Field(default_factory=list)

    def said(self, lang: str, translate: Callable[[str], str] | None = None) -> list[str]:
        """Return the reasons in `lang`."""
        return said(self.phrases, self.reasons, lang, translate)


PackNeed = Literal["applies", "pending", "reference"]


class PackAdvice(BaseModel):
    """A shipped policy pack the audit should use, how firmly, why, and the checks it relies on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    # applies: the framework's test is met; pending: met unless an unknown answer shows otherwise;
    # reference: not binding here (voluntary, or another country's public service).
    need: PackNeed
    checks: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    phrases: list[Phrase] = Field(default_factory=list)

    def said(self, lang: str, translate: Callable[[str], str] | None = None) -> list[str]:
        """Return the reasons in `lang`."""
        return said(self.phrases, self.reasons, lang, translate)


class TriageResult(BaseModel):
    """The whole triage: the answers used and where each came from, the findings, packs and checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: str = SCHEMA_VERSION
    service: str | None = None
    answers: TriageAnswers
    # Where each given answer came from: profile, answers (the answers file) or candidate.
    sources: dict[str, Literal["profile", "answers", "candidate"]] = Field(default_factory=dict)
    findings: list[TriageFinding]
    packs: list[PackAdvice] = Field(default_factory=list)
    # The checks the packs that apply (or are pending) use as evidence, sorted.
    checks: list[str] = Field(default_factory=list)

    def finding(self, topic: str) -> TriageFinding:
        """Return the finding on `topic`."""
        return next(f for f in self.findings if f.topic == topic)

    def pack(self, pack_id: str) -> PackAdvice | None:
        """Return the advice on pack `pack_id`, or None when the triage does not name it."""
        return next((p for p in self.packs if p.id == pack_id), None)


# --- clause references --------------------------------------------------------------------------


def _ref(clause_id: str, source: str, verified: bool = True) -> ClauseRef:
    return ClauseRef(id=clause_id, source=source, verified=verified)


KR_2_4 = _ref("KR-AIBA-2.4", "Framework Act on AI Art 2(4)")
KR_GUIDE = _ref(
    "KR-GUIDE-HI-2026",
    "the ministry's 2026 guideline on high-impact AI (public services); the id is Assay's",
    verified=False,
)
KR_2_7 = _ref("KR-AIBA-2.7", "Framework Act on AI Art 2(7) (business operators, incl. on an agency's behalf)")
KR_31 = _ref("KR-AIBA-31", "Framework Act on AI Art 31(1)-(3); Enforcement Decree Art 23; fine: Art 43(1)1")
KR_32 = _ref("KR-AIBA-32", "Framework Act on AI Art 32; Enforcement Decree Art 24(1) (three criteria)")
KR_33 = _ref("KR-AIBA-33", "Framework Act on AI Art 33; Enforcement Decree Art 25")
KR_34 = _ref("KR-AIBA-34.1", "Framework Act on AI Art 34(1)")
# Outside the AI Act, and not read in the official text (REGULATIONS.md: from an English translation).
KR_GAPA_20 = _ref("KR-GAPA-20", "General Act on Public Administration (행정기본법) Art 20", verified=False)
KR_PIPA_37_2 = _ref("KR-PIPA-37-2", "Personal Information Protection Act (개인정보 보호법) Art 37-2", False)
EU_50 = _ref("EU-AIA-50", "EU AI Act Art 50 (transparency to people interacting with an AI)", verified=False)
EU_6_3 = _ref(
    "EU-AIA-6(3)", "EU AI Act Art 6(3) (exemption; a profiling Annex III system is always high-risk)"
)
CA_AIA = _ref("CA-DADM-6.1", "Directive on Automated Decision-Making 6.1; Appendix B", verified=False)
CA_HUMAN = _ref(
    "CA-DADM-C-HUMAN",
    "Directive on Automated Decision-Making, Appendix C (human involvement in decisions)",
    verified=False,
)

# Art 2(4)'s items: letter, romanisation; all verified against the Act (REGULATIONS.md, "Checked
# against the official texts").
_ITEM_LETTERS: dict[str, tuple[str, str]] = {
    "energy": ("가", "ga"),
    "drinking_water": ("나", "na"),
    "healthcare": ("다", "da"),
    "medical_devices": ("라", "ra"),
    "nuclear": ("마", "ma"),
    "biometrics_investigation": ("바", "ba"),
    "hiring": ("사", "sa"),
    "loan_screening": ("사", "sa"),
    "rights_and_duties": ("사", "sa"),
    "transport": ("아", "a"),
    "public_service_eligibility": ("자", "ja"),
    "student_evaluation": ("차", "cha"),
}
_DECREE_ITEM = ("카", "ka")  # other domains the Enforcement Decree may add (none found in it)


def _item_ref(letter: str, roman: str) -> ClauseRef:
    return _ref(f"KR-AIBA-2.4.{roman}", f"Framework Act on AI Art 2(4) item {letter} ({roman})")


def _item_text(letter: str, roman: str) -> Text:
    return Text(ko=f"{letter}목", en=f"item {letter} ({roman})")


DOMAIN_TEXT: dict[str, Text] = {
    "energy": Text(ko="에너지 공급", en="energy supply"),
    "drinking_water": Text(ko="먹는물 생산·공급", en="drinking water"),
    "healthcare": Text(ko="보건의료", en="healthcare"),
    "medical_devices": Text(ko="의료기기", en="medical devices"),
    "nuclear": Text(ko="원자력 시설", en="nuclear facilities"),
    "biometrics_investigation": Text(
        ko="범죄 수사·체포의 생체인식정보 분석", en="biometrics in criminal investigation"
    ),
    "hiring": Text(ko="채용", en="hiring"),
    "loan_screening": Text(ko="대출 심사", en="loan screening"),
    "rights_and_duties": Text(ko="그 밖의 권리·의무 관계 판단", en="other judgments on rights and duties"),
    "transport": Text(ko="교통", en="transport"),
    "public_service_eligibility": Text(
        ko="공공서비스 자격 확인·결정·비용징수", en="public-service eligibility, decisions and fees"
    ),
    "student_evaluation": Text(ko="유아·초중등 학생 평가", en="K-12 student evaluation"),
    "general_information": Text(ko="일반 정보 안내", en="general information"),
    "other": Text(ko="그 밖의 영역", en="another domain"),
}
VALUE_TEXT: dict[str, Text] = {
    "none": Text(ko="없음", en="none"),
    "low": Text(ko="낮음", en="low"),
    "moderate": Text(ko="보통", en="moderate"),
    "high": Text(ko="높음", en="high"),
    "very_high": Text(ko="매우 높음", en="very high"),
    "reversible": Text(ko="되돌릴 수 있음", en="reversible"),
    "reversible_with_effort": Text(ko="노력하면 되돌릴 수 있음", en="reversible with effort"),
    "difficult": Text(ko="되돌리기 어려움", en="difficult to reverse"),
    "irreversible": Text(ko="되돌릴 수 없음", en="irreversible"),
}


def _p(template: str, **args: Phrase | Text | str) -> Phrase:
    return Phrase(template=template, args=args)


def _finding(
    topic: Topic,
    answer: str,
    phrases: list[Phrase],
    clauses: list[ClauseRef],
    category: str | None = None,
    missing: Sequence[str] = (),
) -> TriageFinding:
    unique = list({c.id: c for c in clauses}.values())
    return TriageFinding(
        topic=topic,
        title=TITLES[topic],
        answer=answer,
        category=category,
        clauses=unique,
        missing=list(dict.fromkeys(missing)),
        reasons=[str(p) for p in phrases],
        phrases=phrases,
    )


# --- three-valued logic: None is unknown --------------------------------------------------------


def _any(values: Sequence[bool | None]) -> bool | None:
    """True when one is true, False when all are false, else unknown."""
    if any(v is True for v in values):
        return True
    return False if all(v is False for v in values) else None


def _all(values: Sequence[bool | None]) -> bool | None:
    """True when all are true, False when one is false, else unknown."""
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


def _system_decides(a: TriageAnswers) -> bool | None:
    """Whether the system takes the final decision: the answer to final_decision, else automation."""
    if a.final_decision is not None:
        return a.final_decision == "system"
    if a.automation is not None:
        return a.automation == "decides"
    return None


def _public(a: TriageAnswers) -> tuple[bool | None, list[str]]:
    """Whether the operator is a state body or acts on one's behalf, and the answers still needed."""
    keys = ("state_body", "on_behalf_of_state_body")
    public = _any([a.state_body, a.on_behalf_of_state_body])
    return public, [] if public is not None else [k for k in keys if getattr(a, k) is None]


def _public_phrase(a: TriageAnswers, public: bool | None, covers: Phrase) -> Phrase | None:
    """Why the operator counts as public (or not), for a rule that covers use on an agency's behalf."""
    if public is False:
        return _p(N_("{covers}; the operator is neither one nor acting on one's behalf"), covers=covers)
    if public is None and a.state_body is None:
        return _p(
            N_("{covers}: whether the operator is one, or acts on one's behalf, is unanswered"), covers=covers
        )
    if public is None:
        return _p(
            N_(
                "{covers}: the operator is not one, and whether it acts on one's behalf is unanswered "
                "(a company that runs the system for an agency is still its operator)"
            ),
            covers=covers,
        )
    if not a.state_body:
        return _p(N_("{covers}: the operator acts on one's behalf"), covers=covers)
    return None


def _significance(a: TriageAnswers) -> tuple[bool | None, list[str]]:
    """Whether the effect on life, safety or rights is significant (Art 2(4)'s chapeau); what is missing."""
    if a.rights_effect is None:
        return None, ["rights_effect"]
    if a.rights_effect in ("high", "very_high"):
        return True, []
    # A moderate effect is the operator's judgement (the ministry can confirm it, Art 33): unknown.
    return (False if a.rights_effect in ("none", "low") else None), []


# --- Korea: Art 2(4) ----------------------------------------------------------------------------


def kr_high_impact(a: TriageAnswers) -> TriageFinding:
    """Say whether the system is high-impact AI under Art 2(4), and under which item."""
    if a.domain is None:
        why = _p(N_("the domain is unanswered: Art 2(4) lists the domains of high-impact AI"))
        return _finding("kr_high_impact", "unknown", [why], [KR_2_4], missing=["domain"])
    domain = DOMAIN_TEXT[a.domain]
    if a.domain not in _ITEM_LETTERS:
        phrases = [_p(N_("{domain} is in none of the domains Art 2(4) lists"), domain=domain)]
        clauses = [KR_2_4]
        if a.domain == "other":
            phrases.append(
                _p(
                    N_("{item} lets the Enforcement Decree add domains; none was found in it"),
                    item=_item_text(*_DECREE_ITEM),
                )
            )
            clauses.append(_item_ref(*_DECREE_ITEM))
        return _finding("kr_high_impact", "no", phrases, clauses)
    if a.domain == "public_service_eligibility":
        return _kr_public_service(a)
    return _kr_significant(a)


def _effect_phrase(a: TriageAnswers) -> Phrase:
    """Why the effect on rights is, is not, or may be significant (Art 2(4)'s chapeau)."""
    if a.rights_effect is None:
        return _p(
            N_(
                "Art 2(4) requires a significant effect on life, safety or fundamental rights, and that "
                "effect is unanswered"
            )
        )
    effect = VALUE_TEXT[a.rights_effect]
    significant, _ = _significance(a)
    if significant:
        return _p(N_("the effect on rights is {effect}: significant"), effect=effect)
    if significant is False:
        return _p(
            N_(
                "the effect on rights is {effect}: not the significant effect Art 2(4) requires of every item"
            ),
            effect=effect,
        )
    return _p(
        N_(
            "whether an effect on rights that is {effect} is significant is the operator's judgement, "
            "which the ministry can confirm (Art 33)"
        ),
        effect=effect,
    )


def _kr_public_service(a: TriageAnswers) -> TriageFinding:
    """Item 자: a state body's judgment (or one made on its behalf), with a significant effect, on a
    ground of the ministry's 2026 guideline."""
    letter, roman = _ITEM_LETTERS["public_service_eligibility"]
    item, clauses = _item_text(letter, roman), [KR_2_4, _item_ref(letter, roman), KR_GUIDE]
    public, public_missing = _public(a)
    covers = _p(
        N_(
            "{item} covers judgments of state bodies and public institutions, also when made on their "
            "behalf (Art 2(7))"
        ),
        item=item,
    )
    public_why = _public_phrase(a, public, covers)
    if public is not True:
        clauses.append(KR_2_7)
    significant, effect_missing = _significance(a)
    effect_why = _effect_phrase(a)
    if public is False:
        return _finding("kr_high_impact", "no", [public_why] if public_why else [], clauses)
    if significant is False:
        return _finding("kr_high_impact", "no", [effect_why], clauses)
    grounds = _guideline_grounds(a)
    hit = _any([held for held, _, _ in grounds])
    if hit is False:
        head = _p(N_("not high-impact under {item}: none of the guideline's grounds holds"), item=item)
        return _finding("kr_high_impact", "no", [head] + [p for _, p, _ in grounds], [*clauses, KR_33])
    if hit and public and significant:
        head = _p(
            N_("high-impact AI under Art 2(4) {item}: the operator's duties of Art 34 apply"), item=item
        )
        held = [p for g, p, _ in grounds if g]
        extra = [public_why] if public_why else []
        return _finding(
            "kr_high_impact", "yes", [head, *held, effect_why, *extra], [*clauses, KR_34], category=letter
        )
    # Unknown: a ground holds or may hold, but the operator, the effect or the grounds are unsettled.
    missing = list(public_missing)
    shown = [p for g, p, _ in grounds if g] if hit else [p for _, p, _ in grounds]
    if not hit:
        missing += [key for g, _, keys in grounds if g is None for key in keys]
    missing += effect_missing
    if public_why is not None:
        shown.insert(0, public_why)
    if significant is not True:
        shown.append(effect_why)
    if missing:
        head = _p(
            N_("high-impact unknown until {missing} are answered; it is not guessed"),
            missing=", ".join(missing),
        )
    else:
        head = _p(N_("high-impact unknown: the operator judges whether the effect is significant"))
    return _finding(
        "kr_high_impact", "unknown", [head, *shown], [*clauses, KR_33], category=letter, missing=missing
    )


def _guideline_grounds(a: TriageAnswers) -> list[tuple[bool | None, Phrase, list[str]]]:
    """The guideline's three grounds: whether each holds, why, and the answers it still needs."""
    # 1. An eligibility judgment, unless its criteria are objective and leave no discretion.
    if a.discretion is None:
        why1 = _p(
            N_(
                "an eligibility judgment is high-impact unless its criteria are objective with no "
                "discretion, and whether they leave discretion is unanswered"
            )
        )
    elif a.discretion:
        why1 = _p(N_("the criteria leave discretion: an eligibility judgment with discretion is high-impact"))
    else:
        why1 = _p(N_("the criteria are objective and leave no discretion"))
    # 2. Deciding whether, or in what order, a service is provided.
    if a.provision_or_order is None:
        why2 = _p(
            N_("whether the system decides whether or in what order a service is provided is unanswered")
        )
    elif a.provision_or_order:
        why2 = _p(N_("the system decides whether or in what order a service is provided"))
    else:
        why2 = _p(N_("the system does not decide whether or in what order a service is provided"))
    # 3. A fully automated final decision in social security.
    decides = _system_decides(a)
    needs3: list[str] = []
    if a.social_security is False:
        held3, why3 = False, _p(N_("the decision is not in social security"))
    elif decides is False:
        held3, why3 = False, _p(N_("a person takes the final decision, not the system"))
    elif a.social_security and decides:
        held3, why3 = True, _p(N_("the system takes a final decision in social security without a person"))
    else:
        held3 = None
        needs3 = [
            k for k, v in (("social_security", a.social_security), ("final_decision", decides)) if v is None
        ]
        why3 = _p(
            N_("whether the system takes a final decision in social security without a person is unanswered")
        )
    return [
        (a.discretion, why1, ["discretion"]),
        (a.provision_or_order, why2, ["provision_or_order"]),
        (held3, why3, needs3),
    ]


def _kr_significant(a: TriageAnswers) -> TriageFinding:
    """Items other than 자: high-impact where the effect on life, safety or rights is significant."""
    assert a.domain is not None
    letter, roman = _ITEM_LETTERS[a.domain]
    args: dict[str, Phrase | Text | str] = {
        "domain": DOMAIN_TEXT[a.domain],
        "item": _item_text(letter, roman),
    }
    clauses = [KR_2_4, _item_ref(letter, roman)]
    effect = a.rights_effect
    if effect is None:
        why = _p(
            N_(
                "{domain} is a domain of Art 2(4) {item}: high-impact when its effect on life, safety or "
                "fundamental rights is significant, and that effect is unanswered"
            ),
            **args,
        )
        return _finding(
            "kr_high_impact", "unknown", [why], [*clauses, KR_33], category=letter, missing=["rights_effect"]
        )
    args["effect"] = VALUE_TEXT[effect]
    if effect in ("high", "very_high"):
        head = _p(
            N_("high-impact AI under Art 2(4) {item}: the operator's duties of Art 34 apply"),
            item=args["item"],
        )
        why = _p(
            N_("{domain} is a domain of Art 2(4) {item} and the effect on rights is {effect}: significant"),
            **args,
        )
        return _finding("kr_high_impact", "yes", [head, why], [*clauses, KR_34], category=letter)
    if effect in ("none", "low"):
        why = _p(
            N_(
                "{domain} is a domain of Art 2(4) {item}, but the effect on rights is {effect}: "
                "not significant"
            ),
            **args,
        )
        return _finding("kr_high_impact", "no", [why], [*clauses, KR_33])
    why = _p(
        N_(
            "{domain} is a domain of Art 2(4) {item}; whether an effect on rights that is {effect} is "
            "significant is the operator's judgement, which the ministry can confirm (Art 33)"
        ),
        **args,
    )
    return _finding("kr_high_impact", "unknown", [why], [*clauses, KR_33], category=letter)


# --- Korea: Art 31 ------------------------------------------------------------------------------


def kr_notice(a: TriageAnswers, high_impact: TriageFinding) -> TriageFinding:
    """Say whether Art 31's notice to users (and, for generative AI, labelling) applies."""
    phrases: list[Phrase] = []
    missing: list[str] = []
    answer, category = "unknown", None
    if a.generative:
        answer, category = "yes", "31(1)–(3)"
        phrases += [
            _p(
                N_(
                    "the service uses generative AI: tell its users (이용자) in advance that it runs on "
                    "generative AI (Art 31(1)), in a way Decree 23(1) accepts"
                )
            ),
            _p(N_("label its outputs as made by generative AI, and deepfakes clearly (Art 31(2)–(3))")),
        ]
    elif high_impact.answer == "yes":
        answer, category = "yes", "31(1)"
        phrases.append(
            _p(
                N_(
                    "high-impact AI: tell its users (이용자) in advance that the service runs on "
                    "high-impact AI (Art 31(1)), in a way Decree 23(1) accepts"
                )
            )
        )
        if a.generative is None:
            missing.append("generative")
            phrases.append(
                _p(
                    N_(
                        "whether it uses generative AI is unanswered: if it does, its outputs are "
                        "labelled too (Art 31(2)–(3))"
                    )
                )
            )
    elif a.generative is False and high_impact.answer == "no":
        answer = "no"
        phrases.append(
            _p(N_("neither generative nor high-impact AI: Art 31's notice and labelling do not apply"))
        )
    else:
        if a.generative is None:
            missing.append("generative")
            phrases.append(_p(N_("whether the service uses generative AI is unanswered (Art 31)")))
        if high_impact.answer == "unknown":
            missing += high_impact.missing
            phrases.append(_p(N_("whether it is high-impact AI is not settled (Art 31(1))")))
    if answer == "yes":
        phrases.append(
            _p(
                N_(
                    "not giving the notice is fined up to KRW 30 million (Art 43(1)1), unless the system "
                    "serves only the operator's internal work (Decree 23(4)2)"
                )
            )
        )
    if answer == "yes" and high_impact.answer != "yes":
        phrases.append(_p(N_("no shipped policy pack covers Art 31 outside high-impact AI: plan it apart")))
    return _finding("kr_notice", answer, phrases, [KR_31], category=category, missing=missing)


# --- Korea: Art 32 ------------------------------------------------------------------------------


def kr_compute(a: TriageAnswers, candidate_flops: float | None = None) -> TriageFinding:
    """Say whether Art 32's safety duties apply: all three criteria of Decree 24(1) must hold."""
    flops = a.training_compute_flops
    phrases: list[Phrase] = []
    if flops is None:
        compute = None
        phrases.append(
            _p(
                N_(
                    "the training compute is unanswered: give training_compute_flops in the answers "
                    "or in candidate.yaml"
                )
            )
        )
    else:
        args = {"flops": f"{flops:.3g}", "threshold": f"{COMPUTE_THRESHOLD_FLOPS:.0e}"}
        compute = flops >= COMPUTE_THRESHOLD_FLOPS
        if compute:
            phrases.append(_p(N_("declared training compute {flops} FLOPs ≥ {threshold}"), **args))
        else:
            phrases.append(_p(N_("declared training compute {flops} FLOPs < {threshold}"), **args))
    art = {
        True: _p(N_("the model uses state-of-the-art technology")),
        False: _p(N_("the model does not use state-of-the-art technology")),
        None: _p(N_("whether the model uses state-of-the-art technology is unanswered")),
    }[a.state_of_the_art]
    risk = {
        True: _p(N_("the model carries a risk of broad and serious effects")),
        False: _p(N_("the model carries no risk of broad and serious effects")),
        None: _p(N_("whether the model carries a risk of broad and serious effects is unanswered")),
    }[a.broad_serious_risk]
    phrases += [art, risk]
    held = _all([compute, a.state_of_the_art, a.broad_serious_risk])
    missing: list[str] = []
    if held:
        answer = "reached"
        head = _p(N_("all three criteria of Decree 24(1) hold: Art 32's safety duties apply"))
        phrases.append(_p(N_("no shipped policy pack covers Art 32: plan its duties apart")))
    elif held is False:
        answer = "not_reached"
        head = _p(
            N_(
                "Art 32's safety duties apply only when all three criteria of Decree 24(1) hold, not on "
                "compute alone; one does not"
            )
        )
    else:
        answer = "unknown"
        keys = ("training_compute_flops", "state_of_the_art", "broad_serious_risk")
        missing = [k for k in keys if getattr(a, k) is None]
        head = _p(N_("Art 32's safety duties apply only when all three criteria of Decree 24(1) hold"))
    phrases.insert(0, head)
    if flops is not None and candidate_flops is not None and candidate_flops != flops:
        phrases.append(
            _p(
                N_("the candidate declares {declared} FLOPs; the answers' {flops} FLOPs are used"),
                declared=f"{candidate_flops:.3g}",
                flops=f"{flops:.3g}",
            )
        )
    return _finding("kr_compute", answer, phrases, [KR_32], missing=missing)


# --- Korea: fully automated decisions (outside the AI Act) --------------------------------------


def _fully_automated(a: TriageAnswers) -> bool | None:
    """Whether the system takes the final decision, from final_decision (automation 'decides' alone
    does not say that no person signs it off)."""
    if a.final_decision is not None:
        return a.final_decision == "system"
    return False if a.automation in ("assists", "recommends") else None


def kr_automated_decision(a: TriageAnswers) -> TriageFinding:
    """Flag a fully automated discretionary disposition (행정기본법 Art 20); name PIPA Art 37-2's rights."""
    clauses = [KR_GAPA_20, KR_PIPA_37_2]
    automated = _fully_automated(a)
    if automated is False:
        why = _p(N_("a person takes the final decision: it is not a fully automated decision"))
        return _finding("kr_automated_decision", "no", [why], clauses)
    if automated is None:
        why = _p(N_("whether the system takes the final decision without a person is unanswered"))
        return _finding("kr_automated_decision", "unknown", [why], clauses, missing=["final_decision"])
    rights = _p(
        N_(
            "a fully automated decision: PIPA Art 37-2 gives the person the right to refuse it and to an "
            "explanation, and the criteria must be disclosed"
        )
    )
    public, public_missing = _public(a)
    if a.discretion and public:
        why = _p(
            N_(
                "a fully automated disposition with discretion: 행정기본법 Art 20 allows fully automated "
                "dispositions only where there is no discretion, so it is possibly unlawful"
            )
        )
        return _finding("kr_automated_decision", "flagged", [why, rights], clauses, category="Art 20")
    if a.discretion is False or public is False:
        return _finding("kr_automated_decision", "yes", [rights], clauses)
    missing = (["discretion"] if a.discretion is None else []) + public_missing
    why = _p(
        N_(
            "whether it is a discretionary disposition of an administrative agency (행정기본법 Art 20) "
            "is unanswered"
        )
    )
    return _finding("kr_automated_decision", "unknown", [why, rights], clauses, missing=missing)


# --- EU AI Act: Art 5 ---------------------------------------------------------------------------

# The prohibitions the triage screens: point, the answer that asks about it, what it forbids.
_ART_5: tuple[tuple[str, str, Text], ...] = (
    (
        "5(1)(c)",
        "social_scoring",
        Text(
            ko="사회적 점수 평가: 관련 없는 맥락에서 또는 지나치게 불리한 대우로 이어지는 평가",
            en="social scoring leading to detrimental treatment in unrelated contexts or out of proportion",
        ),
    ),
    (
        "5(1)(d)",
        "crime_prediction",
        Text(
            ko="프로파일링만으로 개인의 범죄 위험을 예측하는 것",
            en="predicting a person's risk of committing a criminal offence based solely on profiling",
        ),
    ),
    (
        "5(1)(h)",
        "realtime_biometric_id",
        Text(
            ko="법 집행을 위해 공개된 장소에서 하는 실시간 원격 생체인식 신원확인 (좁은 예외를 빼고)",
            en="real-time remote biometric identification in public spaces for law enforcement (save "
            "narrow exceptions)",
        ),
    ),
)


def eu_prohibited(a: TriageAnswers) -> TriageFinding:
    """Screen the practices Art 5 prohibits: social scoring, crime prediction by profiling alone, and
    real-time remote biometric identification."""
    clauses = [_ref(f"EU-AIA-{point}", f"EU AI Act Art {point}") for point, _, _ in _ART_5]
    given = [(point, getattr(a, key), key, what) for point, key, what in _ART_5]
    hits = [(point, what) for point, held, _, what in given if held]
    if hits:
        phrases = [_p(N_("prohibited under Art {point}: {what}"), point=p, what=w) for p, w in hits]
        phrases.append(
            _p(
                N_(
                    "a prohibited practice may not be placed on the market or used in the EU; no audit "
                    "makes it lawful"
                )
            )
        )
        return _finding(
            "eu_prohibited", "prohibited", phrases, clauses, category=", ".join(p for p, _ in hits)
        )
    missing = [key for _, held, key, _ in given if held is None]
    if not missing:
        why = _p(N_("none of the screened prohibitions applies (Art 5(1)(c), (d), (h))"))
        return _finding("eu_prohibited", "none", [why], clauses)
    why = _p(N_("the Art 5 screen is unanswered: {missing}"), missing=", ".join(missing))
    return _finding("eu_prohibited", "unknown", [why], clauses, missing=missing)


# --- EU AI Act: Annex III and Art 50 ------------------------------------------------------------

# Annex III points by domain: point, whether REGULATIONS.md's check of the official text names it,
# what it covers.
_ANNEX_III: dict[str, tuple[str, bool, Text]] = {
    "public_service_eligibility": (
        "5(a)",
        True,
        Text(
            ko="공공부조 급여·서비스의 수급 자격 평가",
            en="eligibility for public assistance benefits and services",
        ),
    ),
    "loan_screening": ("5(b)", True, Text(ko="개인의 신용도 평가", en="creditworthiness of natural persons")),
    "hiring": ("4", True, Text(ko="고용: 채용과 선발", en="employment: recruitment and selection")),
    "student_evaluation": (
        "3(b)",
        False,
        Text(ko="교육: 학습 성과 평가", en="education: evaluating learning outcomes"),
    ),
    "biometrics_investigation": (
        "1(a)",
        True,
        Text(ko="원격 생체인식 신원확인", en="remote biometric identification"),
    ),
}
_INFRASTRUCTURE = Text(
    ko="주요 기반시설의 안전 구성요소이면 부속서 III 2?에 해당한다",
    en="a safety component of critical infrastructure falls under Annex III 2?",
)
# Domains where Annex III (or Art 6(1)) applies depending on a use the triage does not ask about.
_DEPENDS: dict[str, Text] = {
    "healthcare": Text(
        ko="의료기기(제6조제1항), 응급 분류(부속서 III 5(d)?), 의료서비스 수급 자격(5(a)) 가운데 "
        "무엇인지에 따라 다르다",
        en="it depends on whether it is a medical device (Art 6(1)), emergency triage (Annex III 5(d)?) "
        "or eligibility for healthcare services (5(a))",
    ),
    "medical_devices": Text(
        ko="제3자 적합성 평가를 받는 의료기기이면 제6조제1항과 부속서 I에 따라 고위험이다",
        en="a medical device that needs a third-party conformity assessment is high-risk under Art 6(1) "
        "and Annex I",
    ),
    "nuclear": Text(
        ko="부속서 I에는 원자력 법령이 없다. 그 용도를 부속서 III(예: 2? 주요 기반시설)에서 찾아보아야 한다",
        en="Annex I lists no nuclear legislation; the use must be looked up in Annex III (e.g. 2? "
        "critical infrastructure)",
    ),
    "transport": _INFRASTRUCTURE,
    "energy": _INFRASTRUCTURE,
    "drinking_water": _INFRASTRUCTURE,
    "rights_and_duties": Text(
        ko="부속서 III에서 그 용도를 찾아보아야 한다", en="the specific use must be looked up in Annex III"
    ),
    "other": Text(
        ko="부속서 III(예: 7 이민, 8 사법)에서 그 용도를 찾아보아야 한다",
        en="the use must be looked up in Annex III (e.g. 7 migration, 8 justice)",
    ),
}


def _annex_ref(point: str, verified: bool) -> ClauseRef:
    return _ref(f"EU-AIA-ANNEX-III-{point}", f"EU AI Act Annex III point {point}", verified)


def _profiling_phrase(a: TriageAnswers) -> Phrase:
    """What Art 6(3)'s exemption means for a listed system: never open to one that profiles."""
    if a.profiling:
        return _p(
            N_(
                "the system profiles natural persons: an Annex III system that profiles is always "
                "high-risk, and Art 6(3)'s exemption is not open to it"
            )
        )
    if a.profiling is False:
        return _p(
            N_(
                "Art 6(3) exempts a listed system only for a narrow procedural task, improving a completed "
                "human activity, detecting patterns without replacing the human assessment, or a "
                "preparatory task, as the provider documents (Art 6(4)); objective criteria are no ground"
            )
        )
    return _p(
        N_(
            "whether the system profiles natural persons is unanswered; if it does (eligibility or "
            "fraud-risk scoring of individuals does), it is always high-risk"
        )
    )


def eu_annex_iii(a: TriageAnswers) -> TriageFinding:
    """Say which point of Annex III the system falls under, and whether Art 50 transparency applies."""
    phrases: list[Phrase] = []
    clauses: list[ClauseRef] = []
    missing: list[str] = []
    answer, category = "none", None
    if a.domain is None:
        answer, missing = "unknown", ["domain"]
        phrases.append(_p(N_("the domain is unanswered: Annex III lists high-risk uses by domain")))
    elif a.domain in _ANNEX_III:
        point, verified, what = _ANNEX_III[a.domain]
        shown = point if verified else f"{point}?"
        clauses.append(_annex_ref(point, verified))
        public, public_missing = _public(a) if a.domain == "public_service_eligibility" else (True, [])
        covers = _p(N_("Annex III {point} covers use by public authorities or on their behalf"), point=shown)
        public_why = _public_phrase(a, public, covers)
        if public is None:
            answer, missing = "unknown", public_missing
        elif public:
            answer, category = "high_risk", point
            phrases.append(_p(N_("high-risk under Annex III {point}: {what}"), point=shown, what=what))
            phrases.append(_profiling_phrase(a))
            clauses.append(EU_6_3)
        if public_why is not None:
            phrases.append(public_why)
    elif a.domain in _DEPENDS:
        answer = "unknown"
        phrases.append(_p(N_("{domain}: {how}"), domain=DOMAIN_TEXT[a.domain], how=_DEPENDS[a.domain]))
    else:
        phrases.append(_p(N_("{domain} is in no point of Annex III"), domain=DOMAIN_TEXT[a.domain]))

    if a.interacts_with_people:
        phrases.append(
            _p(
                N_(
                    "people interact with the system directly: Art 50 transparency (they are told "
                    "they deal with an AI)"
                )
            )
        )
        clauses.append(EU_50)
        if answer == "none":
            answer, category = "transparency", "Art 50"
    elif a.interacts_with_people is None and answer == "none":
        answer, missing = "unknown", ["interacts_with_people"]
        phrases.append(
            _p(N_("whether people interact with the system directly is unanswered (Art 50 transparency)"))
        )
    return _finding("eu_annex_iii", answer, phrases, clauses, category=category, missing=missing)


# --- Canada: indicative AIA level ---------------------------------------------------------------

# Appendix B's levels describe both the size of the impact and how reversible it is: I little
# impact, reversible and brief; II moderate, likely reversible; III high, often difficult to
# reverse; IV very high, irreversible. Rows: effect on rights; columns: reversibility.
CA_MATRIX: dict[str, dict[str, str]] = {
    "none": {"reversible": "I", "reversible_with_effort": "I", "difficult": "I", "irreversible": "I"},
    "low": {"reversible": "I", "reversible_with_effort": "I", "difficult": "II", "irreversible": "II"},
    "moderate": {
        "reversible": "II",
        "reversible_with_effort": "II",
        "difficult": "III",
        "irreversible": "III",
    },
    "high": {"reversible": "II", "reversible_with_effort": "III", "difficult": "III", "irreversible": "IV"},
    "very_high": {
        "reversible": "III",
        "reversible_with_effort": "IV",
        "difficult": "IV",
        "irreversible": "IV",
    },
}


def ca_impact_level(a: TriageAnswers) -> TriageFinding:
    """Give the indicative AIA impact level from the effect on rights and its reversibility."""
    official = _p(
        N_("the official AIA questionnaire decides the level: answer its scores in the ca-dadm checklist")
    )
    missing = [k for k in ("rights_effect", "reversibility") if getattr(a, k) is None]
    if a.rights_effect is None or a.reversibility is None:
        why = _p(N_("impact level unknown: {missing} unanswered"), missing=", ".join(missing))
        return _finding("ca_impact_level", "unknown", [why, official], [CA_AIA], missing=missing)
    level = CA_MATRIX[a.rights_effect][a.reversibility]
    phrases = [
        _p(
            N_("indicative level {level}: effect on rights {effect}, {reversibility}"),
            level=level,
            effect=VALUE_TEXT[a.rights_effect],
            reversibility=VALUE_TEXT[a.reversibility],
        ),
        official,
    ]
    clauses = [CA_AIA]
    if level in ("III", "IV") and _system_decides(a):
        phrases.append(
            _p(N_("at levels III and IV a human makes the final decision; here the system takes it"))
        )
        clauses.append(CA_HUMAN)
    return _finding("ca_impact_level", level, phrases, clauses, category=level)


# --- packs and checks ---------------------------------------------------------------------------


def evidence_checks(pack: PolicyPack) -> list[str]:
    """Return the ids of the checks a pack's clauses use as evidence, sorted."""
    return sorted({e.check for c in pack.clauses for e in c.evidence})


def _packs(
    findings: dict[str, TriageFinding], a: TriageAnswers, pack_checks: Mapping[str, Sequence[str]]
) -> list[PackAdvice]:
    """Which shipped packs the findings call for, each with how firmly and why."""
    advice: list[tuple[str, PackNeed, list[Phrase]]] = []
    kr, eu, ca = findings["kr_high_impact"], findings["eu_annex_iii"], findings["ca_impact_level"]
    prohibited = findings["eu_prohibited"].answer == "prohibited"
    if kr.answer == "yes":
        advice.append(
            ("kr-public-service", "applies", [_p(N_("high-impact under the Framework Act: Art 34 applies"))])
        )
    elif kr.answer == "unknown":
        why = _p(N_("until the Framework Act finding is settled, audit as if high-impact"))
        advice.append(("kr-public-service", "pending", [why]))
    if advice and a.domain not in (None, "public_service_eligibility"):
        advice[-1][2].append(
            _p(
                N_(
                    "the pack was written for item 자 (public services); its Art 34 and 35 clauses "
                    "hold for any high-impact AI"
                )
            )
        )
    where = _p(N_("where the EU AI Act applies (placed on the market or used in the EU)"))
    if eu.answer == "high_risk":
        why = _p(N_("high-risk under Annex III {point}"), point=eu.category or "")
        advice.append(("eu-ai-act-high-risk", "applies", [why, where]))
    elif eu.answer == "unknown":
        why = _p(N_("until the Annex III finding is settled, audit as if high-risk"))
        advice.append(("eu-ai-act-high-risk", "pending", [why, where]))
    if eu.answer in ("high_risk", "unknown") and eu.category not in (None, "5(a)"):
        advice[-1][2].append(
            _p(
                N_(
                    "the pack was written for Annex III 5(a); its Art 9–15 clauses are the duties of "
                    "any high-risk system"
                )
            )
        )
    if eu.answer in ("high_risk", "unknown") and prohibited:
        advice[-1][2].append(
            _p(N_("the practice is prohibited (Art 5): passing this pack does not make its use lawful"))
        )
    if advice:
        voluntary = _p(N_("voluntary: the agency's profile for high-impact decisions (NIST AI RMF 1.0)"))
        advice.append(("nist-ai-rmf", "reference", [voluntary]))
    # The Directive is about administrative decisions on people: a state body's, with some effect.
    if a.state_body and a.rights_effect not in (None, "none") and a.domain != "general_information":
        canada = _p(
            N_("binding on Canada's federal institutions only: a reference at impact level {level}"),
            level=ca.answer,
        )
        advice.append(("ca-dadm", "reference", [canada]))
    return [
        PackAdvice(
            id=pid,
            need=need,
            checks=list(pack_checks.get(pid, [])),
            reasons=[str(p) for p in why],
            phrases=why,
        )
        for pid, need, why in advice
    ]


# --- the triage ---------------------------------------------------------------------------------


def merge_answers(
    *given: tuple[Literal["profile", "answers", "candidate"], TriageAnswers | None],
) -> tuple[TriageAnswers, dict[str, Literal["profile", "answers", "candidate"]]]:
    """Return the answers with later sources overriding earlier ones, and where each came from.

    Only answers a source gives count (an explicit null makes the answer unknown again).
    """
    values: dict[str, Any] = {}
    sources: dict[str, Literal["profile", "answers", "candidate"]] = {}
    for origin, answers in given:
        if answers is None:
            continue
        for key in answers.model_fields_set:
            values[key] = getattr(answers, key)
            sources[key] = origin
    return TriageAnswers.model_validate(values), dict(sorted(sources.items()))


def triage(
    subject: ServiceProfile | TriageProfile | TriageAnswers | None,
    answers: TriageAnswers | None = None,
    *,
    compute: float | None = None,
    pack_checks: Mapping[str, Sequence[str]] | None = None,
) -> TriageResult:
    """Triage a service from its profile's `triage` block, overridden by `answers`.

    `compute` is the candidate's declared training compute (candidate.yaml), used when neither the
    profile nor the answers give one; `pack_checks` maps pack ids to their evidence checks
    (`evidence_checks`), so the result can list the checks the audit needs.
    """
    if isinstance(subject, TriageAnswers):
        service, base = None, subject
    else:
        service = subject.id if subject is not None else None
        base = getattr(subject, "triage", None)
    declared = TriageAnswers(training_compute_flops=compute) if compute is not None else None
    merged, sources = merge_answers(("candidate", declared), ("profile", base), ("answers", answers))
    high_impact = kr_high_impact(merged)
    findings = {
        "kr_high_impact": high_impact,
        "kr_notice": kr_notice(merged, high_impact),
        "kr_compute": kr_compute(merged, compute),
        "kr_automated_decision": kr_automated_decision(merged),
        "eu_prohibited": eu_prohibited(merged),
        "eu_annex_iii": eu_annex_iii(merged),
        "ca_impact_level": ca_impact_level(merged),
    }
    packs = _packs(findings, merged, pack_checks or {})
    checks = sorted({c for p in packs if p.need != "reference" for c in p.checks})
    return TriageResult(
        service=service,
        answers=merged,
        sources=sources,
        findings=list(findings.values()),
        packs=packs,
        checks=checks,
    )
