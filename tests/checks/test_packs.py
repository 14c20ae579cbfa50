"""Every shipped pack: what it cites exists, its questions decide exactly their own clauses, and
Canada's impact level follows the AIA's scoring rule from the answers."""

from __future__ import annotations

import re
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
    """Every duty met and no exemption claimed (an exempting question's yes would lift its clause)."""
    answers = {}
    for _, q in pack.questions():
        value = {"yes_no": "yes", "text": "Kim Minji, 02-0000-0000", "number": numbers.get(q.id)}[q.kind]
        value = "no" if q.exempts else value
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
            question.id: Answer(
                answer="yes" if question.exempts else "no" if question.kind == "yes_no" else "", **SIGNED
            ),
        }
        changed = {c for c, v in _by_clause(evaluate(pack, {}, flipped)).items() if v != base[c]}
        # A clause that does not apply at level I does not move whatever its question says.
        assert changed == ({clause.id} if not clause.levels or "I" in clause.levels else set()), question.id


def test_the_impact_score_changes_exactly_the_clauses_that_depend_on_the_level() -> None:
    pack, _ = load_policy("ca-dadm")
    level_i = _by_clause(evaluate(pack, {}, _all_yes(pack, **LEVEL_I)))
    level_iv = _by_clause(evaluate(pack, {}, _all_yes(pack, **{**LEVEL_I, "ca.aia_impact_score": 90})))
    changed = {c for c in level_i if level_i[c] != level_iv[c]}
    assert changed == {c.id for c in pack.clauses if c.levels and ("I" in c.levels) != ("IV" in c.levels)}
    for clause in pack.clauses:
        if clause.id in changed:  # each changed clause is not applicable at the level it skips
            skipped = level_iv if "I" in clause.levels else level_i
            assert skipped[clause.id] == VerdictStatus.NOT_APPLICABLE, clause.id


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
        (29, 16, "I"),  # mitigation exactly 80% of half the maximum (16) → 15% off: round(24.65) = 25
        (29, 15, "II"),  # mitigation below 16: no deduction
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
    human = next(v for v in level_i if v.clause_id == "CA-DADM-C-HUMAN")
    assert human.verdict == VerdictStatus.NOT_APPLICABLE
    assert "applies only at levels III / IV; impact level I" in human.reasons[0]
    assert _by_clause(level_iii)["CA-DADM-C-HUMAN"] == VerdictStatus.FAIL
    assert recommend(level_iii).value == "not_eligible"


# Cases the Treasury Board's AIA tool puts on the other side of the II/III line than a reading that
# misses one of its details: impact maximum 100, mitigation maximum 40 (so the deduction needs 16).
@pytest.mark.parametrize(
    ("impact", "impact_max", "mitigation", "level", "how"),
    [
        # 17 < 80% of 40 but ≥ 80% of half of it: 15% off, 55 → round(46.75) = 47.
        (55, 100, 17, "II", "mitigation 17 ≥ 16 = 0.8 × 0.5 × 40, so 15% off: 47 = round(46.75)"),
        (55, 100, 15, "III", "mitigation 15 < 16 = 0.8 × 0.5 × 40, no deduction"),
        # 59 → 50.15, which is above 50 unless rounded to 50.
        (59, 100, 16, "II", "so 15% off: 50 = round(50.15)"),
        (60, 100, 16, "III", "so 15% off: 51 ("),
        # 50 → 42.5, rounded half up to 43: above half of 85 (42.5), where rounding to even or not
        # rounding would stay at II.
        (50, 85, 16, "III", "so 15% off: 43 = round(42.5)"),
        (49, 85, 16, "II", "so 15% off: 42 = round(41.65)"),
    ],
)
def test_the_level_flips_between_ii_and_iii_exactly_where_the_aia_tool_flips_it(
    impact, impact_max, mitigation, level, how
) -> None:
    pack, _ = load_policy("ca-dadm")
    assert pack.impact_levels is not None
    answers = _signed(**{**LEVEL_I, "ca.aia_impact_score": impact, "ca.aia_impact_max": impact_max,
                         "ca.aia_mitigation_score": mitigation})  # fmt: skip
    finding = pack.impact_levels.assess(answers)
    assert finding.level == level, finding.reason
    assert finding.reason.startswith(f"impact level {level}: impact score {impact} of {impact_max}")
    assert how in finding.reason, finding.reason
    # The level decides which Appendix C duties apply: a human decides, and the deputy head approves,
    # at level III only.
    verdicts = _by_clause(evaluate(pack, {}, _all_yes(pack, **{k: v.number() for k, v in answers.items()})))
    applies_at_iii = {"CA-DADM-C-HUMAN", "CA-DADM-C-APPROVAL-DH"}
    for clause in applies_at_iii:
        assert (verdicts[clause] != VerdictStatus.NOT_APPLICABLE) == (level == "III"), clause
    assert (verdicts["CA-DADM-C-APPROVAL-ADM"] != VerdictStatus.NOT_APPLICABLE) == (level == "II")


