"""Applicability triage: from a few answers about a service, which rules apply and what to audit.

Before an audit, an agency asks whether its service is high-impact AI under Korea's Framework Act
(Art 2(4) and the ministry's 2026 guideline), whether Art 32's training-compute threshold is
reached, which point of the EU AI Act's Annex III it falls under, which indicative impact level
Canada's AIA would give, and so which policy packs (and their checks) the audit needs.

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

SCHEMA_VERSION = "1"
# Framework Act Art 32: the safety duties of AI trained with at least this much compute (FLOPs), as
# the Enforcement Decree sets it (not among REGULATIONS.md's verified facts).
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


Topic = Literal["kr_high_impact", "kr_compute", "eu_annex_iii", "ca_impact_level"]
TITLES: dict[str, Text] = {
    "kr_high_impact": Text(
        ko="고영향 인공지능 (인공지능기본법 제2조제4호)", en="High-impact AI (Framework Act Art 2(4))"
    ),
    "kr_compute": Text(
        ko="학습 연산량 기준 (인공지능기본법 제32조)", en="Training compute threshold (Framework Act Art 32)"
    ),
    "eu_annex_iii": Text(ko="EU 인공지능법 부속서 III", en="EU AI Act Annex III"),
    "ca_impact_level": Text(ko="캐나다 영향 수준 (참고용)", en="Canada's AIA impact level (indicative)"),
}


class TriageFinding(BaseModel):
    """One finding: its answer, the category it names, the clauses and reasons, what is unanswered.

    Answers by topic: kr_high_impact yes / no / unknown (category: the Art 2(4) item, e.g. 자);
    kr_compute reached / not_reached / unknown; eu_annex_iii high_risk / transparency / none /
    unknown (category: the Annex III point, e.g. 5(a), or Art 50); ca_impact_level I–IV / unknown.
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
KR_32 = _ref(
    "KR-AIBA-32", "Framework Act on AI Art 32; Enforcement Decree threshold 10^26 FLOPs", verified=False
)
KR_33 = _ref("KR-AIBA-33", "Framework Act on AI Art 33; Enforcement Decree Art 25")
KR_34 = _ref("KR-AIBA-34.1", "Framework Act on AI Art 34(1)")
EU_50 = _ref("EU-AIA-50", "EU AI Act Art 50 (transparency to people interacting with an AI)", verified=False)
EU_6_3 = _ref("EU-AIA-6(3)", "EU AI Act Art 6(3) (Annex III systems that pose no significant risk)", False)
CA_AIA = _ref("CA-DADM-6.1", "Directive on Automated Decision-Making 6.1; Appendix B", verified=False)
CA_HUMAN = _ref(
    "CA-DADM-C-HUMAN",
    "Directive on Automated Decision-Making, Appendix C (human involvement in decisions)",
    verified=False,
)

# Art 2(4)'s items: letter, romanisation. Only item 자 (ja) is among REGULATIONS.md's verified facts;
# the other letters are as recalled from the Act and marked unverified.
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
_DECREE_ITEM = ("카", "ka")  # other domains the Enforcement Decree may add


def _item_ref(letter: str, roman: str) -> ClauseRef:
    return _ref(
        f"KR-AIBA-2.4.{roman}", f"Framework Act on AI Art 2(4) item {letter} ({roman})", letter == "자"
    )


def _item_text(letter: str, roman: str) -> Text:
    mark = "" if letter == "자" else "?"
    return Text(ko=f"{letter}목{mark}", en=f"item {letter} ({roman}){mark}")


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


def _system_decides(a: TriageAnswers) -> bool | None:
    """Whether the system takes the final decision: the answer to final_decision, else automation."""
    if a.final_decision is not None:
        return a.final_decision == "system"
    if a.automation is not None:
        return a.automation == "decides"
    return None


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
                    N_("unless the Enforcement Decree adds it ({item})"),
                    item=_item_text(*_DECREE_ITEM),
                )
            )
            clauses.append(_item_ref(*_DECREE_ITEM))
        return _finding("kr_high_impact", "no", phrases, clauses)
    if a.domain == "public_service_eligibility":
        return _kr_public_service(a)
    return _kr_significant(a)


