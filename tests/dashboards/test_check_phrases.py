"""A check's title and messages are said in the report's language; its English messages stay as they were."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape
from test_report_i18n import _record

import assay.checks
from assay.checks import bias, fairness
from assay.checks.context import AuditContext, CheckSettings, SensitiveAttribute, ServiceProfile, Text
from assay.checks.phrase import N_, Phrase, fields, joined, phrase
from assay.checks.policy import Evidence, judge_evidence
from assay.checks.registry import all_checks, get_check, run_check
from assay.checks.results import CheckResult, Status
from assay.dashboards import i18n
from assay.dashboards.report import render_report
from assay.ledger.record import AuditRecord

CHECKS = Path(assay.checks.__file__).parent
# The modules whose checks say something: each must give its messages as phrases.
SPEAKING = (
    "bias.py",
    "calibration.py",
    "contract.py",
    "counterfactual.py",
    "declared.py",
    "explain.py",
    "fairness.py",
    "mitigation.py",
    "performance.py",
    "reasons.py",
    "registry.py",
    "surrogate.py",
)


def _context() -> AuditContext:
    """Return a small audit: group `c` is below the minimum size, no feature has a missing value."""
    rng = np.random.default_rng(4)
    n = 400
    group = rng.choice(["a", "b", "c"], n, p=[0.6, 0.35, 0.05])
    labels = (rng.random(n) < 0.3).astype(int)
    decisions = (rng.random(n) < 0.4).astype(int)
    data = pd.DataFrame({"id": np.arange(n), "g": group, "income": rng.normal(size=n), "y": labels})
    profile = ServiceProfile(
        id="test", title=Text(ko="시험", en="test"), decision=Text(ko="시험", en="test"),
        risk_tier="high-impact", id_column="id", label={"column": "y", "positive": 1},
        positive_decision_is_favourable=False,
        sensitive_attributes=[SensitiveAttribute(name="g", column="g")],
    )  # fmt: skip
    return AuditContext(
        profile=profile, data=data, labels=labels, decisions=decisions,
        sensitive=profile.sensitive_frame(data), settings=CheckSettings(n_boot=50),
    )  # fmt: skip


@pytest.fixture(scope="module")
def results() -> list[CheckResult]:
    """Return results of checks run for real: inconclusive, passed, and one that could not run."""
    ctx = _context()
    return [
        fairness.group_metrics(ctx),
        bias.missing_by_group(ctx),
        run_check(get_check("fairness.score_metrics"), ctx),  # the audit has no scores
    ]


def _audit(results: list[CheckResult]) -> AuditRecord:
    """Return the test record with these results, as the ledger stores and reads it back."""
    record = _record().model_copy(update={"results": results})
    return AuditRecord.model_validate_json(record.model_dump_json())


def test_checks_give_every_message_as_a_phrase_and_keep_the_english(results: list[CheckResult]) -> None:
    groups, missing, no_scores = results
    for result in results:
        assert len(result.phrases) == len(result.messages) > 0
        assert [str(p) for p in result.phrases] == result.messages
    assert groups.status == Status.INCONCLUSIVE
    assert re.fullmatch(
        r"1 groups below the minimum size of 30: g=c \(n=\d+\); no breach is decided on their evidence alone",
        groups.messages[0],
    )
    assert missing.messages == ["no feature has missing values"]
    assert no_scores.messages == ["not assessed: the audit has no scores"]


def test_the_korean_report_says_check_titles_and_messages_in_korean(results: list[CheckResult]) -> None:
    html = render_report(_audit(results), lang="ko")
    assert "<h3>결정의 집단 공정성 <small>" in html and "<h3>집단별 결측값 <small>" in html
    assert "Group fairness of decisions" not in html and "Missing values by group" not in html
    said = (
        r"<li>최소 크기 30 미만인 집단 1개: g=c \(n=\d+\); 이 집단들의 증거만으로는 위반을 판정하지 않음</li>"
    )
    assert re.search(said, html)
    assert "<li>결측값이 있는 특성이 없음</li>" in html
    # In its section and in the list of what the audit did not measure.
    assert html.count("평가 불가: 감사에 필요한 입력이 없음 (점수)") == 2
    for result in results:
        for message in result.messages:
            assert str(escape(message)) not in html, message


def test_the_english_report_quotes_the_english_messages(results: list[CheckResult]) -> None:
    html = render_report(_audit(results), lang="en")
    for result in results:
        assert f"<h3>{escape(result.title)} <small>" in html
        for message in result.messages:
            assert f"<li>{escape(message)}</li>" in html, message
    assert "<code>fairness.score_metrics</code> (not assessed): not assessed: the audit has no scores" in html


def test_a_record_sealed_before_phrases_quotes_its_english_messages(results: list[CheckResult]) -> None:
    old = [r.model_copy(update={"phrases": []}) for r in results]
    html = render_report(_audit(old), lang="ko")
    assert "<li>no feature has missing values</li>" in html
    assert "not assessed: the audit has no scores" in html
    assert "<h3>집단별 결측값 <small>" in html  # titles come from the catalog, phrases or not


def test_a_not_assessed_reason_says_the_checks_own_messages(results: list[CheckResult]) -> None:
    translate = i18n.translations("ko").gettext
    evidence = Evidence(basis="agency", check="fairness.score_metrics", metric="roc_auc_gap", max=0.1)
    no_scores = results[2]
    _, (reason,), _ = judge_evidence(evidence, no_scores, min_group_size=30)
    assert str(reason) == "fairness.score_metrics roc_auc_gap: not assessed: the audit has no scores"
    korean = "fairness.score_metrics roc_auc_gap: 평가 불가: 감사에 필요한 입력이 없음 (점수)"
    assert reason.say("ko", translate) == korean
    _, (old,), _ = judge_evidence(evidence, no_scores.model_copy(update={"phrases": []}), min_group_size=30)
    assert old.say("ko", translate) == str(reason)  # the English, as before phrases


def test_a_crash_keeps_its_exception_text_as_it_is() -> None:
    def broken(ctx: AuditContext) -> CheckResult:
        raise ValueError("column {x} is 100% empty")

    check = get_check("data.missing_by_group")
    crashed = run_check(type(check)(check.id, check.title, check.needs, check.metrics, broken), _context())
    assert crashed.status == Status.ERROR
    assert crashed.messages == ["ValueError: column {x} is 100% empty"]
    assert crashed.said("ko", i18n.translations("ko").gettext) == crashed.messages


def test_joined_phrases_are_said_part_by_part_and_nothing_says_the_catalog_header() -> None:
    translate = i18n.translations("ko").gettext
    parts = [phrase(N_("the data has no rows")), "x {y}", Text(ko="가", en="a")]
    assert str(joined(parts, "; ")) == "the data has no rows; x {y}; a"
    assert joined(parts, "; ").say("ko", translate) == "데이터에 행이 없음; x {y}; 가"
    assert joined([]).say("ko", translate) == "" and Phrase(template="").say("ko", translate) == ""


def test_no_check_gives_a_message_without_its_phrase() -> None:
    for name in SPEAKING:
        source = (CHECKS / name).read_text(encoding="utf-8")
        assert not re.search(r"\bCheckResult\(", source), f"{name}: build results with CheckResult.of"
        assert not re.search(r"""messages=|"messages":(?![^}]*"phrases":)""", source, re.S), name


def test_every_check_template_and_title_is_translated_with_the_same_fields() -> None:
    catalog = i18n.extract_template_catalog()
    sources = {loc[0] for m in catalog if m.id for loc in m.locations}
    speaking = {f"checks/{name}" for name in SPEAKING}
    assert speaking <= sources
    titles = {check.title for check in all_checks().values()}
    assert titles <= {m.id for m in catalog}
    korean = i18n.read_catalog("ko")
    wrong = []
    for message in catalog:
        if not message.id or not {loc[0] for loc in message.locations} & speaking:
            continue
        entry = korean.get(message.id)
        if entry is None or not entry.string or entry.fuzzy or fields(entry.string) != fields(message.id):
            wrong.append(message.id)
    assert not wrong, f"Korean check messages or titles missing or with other fields: {wrong}"