@pytest.mark.parametrize(
    ("impact", "approver", "duties"),
    [
        (20, "ca.approval_adm", {"ca.notice", "ca.training"}),
        (40, "ca.approval_adm", {"ca.notice", "ca.training", "ca.peer_review", "ca.gba_plus"}),
        (60, "ca.approval_deputy_head", {"ca.notice", "ca.training", "ca.peer_review", "ca.gba_plus"}),
        (90, "ca.approval_treasury_board", {"ca.notice", "ca.training", "ca.peer_review", "ca.gba_plus"}),
    ],
)
def test_appendix_c_duties_gate_the_recommendation_at_the_levels_that_require_them(
    impact, approver, duties
) -> None:
    pack, _ = load_policy("ca-dadm")
    scores = {**LEVEL_I, "ca.aia_impact_score": impact}
    # No audit results here, so the evidence is not assessed and the baseline is inconclusive.
    assert recommend(evaluate(pack, {}, _all_yes(pack, **scores))).value == "inconclusive"
    approvers = {"ca.approval_adm", "ca.approval_deputy_head", "ca.approval_treasury_board"}
    clause_of = {q.id: c for c, q in pack.questions()}
    for qid in duties | approvers | {"ca.peer_review", "ca.gba_plus"}:
        answers = {**_all_yes(pack, **scores), qid: Answer(answer="no", **SIGNED)}
        verdicts = evaluate(pack, {}, answers)
        required = qid in duties or qid == approver
        assert recommend(verdicts).value == ("not_eligible" if required else "inconclusive"), qid
        clause = clause_of[qid]
        expected = VerdictStatus.FAIL if required else VerdictStatus.NOT_APPLICABLE
        assert _by_clause(verdicts)[clause.id] == expected, qid
        if required:
            assert clause.severity == "gate" and clause.verified is False, clause.id


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
        (lambda p: p["impact_levels"].update(rounding="even"),
         "field 'impact_levels.rounding': Input should be 'half_up' or 'none'"),
        (lambda p: p["impact_levels"].update(mitigation_reachable=0),
         "field 'impact_levels.mitigation_reachable': Input should be greater than 0"),
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
    # Korea's parity thresholds are the agency's own clauses, not Decree 28(1)5 or the ethics guidelines.
    assert {u.clause for u in parity.packs["kr-public-service"]} == {
        "KR-AGENCY-PARITY",
        "KR-AGENCY-INTERSECTIONS",
    }
    assert [u.groups for u in parity.packs["kr-public-service"]] == [[], ["intersections"]]
    assert rows["human_oversight"].kind == "attested"
    # Every clause of every pack appears in the crosswalk at least once.
    listed = {(pid, u.clause) for row in rows.values() for pid, used in row.packs.items() for u in used}
    assert listed == {(p.id, c.id) for p in packs for c in p.clauses}


# --- the EU pack: the public deployer's own duties, and data examined for bias and gaps ----------

EU = "eu-ai-act-high-risk"
# The deployer's duties REGULATIONS.md's checked section lists, with the question that decides each.
EU_DEPLOYER = {
    "EU-AIA-4": ["eu.ai_literacy"],
    "EU-AIA-26(5)": ["eu.monitoring"],
    "EU-AIA-26(8)-49": ["eu.system_registered", "eu.use_registered"],
    "EU-AIA-26(11)": ["eu.inform_persons", "eu.inform_how"],
    "EU-AIA-27(1)": ["eu.fria", *(f"eu.fria_{letter}" for letter in "abcdef")],
    "EU-AIA-27(3)": ["eu.fria_notified"],
}


