"""Every shipped pack: what it cites exists, its questions decide exactly their own clauses, and
Canada's impact level follows the AIA's scoring rule from the answers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from assay.checks.checklist import Answer
from assay.checks.crosswalk import crosswalk
from assay.checks.errors import AssayInputError
from assay.checks.policy import VerdictStatus, evaluate, recommend
from assay.checks.registry import all_checks
from assay.data.loaders import POLICIES_DIR, load_answers, load_policy
from assay.policies import DEFAULT_POLICY

SHIPPED = sorted(p.stem for p in POLICIES_DIR.glob("*.yaml"))
SIGNED = {"answered_by": "Kim Minji, welfare policy team", "answered_at": date(2026, 11, 20)}
LEVEL_I = {"ca.aia_impact_score": 20, "ca.aia_impact_max": 100, "ca.aia_mitigation_score": 10,
           "ca.aia_mitigation_max": 40}  # fmt: skip


def _signed(**values: object) -> dict[str, Answer]:
    return {qid: Answer(answer=value, **SIGNED) for qid, value in values.items()}


def _all_yes(pack, **numbers: float) -> dict[str, Answer]:
    answers = {}
    for _, q in pack.questions():
        value = {"yes_no": "yes", "text": "Kim Minji, 02-0000-0000", "number": numbers.get(q.id)}[q.kind]
        answers[q.id] = Answer(answer=value, **SIGNED)
    return answers


def _by_clause(verdicts) -> dict[str, VerdictStatus]:
    return {v.clause_id: v.verdict for v in verdicts}


def test_four_packs_ship_with_the_default_first_in_mind() -> None:
    assert SHIPPED == ["ca-dadm", "eu-ai-act-high-risk", "kr-public-service", "nist-ai-rmf"]
    assert DEFAULT_POLICY in SHIPPED


def test_the_packs_readme_gives_each_packs_true_clause_counts() -> None:
    text = (POLICIES_DIR / "README.md").read_text(encoding="utf-8")
    for ref in SHIPPED:
        pack, _ = load_policy(ref)
        gates = sum(c.severity == "gate" for c in pack.clauses)
        line = next(li for li in text.splitlines() if li.startswith(f"| `{ref}`"))
        assert line.endswith(f"| {gates} / {len(pack.clauses) - gates} |"), line


@pytest.mark.parametrize("ref", SHIPPED)
def test_every_cited_check_and_metric_exists_and_every_text_has_both_languages(ref) -> None:
    pack, _ = load_policy(ref)
    checks = all_checks()
    assert any(c.severity == "gate" for c in pack.clauses)
    for clause in pack.clauses:
        assert clause.title.ko.strip() and clause.title.en.strip(), clause.id
        for ev in clause.evidence:
            assert ev.metric in checks[ev.check].metrics, (clause.id, ev.check, ev.metric)
            assert ev.why is not None and ev.why.ko.strip() and ev.why.en.strip(), (clause.id, ev.metric)
        for q in clause.questions:
            assert q.text.ko.strip() and q.text.en.strip(), q.id


@pytest.mark.parametrize("ref", SHIPPED)
def test_packs_share_the_default_packs_statistics_so_a_record_can_be_judged_under_any(ref) -> None:
    assert load_policy(ref)[0].parameters == load_policy(DEFAULT_POLICY)[0].parameters


def test_only_the_canadian_ids_are_unverified() -> None:
    for ref in SHIPPED:
        pack, _ = load_policy(ref)
        assert {c.verified for c in pack.clauses} == {ref != "ca-dadm"}, ref


@pytest.mark.parametrize("ref", SHIPPED)
def test_changing_one_answer_changes_exactly_the_verdicts_that_depend_on_it(ref) -> None:
    pack, _ = load_policy(ref)
    base_answers = _all_yes(pack, **LEVEL_I)
    base = _by_clause(evaluate(pack, {}, base_answers))
    for clause, question in pack.questions():
        if question.kind == "number":
            continue
        flipped = {
            **base_answers,
            question.id: Answer(answer="no" if question.kind == "yes_no" else "", **SIGNED),
        }
        changed = {c for c, v in _by_clause(evaluate(pack, {}, flipped)).items() if v != base[c]}
        # A clause that does not apply at level I does not move whatever its question says.
        assert changed == ({clause.id} if not clause.levels or "I" in clause.levels else set()), question.id


def test_the_impact_score_changes_exactly_the_clauses_that_depend_on_the_level() -> None:
    pack, _ = load_policy("ca-dadm")
    level_i = _by_clause(evaluate(pack, {}, _all_yes(pack, **LEVEL_I)))
    level_iv = _by_clause(evaluate(pack, {}, _all_yes(pack, **{**LEVEL_I, "ca.aia_impact_score": 90})))
    changed = {c for c in level_i if level_i[c] != level_iv[c]}
    assert changed == {c.id for c in pack.clauses if c.levels and "I" not in c.levels}
    assert {level_i[c] for c in changed} == {VerdictStatus.NOT_APPLICABLE}


@pytest.mark.parametrize(
    ("impact", "mitigation", "level"),
    [
        (0, 0, "I"),
        (25, 0, "I"),  # 25% is still level I: "≤ 25%"
        (26, 0, "II"),
        (50, 0, "II"),
        (51, 0, "III"),
        (51, 39, "II"),  # mitigation 39/40 = 97.5% → 15% off: 43.35
        (76, 0, "IV"),
        (88, 40, "III"),  # 74.8% after the deduction
        (100, 40, "IV"),  # 85% after the deduction
        (29, 32, "I"),  # mitigation exactly 80% → 15% off: 24.65
        (29, 31, "II"),  # mitigation 77.5%: no deduction
    ],
)
def test_impact_level_follows_the_aia_rule(impact, mitigation, level) -> None:
    pack, _ = load_policy("ca-dadm")
    assert pack.impact_levels is not None
    answers = _signed(**{**LEVEL_I, "ca.aia_impact_score": impact, "ca.aia_mitigation_score": mitigation})
    finding = pack.impact_levels.assess(answers)
    assert finding.level == level, finding.reason
    assert finding.reason.startswith(f"impact level {level}: impact score {impact:g} of 100")


def test_an_unknown_level_is_not_guessed_the_clauses_wait_for_it() -> None:
    pack, _ = load_policy("ca-dadm")
    answers = {k: v for k, v in _all_yes(pack).items() if not k.startswith("ca.aia_")}
    verdicts = {v.clause_id: v for v in evaluate(pack, {}, answers)}
    human = verdicts["CA-DADM-C-HUMAN"]
    assert human.verdict == VerdictStatus.NEEDS_ATTESTATION
    assert "impact level unknown: ca.aia_impact_score, ca.aia_impact_max unanswered" in human.reasons[0]
    assert verdicts["CA-DADM-6.1"].verdict == VerdictStatus.NEEDS_ATTESTATION


def test_a_human_deciding_matters_at_level_iii_only() -> None:
    pack, _ = load_policy("ca-dadm")
    no_human = {"ca.human_final_decision": Answer(answer="no", **SIGNED)}
    level_i = evaluate(pack, {}, {**_all_yes(pack, **LEVEL_I), **no_human})
    level_iii = evaluate(pack, {}, {**_all_yes(pack, **{**LEVEL_I, "ca.aia_impact_score": 60}), **no_human})
    assert _by_clause(level_i)["CA-DADM-C-HUMAN"] == VerdictStatus.NOT_APPLICABLE
    assert "applies only at levels III / IV; impact level I" in level_i[-3].reasons[0]
    assert _by_clause(level_iii)["CA-DADM-C-HUMAN"] == VerdictStatus.FAIL
    assert recommend(level_iii).value == "not_eligible"


def _write(tmp_path: Path, body: dict, name: str = "file.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


SCORE = "field 'answers.ca.aia_impact_score.answer'"


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"ca.aia_impact_score": "high"}, f"{SCORE}: expected a number ≥ 0, got 'high'"),
        ({"ca.aia_impact_score": -3}, f"{SCORE}: expected a number ≥ 0, got -3"),
        ({"ca.aia_impact_score": True}, f"{SCORE}: expected a number ≥ 0, got True"),
        ({"ca.aia_impact_score": 120, "ca.aia_impact_max": 100},
         f"{SCORE}: 120 is above the maximum ca.aia_impact_max = 100"),
        ({"ca.aia_mitigation_max": 0},
         "field 'answers.ca.aia_mitigation_max.answer': the maximum must be above 0"),
    ],
)  # fmt: skip
def test_bad_scores_in_an_answers_file_fail_with_one_line(tmp_path, answers, message) -> None:
    pack, _ = load_policy("ca-dadm")
    body = {"policy": "ca-dadm", "answers": {k: {"answer": v, **SIGNED} for k, v in answers.items()}}
    path = _write(tmp_path, body)
    with pytest.raises(AssayInputError) as caught:
        load_answers(path, pack)
    assert str(caught.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["clauses"][6].update(levels=["V"]),
         "field 'clauses.6.levels': unknown level 'V' (known: I, II, III, IV)"),
        (lambda p: p.pop("impact_levels"), "the pack defines no 'impact_levels'"),
        (lambda p: p["impact_levels"].update(score="ca.recourse"),
         "field 'impact_levels.score': 'ca.recourse' is not a number question of this pack"),
        (lambda p: p["impact_levels"]["levels"].pop(),
         "levels need strictly increasing 'up_to', the last one 1"),
        (lambda p: p["clauses"][0]["questions"][0].pop("topic"),
         "field 'clauses.0.questions.0.topic': Field required"),
    ],
)  # fmt: skip
def test_a_broken_level_scheme_fails_to_load_with_one_line(tmp_path, change, message) -> None:
    pack = yaml.safe_load((POLICIES_DIR / "ca-dadm.yaml").read_text(encoding="utf-8"))
    change(pack)
    path = _write(tmp_path, pack, "pack.yaml")
    with pytest.raises(AssayInputError) as caught:
        load_policy(str(path))
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text, text


def test_the_crosswalk_lines_up_every_packs_fairness_and_oversight_clauses() -> None:
    packs = [load_policy(ref)[0] for ref in SHIPPED]
    rows = {row.evidence: row for row in crosswalk(packs)}
    parity = rows["fairness.group_metrics selection_rate_ratio"]
    assert set(parity.packs) == set(SHIPPED)
    assert {u.clause for u in parity.packs["kr-public-service"]} == {"KR-ETHICS-03", "KR-DECREE-28.1.5"}
    assert [u.groups for u in parity.packs["kr-public-service"]] == [[], ["intersections"]]
    assert rows["human_oversight"].kind == "attested"
    # Every clause of every pack appears in the crosswalk at least once.
    listed = {(pid, u.clause) for row in rows.values() for pid, used in row.packs.items() for u in used}
    assert listed == {(p.id, c.id) for p in packs for c in p.clauses}
