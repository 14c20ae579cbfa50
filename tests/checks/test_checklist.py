"""Checklists and the verdict engine: unanswered questions need attestation, answers decide exactly
their own clauses, and the recommendation depends on the verdicts alone."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from assay.checks.checklist import Answer
from assay.checks.context import Text
from assay.checks.errors import AssayInputError
from assay.checks.policy import Verdict, VerdictStatus, evaluate, judge_question, recommend
from assay.data.loaders import POLICIES_DIR, load_answers, load_policy

SIGNED = {"answered_by": "Kim Minji, welfare policy team", "answered_at": date(2026, 11, 20)}


@pytest.fixture(scope="module")
def pack():
    return load_policy("kr-public-service")[0]


def _all(pack, value) -> dict[str, Answer]:
    """Every question answered `value` (a name for text ones); no exemption claimed."""
    named = "Kim Minji, 02-0000-0000"
    return {q.id: Answer(answer="no" if q.exempts else value if q.kind == "yes_no" else named, **SIGNED)
            for _, q in pack.questions()}  # fmt: skip


def _by_clause(verdicts) -> dict[str, VerdictStatus]:
    return {v.clause_id: v.verdict for v in verdicts}


def test_unanswered_questions_need_attestation_and_keep_the_audit_conditional(pack) -> None:
    verdicts = _by_clause(evaluate(pack, {}))
    assert verdicts["KR-AIBA-34.1.4"] == verdicts["KR-AIBA-34.1.5"] == VerdictStatus.NEEDS_ATTESTATION
    assert verdicts["KR-AIBA-31"] == VerdictStatus.NEEDS_ATTESTATION


def test_changing_one_answer_changes_exactly_the_clause_that_asks_it(pack) -> None:
    base = _by_clause(evaluate(pack, {}, _all(pack, "yes")))
    for clause, question in pack.questions():
        if question.kind != "yes_no" or question.exempts:
            continue
        answers = {**_all(pack, "yes"), question.id: Answer(answer="no", **SIGNED)}
        changed = {c for c, v in _by_clause(evaluate(pack, {}, answers)).items() if v != base[c]}
        assert changed == {clause.id}, question.id
        unanswered = {**_all(pack, "yes"), question.id: Answer()}
        verdicts = _by_clause(evaluate(pack, {}, unanswered))
        assert verdicts[clause.id] in (VerdictStatus.NEEDS_ATTESTATION, VerdictStatus.NOT_ASSESSED)


def test_not_telling_users_is_a_gate_failure_unless_the_internal_use_exemption_is_claimed(pack) -> None:
    # Art 31(1) carries the Act's only direct fine (Art 43(1)1), so a "no" makes the vendor not eligible.
    answers = {**_all(pack, "yes"), "kr.notice": Answer(answer="no", **SIGNED)}
    verdicts = evaluate(pack, {}, answers)
    notice = next(v for v in verdicts if v.clause_id == "KR-AIBA-31")
    assert notice.severity == "gate" and notice.verdict == VerdictStatus.FAIL
    assert recommend(verdicts).value == "not_eligible"
    assert any("kr.notice_internal_use: no (Kim Minji" in r and "applies" in r for r in notice.reasons)
    # Decree 23(4)2: used only for the agency's internal work, no notice is due: the clause lifts.
    exempt = {**answers, "kr.notice_internal_use": Answer(answer="yes", **SIGNED)}
    verdicts = evaluate(pack, {}, exempt)
    notice = next(v for v in verdicts if v.clause_id == "KR-AIBA-31")
    assert notice.verdict == VerdictStatus.NOT_APPLICABLE
    assert [e.metric for e in notice.evidence] == ["kr.notice_internal_use"]
    assert "exempt, so the clause does not apply" in notice.reasons[0]
    # No gate fails any more (the checks were not run here, so their gates are not assessed).
    assert recommend(verdicts).value == "inconclusive"
    # Unanswered, the exemption is not presumed: the notice questions decide.
    unclaimed = {k: v for k, v in answers.items() if k != "kr.notice_internal_use"}
    notice = next(v for v in evaluate(pack, {}, unclaimed) if v.clause_id == "KR-AIBA-31")
    assert notice.verdict == VerdictStatus.FAIL and "no exemption claimed" in notice.reasons[0]


def test_an_exempting_question_must_be_yes_no(tmp_path, pack) -> None:
    broken = yaml.safe_load((POLICIES_DIR / "kr-public-service.yaml").read_text(encoding="utf-8"))
    notice = next(c for c in broken["clauses"] if c["id"] == "KR-AIBA-31")
    next(q for q in notice["questions"] if q.get("exempts")).update(kind="text")
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AssayInputError) as caught:
        load_policy(str(path))
    assert str(caught.value).startswith(f"{path}: ") and "must be of kind yes_no" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_no_on_a_gate_question_makes_the_candidate_not_eligible(pack) -> None:
    answers = {**_all(pack, True), "kr.retention_5y": Answer(answer=False, **SIGNED)}
    verdicts = evaluate(pack, {}, answers)
    (clause,) = [v for v in verdicts if v.clause_id == "KR-AIBA-34.1.5"]
    assert clause.verdict == VerdictStatus.FAIL
    assert any("kr.retention_5y: no (Kim Minji" in r for r in clause.reasons)
    assert recommend(verdicts).value == "not_eligible"


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("yes", "yes_no", VerdictStatus.PASS),
        (True, "yes_no", VerdictStatus.PASS),
        ("No", "yes_no", VerdictStatus.FAIL),
        ("maybe", "yes_no", VerdictStatus.NEEDS_ATTESTATION),
        ("   ", "text", VerdictStatus.NEEDS_ATTESTATION),
        ("Kim Minji", "text", VerdictStatus.PASS),
    ],
)
def test_judge_question(pack, value, kind, expected) -> None:
    question = next(q for _, q in pack.questions() if q.kind == kind)
    assert judge_question(question, Answer(answer=value, **SIGNED))[0] == expected


def test_an_answer_must_say_who_gave_it_and_when() -> None:
    with pytest.raises(ValidationError, match="answered_by"):
        Answer(answer="yes")


def _write(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def test_answers_file_errors_name_the_file_and_field(tmp_path, pack) -> None:
    signed = {"answered_by": "K", "answered_at": "2026-11-20"}

    def answers(**items: dict) -> dict:
        return {"policy": pack.id, "answers": items}

    cases = {
        "field 'answers.kr.nope': no such question": answers(**{"kr.nope": {"answer": "yes", **signed}}),
        "field 'policy': answers for 'eu-ai-act'": {"policy": "eu-ai-act", "answers": {}},
        "field 'answers.kr.notice': an answer needs 'answered_by'": answers(**{"kr.notice": {"answer": "y"}}),
    }
    for message, body in cases.items():
        path = _write(tmp_path, body)
        with pytest.raises(AssayInputError) as caught:
            load_answers(path, pack)
        assert str(caught.value).startswith(str(path)) and message in str(caught.value), str(caught.value)
    ok = load_answers(
        _write(tmp_path, {"policy": pack.id, "answers": {"kr.notice": {"answer": "yes", **signed}}}), pack
    )
    assert ok["kr.notice"].answered_at == date(2026, 11, 20)


VERDICTS = st.sampled_from(list(VerdictStatus))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["gate", "advisory"]), VERDICTS), max_size=12), st.randoms())
def test_the_recommendation_is_a_function_of_the_verdicts_alone(items, rnd) -> None:
    """Same verdicts in any order give the same recommendation, and it follows the documented rule."""
    verdicts = [
        Verdict(clause_id=f"X-{i}", title=Text(ko="조항", en="clause"), source="s", verified=True,
                severity=severity, verdict=status, evidence=[])
        for i, (severity, status) in enumerate(items)
    ]  # fmt: skip
    shuffled = list(verdicts)
    rnd.shuffle(shuffled)
    got = recommend(verdicts)
    assert recommend(shuffled) == got
    gates = [s for sev, s in items if sev == "gate"]
    if VerdictStatus.FAIL in gates:
        assert got.value == "not_eligible"
    elif {VerdictStatus.INCONCLUSIVE, VerdictStatus.NOT_ASSESSED} & set(gates):
        assert got.value == "inconclusive"
    elif all(s in (VerdictStatus.PASS, VerdictStatus.NOT_APPLICABLE) for _, s in items):
        assert got.value == "eligible"  # a clause that does not apply neither helps nor hurts
    else:  # advisory failures or pending attestations only
        assert got.value == "eligible_with_conditions"


def test_a_pack_missing_a_translation_fails_with_one_line(tmp_path) -> None:
    broken = yaml.safe_load((POLICIES_DIR / "kr-public-service.yaml").read_text(encoding="utf-8"))
    del broken["clauses"][1]["title"]["en"]
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    with pytest.raises(AssayInputError) as caught:
        load_policy(str(path))
    assert str(caught.value) == f"{path}: field 'clauses.1.title.en': Field required"


@pytest.mark.parametrize("given", ["maybe", "y", 1, ""])
def test_a_yes_no_question_refuses_an_answer_that_is_neither(tmp_path, pack, given) -> None:
    body = {"answers": {"kr.notice": {"answer": given, "answered_by": "K", "answered_at": "2026-11-20"}}}
    path = _write(tmp_path, {"policy": pack.id, **body})
    with pytest.raises(AssayInputError) as caught:
        load_answers(path, pack)
    assert str(caught.value) == f"{path}: field 'answers.kr.notice.answer': expected yes or no, got {given!r}"


@pytest.mark.parametrize("given", ["yes", "No", True, False, " TRUE "])
def test_a_yes_no_question_takes_yes_or_no_in_any_case(tmp_path, pack, given) -> None:
    body = {"answers": {"kr.notice": {"answer": given, "answered_by": "K", "answered_at": "2026-11-20"}}}
    assert load_answers(_write(tmp_path, {"policy": pack.id, **body}), pack)["kr.notice"].answer == given


def test_an_answer_dated_after_tomorrow_is_refused(tmp_path, pack) -> None:
    today = date(2026, 12, 7)

    def load(answered_at: str) -> dict[str, Answer]:
        body = {"answers": {"kr.notice": {"answer": "yes", "answered_by": "K", "answered_at": answered_at}}}
        return load_answers(_write(tmp_path, {"policy": pack.id, **body}), pack, today=today)

    # A day ahead of UTC is today somewhere (Korea is UTC+9): accepted.
    assert load("2026-12-08")["kr.notice"].answered_at == date(2026, 12, 8)
    with pytest.raises(AssayInputError) as caught:
        load("2026-12-09")
    assert str(caught.value) == (
        f"{tmp_path / 'answers.yaml'}: field 'answers.kr.notice.answered_at': 2026-12-09 is in the future "
        "(the latest date accepted is 2026-12-08); give the date the answer was given"
    )