def test_the_eu_pack_asks_for_the_public_deployers_own_duties() -> None:
    pack, _ = load_policy(EU)
    clauses = {c.id: c for c in pack.clauses}
    for cid, questions in EU_DEPLOYER.items():
        assert [q.id for q in clauses[cid].questions] == questions, cid
        assert clauses[cid].verified, cid
    # Monitoring by the deployer is Art 26(5); Art 72 is the provider's post-market monitoring.
    assert "EU-AIA-72" not in clauses and clauses["EU-AIA-26(5)"].source == "EU AI Act Art 26(5)"
    # Art 26(4): the agency's input data, judged on representation and the data contract.
    assert [(e.check, e.metric) for e in clauses["EU-AIA-26(4)"].evidence] == [
        ("data.representation", "representation_ratio"),
        ("data.contract", "failed_expectations"),
    ]


DEPLOYER_GATES = ["eu.system_registered", "eu.use_registered", "eu.inform_persons", "eu.fria_d",
                  "eu.fria_notified", "eu.ai_literacy"]  # fmt: skip


@pytest.mark.parametrize("question", DEPLOYER_GATES)
def test_an_unmet_deployer_duty_makes_the_system_not_eligible_to_use(question) -> None:
    pack, _ = load_policy(EU)
    answers = {**_all_yes(pack), question: Answer(answer="no", **SIGNED)}
    verdicts = {v.clause_id: v for v in evaluate(pack, {}, answers)}
    failed = [cid for cid, v in verdicts.items() if v.verdict == VerdictStatus.FAIL]
    assert len(failed) == 1 and question in EU_DEPLOYER[failed[0]], failed
    assert any(f"{question}: no (" in r for r in verdicts[failed[0]].reasons), verdicts[failed[0]].reasons
    assert recommend(list(verdicts.values())).value == "not_eligible"


def _data_examination(results) -> tuple[VerdictStatus, list[str]]:
    pack, _ = load_policy(EU)
    verdict = next(v for v in evaluate(pack, results) if v.clause_id == "EU-AIA-10(2)(f)(h)")
    return verdict.verdict, verdict.reasons


def test_eu_data_examination_fails_on_biased_labels_and_passes_on_reviewed_ones(
    train, holdout, profile
) -> None:
    from assay.checks import bias
    from assay.checks.context import AuditContext, CheckSettings

    def results(df):
        labels = df[profile.label.column].to_numpy()
        sensitive = profile.sensitive_frame(df)
        ctx = AuditContext(
            profile=profile, data=df, labels=labels, sensitive=sensitive, settings=CheckSettings()
        )
        return {"data.label_bias": bias.label_bias(ctx), "data.missing_by_group": bias.missing_by_group(ctx)}

    # The training split's historical labels flag foreign residents 18 points more often (and men).
    status, reasons = _data_examination(results(train))
    assert status == VerdictStatus.FAIL
    assert any(r.startswith("data.label_bias base_rate_gap[nationality]") and "0.05" in r for r in reasons), (
        reasons
    )
    # The holdout's labels come from reviewed cases: no gap beyond 5 points, no missing values.
    status, reasons = _data_examination(results(holdout))
    assert status == VerdictStatus.PASS, reasons
    assert any("data.missing_by_group missing_share: all" in r for r in reasons), reasons


def test_eu_data_examination_fails_when_a_group_lacks_an_input() -> None:
    import numpy as np
    import pandas as pd
    from synthetic import make_profile

    from assay.checks import bias
    from assay.checks.context import AuditContext, CheckSettings

    rng = np.random.default_rng(3)
    n = 4000
    a = rng.choice(["x", "y"], n, p=[0.7, 0.3])
    df = pd.DataFrame(
        {"id": np.arange(n), "a": a, "y": (rng.random(n) < 0.2).astype(int), "num": rng.normal(size=n)}
    )
    df["num"] = df["num"].mask((df.a == "y") & (rng.random(n) < 0.3))  # 30% of group y lack it
    profile = make_profile("a")
    sensitive = profile.sensitive_frame(df)
    ctx = AuditContext(
        profile=profile, data=df, labels=df.y.to_numpy(), sensitive=sensitive, settings=CheckSettings()
    )
    status, reasons = _data_examination({"data.missing_by_group": bias.missing_by_group(ctx)})
    assert status == VerdictStatus.FAIL
    assert any(r.startswith("data.missing_by_group missing_share[a=y, num] = 0.3") for r in reasons), reasons