def _kr_public_service(a: TriageAnswers) -> TriageFinding:
    """Item 자 as the ministry's 2026 guideline reads it: any of three grounds makes it high-impact."""
    letter, roman = _ITEM_LETTERS["public_service_eligibility"]
    item, clauses = _item_text(letter, roman), [KR_2_4, _item_ref(letter, roman), KR_GUIDE]
    if a.state_body is False:
        why = _p(
            N_("{item} covers judgments by state bodies and public institutions; the operator is neither"),
            item=item,
        )
        return _finding("kr_high_impact", "no", [why], clauses)
    grounds = _guideline_grounds(a)
    hit = _any([held for held, _, _ in grounds])
    if hit is False:
        head = _p(N_("not high-impact under {item}: none of the guideline's grounds holds"), item=item)
        return _finding("kr_high_impact", "no", [head] + [p for _, p, _ in grounds], [*clauses, KR_33])
    if hit and a.state_body:
        head = _p(
            N_("high-impact AI under Art 2(4) {item}: the operator's duties of Art 34 apply"), item=item
        )
        held = [p for g, p, _ in grounds if g]
        return _finding("kr_high_impact", "yes", [head, *held], [*clauses, KR_34], category=letter)
    # Unknown: a ground holds but the operator's kind is unanswered, or no ground is known to hold.
    missing = [] if a.state_body else ["state_body"]
    shown = [p for g, p, _ in grounds if g] if hit else [p for _, p, _ in grounds]
    if not hit:
        missing += [key for g, _, keys in grounds if g is None for key in keys]
    if a.state_body is None:
        shown.insert(
            0,
            _p(
                N_(
                    "{item} covers judgments by state bodies and public institutions: "
                    "whether the operator is one is unanswered"
                ),
                item=item,
            ),
        )
    head = _p(
        N_("high-impact unknown until {missing} are answered; it is not guessed"), missing=", ".join(missing)
    )
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


# --- Korea: Art 32 ------------------------------------------------------------------------------


def kr_compute(a: TriageAnswers, candidate_flops: float | None = None) -> TriageFinding:
    """Say whether the declared training compute reaches Art 32's threshold."""
    flops = a.training_compute_flops
    if flops is None:
        why = _p(
            N_(
                "the training compute is unanswered: give training_compute_flops in the answers "
                "or in candidate.yaml"
            )
        )
        return _finding("kr_compute", "unknown", [why], [KR_32], missing=["training_compute_flops"])
    args = {"flops": f"{flops:.3g}", "threshold": f"{COMPUTE_THRESHOLD_FLOPS:.0e}"}
    if flops >= COMPUTE_THRESHOLD_FLOPS:
        phrases = [
            _p(
                N_("declared training compute {flops} FLOPs ≥ {threshold}: Art 32's safety duties apply"),
                **args,
            ),
            _p(N_("no shipped policy pack covers Art 32: plan its duties apart")),
        ]
        answer = "reached"
    else:
        phrases = [_p(N_("declared training compute {flops} FLOPs < {threshold}"), **args)]
        answer = "not_reached"
    if candidate_flops is not None and candidate_flops != flops:
        phrases.append(
            _p(
                N_("the candidate declares {declared} FLOPs; the answers' {flops} FLOPs are used"),
                declared=f"{candidate_flops:.3g}",
                flops=args["flops"],
            )
        )
    return _finding("kr_compute", answer, phrases, [KR_32])


# --- EU AI Act: Annex III and Art 50 ------------------------------------------------------------

# Annex III points by domain: point, whether REGULATIONS.md lists it, what it covers.
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
    "biometrics_investigation": ("6", True, Text(ko="법 집행", en="law enforcement")),
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
        ko="안전 구성요소이면 부속서 I 또는 부속서 III 2?에 해당할 수 있다",
        en="a safety component may fall under Annex I or Annex III 2?",
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
        if a.domain == "public_service_eligibility" and a.state_body is None:
            answer, missing = "unknown", ["state_body"]
            phrases.append(
                _p(
                    N_(
                        "Annex III {point} covers use by or on behalf of public authorities: "
                        "whether the operator is one is unanswered"
                    ),
                    point=shown,
                )
            )
        elif a.domain == "public_service_eligibility" and a.state_body is False:
            phrases.append(
                _p(
                    N_(
                        "Annex III {point} covers use by or on behalf of public authorities; the "
                        "operator is neither, unless it acts on one's behalf"
                    ),
                    point=shown,
                )
            )
        else:
            answer, category = "high_risk", point
            phrases.append(_p(N_("high-risk under Annex III {point}: {what}"), point=shown, what=what))
            if a.domain == "biometrics_investigation":
                clauses.append(_annex_ref("1", False))
            if a.domain == "public_service_eligibility" and a.discretion is False:
                phrases.append(
                    _p(
                        N_(
                            "the criteria leave no discretion: Art 6(3) exempts a listed system that "
                            "poses no significant risk (e.g. a narrow procedural task), if the provider "
                            "documents why"
                        )
                    )
                )
                clauses.append(EU_6_3)
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
    findings = {
        "kr_high_impact": kr_high_impact(merged),
        "kr_compute": kr_compute(merged, compute),
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