def test_no_eu_threshold_is_presented_as_the_law_or_a_band_as_the_four_fifths_rule() -> None:
    pack, _ = load_policy(EU)
    for clause in pack.clauses:
        for ev in clause.evidence:
            assert ev.basis == "agency" and ev.why is not None, (clause.id, ev.metric)
            assert "agency" in ev.why.en and "기관" in ev.why.ko, (clause.id, ev.metric, ev.why.en)
            if ev.min is not None and ev.max is not None:  # a two-sided band against the reference
                text = f"{ev.why.en} {ev.why.ko}".lower()
                assert "four-fifths" not in text and "4/5" not in text, (clause.id, ev.metric)


def test_the_crosswalk_shows_the_eu_deployer_duties_and_data_examination() -> None:
    rows = {row.evidence: row for row in crosswalk([load_policy(EU)[0]])}
    assert [u.clause for u in rows["data.label_bias base_rate_gap"].packs[EU]] == ["EU-AIA-10(2)(f)(h)"]
    assert [u.clause for u in rows["data.missing_by_group missing_share"].packs[EU]] == ["EU-AIA-10(2)(f)(h)"]
    assert [u.clause for u in rows["data.representation representation_ratio"].packs[EU]] == [
        "EU-AIA-10(4)",
        "EU-AIA-26(4)",
    ]
    assert {u.clause for u in rows["registration"].packs[EU]} == {"EU-AIA-26(8)-49"}
    assert {u.clause for u in rows["monitoring"].packs[EU]} == {"EU-AIA-26(5)"}


def test_the_nist_profile_cites_subcategories_and_lines_up_with_canadas_duties() -> None:
    nist, _ = load_policy("nist-ai-rmf")
    for clause in nist.clauses:  # GOVERN 1 is a category, not a citable item
        assert re.fullmatch(r"NIST AI RMF 1\.0, (GOVERN|MAP|MEASURE|MANAGE) \d+\.\d+", clause.source), (
            clause.source
        )
    ids = {c.id for c in nist.clauses}
    assert {"NIST-GOVERN-1.1", "NIST-GOVERN-1.4", "NIST-GOVERN-6.1", "NIST-GOVERN-6.2", "NIST-MEASURE-2.2",
            "NIST-MEASURE-3.1", "NIST-MANAGE-1.1"} <= ids and "NIST-GOVERN-1" not in ids  # fmt: skip
    rows = {row.evidence: row for row in crosswalk([load_policy("ca-dadm")[0], nist])}

    def clauses(evidence: str) -> dict[str, list[str]]:
        return {pid: [u.clause for u in used] for pid, used in rows[evidence].packs.items()}

    # Representativeness is MEASURE 2.2's, and the Canadian pack's advisory GBA+ data clause's.
    assert clauses("data.representation representation_ratio") == {
        "ca-dadm": ["CA-DADM-C-GBA-DATA"], "nist-ai-rmf": ["NIST-MEASURE-2.2"]}  # fmt: skip
    assert clauses("approval") == {
        "ca-dadm": ["CA-DADM-C-APPROVAL-ADM", "CA-DADM-C-APPROVAL-DH", "CA-DADM-C-APPROVAL-TB"],
        "nist-ai-rmf": ["NIST-MANAGE-1.1"],
    }
    assert clauses("monitoring")["nist-ai-rmf"] == ["NIST-MEASURE-2.4", "NIST-MEASURE-3.1", "NIST-MANAGE-4.1"]
    assert clauses("third_party") == {"nist-ai-rmf": ["NIST-GOVERN-6.1", "NIST-GOVERN-6.2"]}
    assert clauses("independent_assessment") == {
        "ca-dadm": ["CA-DADM-C-PEER"], "nist-ai-rmf": ["NIST-MEASURE-1.3"]}  # fmt: skip


def test_declared_accuracy_is_measured_in_an_advisory_clause_of_the_eu_and_korean_packs() -> None:
    # Advisory: a vendor that declares nothing is not held back; an agency may make it a gate.
    for pack_id, clause_id in ((EU, "EU-AIA-15(3)"), (DEFAULT_POLICY, "KR-AIBA-34.1.5-DECLARED")):
        pack, _ = load_policy(pack_id)
        clause = next(c for c in pack.clauses if c.id == clause_id)
        (ev,) = clause.evidence
        assert clause.severity == "advisory", clause_id
        assert (ev.check, ev.metric, ev.max, ev.basis) == (
            "performance.declared",
            "declared_shortfall",
            0,
            "agency",
        )
