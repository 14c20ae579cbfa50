"""The audit report in one language, Korean by default or English, from Babel message catalogs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from markupsafe import escape

import assay.dashboards
from assay.checks.checklist import Question
from assay.checks.context import Text
from assay.checks.monitoring import Monitoring, MonitorReport
from assay.checks.phrase import Phrase, fields
from assay.checks.policy import (
    Evidence,
    EvidenceVerdict,
    Verdict,
    VerdictStatus,
    judge_question,
    judge_row,
)
from assay.checks.regression import MetricChange
from assay.checks.results import CheckResult, MetricRow, Status
from assay.dashboards import i18n
from assay.dashboards.report import ENV, render_report, report_env
from assay.ledger.record import AuditRecord, Fingerprints, Subject

PACKAGE = Path(assay.dashboards.__file__).parent
TEMPLATE = PACKAGE / "templates" / "report.html.j2"

CLAUSE = Text(ko="인공지능 판단 결과의 설명 방안", en="How the AI's results are explained")
POLICY = Text(ko="공공서비스 인공지능 감사 기준", en="Public-service AI audit standard")
SERVICE = Text(ko="복지급여 심사 지원", en="Welfare benefit review support")
QUESTION = Text(ko="사람이 최종 결정을 내립니까?", en="Does a person take the final decision?")
SUMMARY = Text(ko="위험 점수 0.81 (평균 0.32)", en="risk score 0.81 (average 0.32)")
SENTENCE = Text(ko="소득 분위 2분위 → 위험 점수 +0.21", en="income decile 2 → risk score +0.21")
DECISION = Text(ko="급여 재심사 대상 선정", en="choosing cases for benefit re-review")


def _record() -> AuditRecord:
    """Return a small sealed-looking record with every bilingual field the report shows."""
    verdict = Verdict(
        clause_id="KR-AIBA-34.1.2", title=CLAUSE, source="AI Basic Act art. 34(1)2", verified=False,
        severity="gate", verdict=VerdictStatus.FAIL,
        evidence=[EvidenceVerdict(check="fairness.group_metrics", metric="fpr_gap", bounds="≤ 0.05",
                                  verdict=VerdictStatus.FAIL, reasons=["fpr_gap 0.090 > 0.05"])],
    )  # fmt: skip
    fairness = CheckResult(
        check_id="fairness.group_metrics", title="Group metrics", status=Status.PASSED,
        metrics=[
            MetricRow(check_id="fairness.group_metrics", metric="fpr_gap", attribute="age_band",
                      value=0.09, ci_low=0.07, ci_high=0.11, n=800),
            MetricRow(check_id="fairness.group_metrics", metric="fpr", attribute="nationality",
                      group="other", value=0.5, n=4),
        ],
    )  # fmt: skip
    importance = CheckResult(
        check_id="explain.global_importance", title="Global importance", status=Status.PASSED,
        metrics=[MetricRow(check_id="explain.global_importance", metric="importance_share",
                           feature="income_decile", value=0.4, ci_low=0.35, ci_high=0.45)],
        details={
            "ranking": ["income_decile"], "group_rankings": {"age_band": {"65+": ["income_decile"]}},
            "dependence": {"income_decile": [{"bin": "1-3", "mean_contribution": 0.12}]},
            "sample": {"rows": 12000, "strata": "sensitive groups × decision", "seed": 7},
            "explainer": {"name": "TreeExplainer", "note": "exact for trees"},
            "output_scale": "log-odds", "intervals": "bootstrap",
        },
    )  # fmt: skip
    reasons = CheckResult(
        check_id="explain.individual_reasons", title="Individual reasons", status=Status.PASSED,
        details={"examples": [{"pseudonym": "p-0a1b2c", "requested": True, "summary": SUMMARY.model_dump(),
                               "reasons": [{"sentence": SENTENCE.model_dump()}]}]},
    )  # fmt: skip
    change = MetricChange(
        check_id="fairness.group_metrics", metric="fpr_gap", attribute="age_band", group=None, feature=None,
        n=800, before=0.05, after=0.14, change=0.09, ci_low=0.07, ci_high=0.11, real=True, regression=True,
    )  # fmt: skip
    return AuditRecord(
        audit_id="welfare-review.vendor-c.v2",
        version=2,
        created_at="2026-11-01T06:00:00+09:00",
        subject=Subject(service="welfare-review", candidate="vendor-c", vendor="Gongjeong Systems",
                        model="scorer", model_version="1.0.0"),
        service={"title": SERVICE.model_dump(), "decision": DECISION.model_dump(),
                 "score_label": Text(ko="위험 점수", en="risk score").model_dump()},
        candidate={"intended_use": "triage", "training_data": "2019-2024 cases",
                   "input_features": ["income_decile"], "contact": "vendor@example.org",
                   "output": {"score": "risk", "positive_class": 1, "threshold": 0.5}},
        policy={"id": "kr-public-service", "version": "0.3.0", "title": POLICY.model_dump(),
                "parameters": {"disclosure_min": 10}},
        evaluation={"file": "holdout.parquet", "rows": 20000},
        inputs=Fingerprints(
            data_sha256="ab" * 32, model_sha256="cd" * 32, policy_sha256="ef" * 32, profile_sha256="01" * 32,
            contract_sha256=None, code_version="0.1.0", libraries={"numpy": "2.4.0"}, seed=7,
        ),
        results=[fairness, importance, reasons],
        verdicts=[verdict],
        attestations=[{"clause": "KR-AIBA-34.1.2", "question_id": "human_final",
                       "question_text": QUESTION.model_dump(), "answer": True, "answered_by": "Kim Minji",
                       "answered_at": "2026-11-20"}],
        command="assay audit --service welfare-review --seed 7",
        monitoring=MonitorReport(
            run_key="k", previous_audit_id="welfare-review.vendor-c.v1", window="2026-10.parquet",
            window_sha256="cd" * 32, reference="2026-09.parquet", reference_status="found",
            settings=Monitoring(), changes=[change],
        ),
    )  # fmt: skip


BILINGUAL = [CLAUSE, POLICY, SERVICE, DECISION, QUESTION, SUMMARY, SENTENCE]


def test_the_report_is_korean_by_default() -> None:
    html = render_report(_record())
    assert html.startswith('<!DOCTYPE html>\n<html lang="ko">\n')
    assert "<h2>조항별 판정</h2>" in html and "<h1>감사 보고서</h1>" in html
    for text in BILINGUAL:
        assert escape(text.ko) in html, text.ko
        assert escape(text.en) not in html, text.en
    assert "Clause by clause" not in html and "Audit report" not in html
    # A record sealed before thresholds said whose they were: its failed clause fails the pack's.
    assert '<td class="verdict-fail">미충족<br><small>KR-AIBA-34.1.2에 대해 정책 팩의 기준 불충족 (' in html
    assert '<td class="rec-not_eligible">부적격</td>' in html
    assert "(조항 번호 미확인)" in html and "(id not verified)" not in html
    # Numbers and dates in prose follow the language; the metric tables keep their decimals.
    assert "20,000행" in html and "2026년 11월 1일 06:00 (GMT+09:00)" in html and "2026년 11월 20일" in html
    assert "관찰 지표 1개 행이 정책의 허용 범위를 넘어 악화되었습니다." in html
    assert "<td>0.0900</td>" in html and "비공개 (n &lt; 10)" in html
    assert '<a href="report.en.html" hreflang="en" lang="en">English</a>' in html


def test_the_report_is_english_when_asked() -> None:
    html = render_report(_record(), lang="en")
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">\n')
    assert "<h2>Clause by clause</h2>" in html and "<h1>Audit report</h1>" in html
    for text in BILINGUAL:
        assert escape(text.en) in html, text.en
        assert escape(text.ko) not in html, text.ko
    assert "조항별 판정" not in html and "감사 보고서" not in html
    assert (
        '<td class="verdict-fail">fail<br><small>fails the pack&#39;s thresholds under KR-AIBA-34.1.2 ('
        in html
    )
    assert '<td class="rec-not_eligible">not eligible</td>' in html
    assert "20,000 rows" in html and "November 1, 2026 06:00 (GMT+09:00)" in html
    assert "1 watched metric row regressed beyond the pack's tolerance." in html
    assert '<a href="report.html" hreflang="ko" lang="ko">한국어</a>' in html


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_report_loads_nothing_from_outside(lang: str) -> None:
    html = render_report(_record(), lang=lang)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(|@import""", html)
    # An inline empty icon (no request for /favicon.ico), then the link to the other language.
    other = i18n.REPORT_FILES["en" if lang == "ko" else "ko"]
    assert re.findall(r'href="([^"]*)"', html) == ["data:,", other]


def _template_messages() -> set[str | tuple[str, ...]]:
    options = {"trim_blocks": "true", "lstrip_blocks": "true", "newstyle_gettext": "true", "silent": "false"}
    return {message for _, message, _, _ in extract_from_file("jinja2", TEMPLATE, options=options)}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_catalog_translates_every_message_of_the_template(lang: str) -> None:
    messages = _template_messages()
    assert len(messages) > 50, "the extractor found (almost) nothing: is the template still parsed?"
    path = PACKAGE / "locale" / lang / "LC_MESSAGES" / "report.po"
    catalog = read_po(io.BytesIO(path.read_bytes()), locale=lang)
    missing = []
    for message in sorted(messages, key=str):
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        strings = (
            entry.string
            if entry is not None and isinstance(entry.string, tuple)
            else (entry and entry.string,)
        )
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(message)
    assert not missing, f"untranslated in {lang}: {missing}"
    # Placeholders of a translation are those of its message id (babel's python-format check).
    assert [(m.id, errors) for m, errors in catalog.check()] == []


def test_rendering_twice_gives_the_same_bytes_in_both_languages() -> None:
    record = _record()
    for lang in ("ko", "en"):
        first = render_report(record, lang=lang)
        # From scratch: catalogs read again, a fresh environment, the record as the ledger stores it.
        report_env.cache_clear()
        i18n.translations.cache_clear()
        again = render_report(AuditRecord.model_validate_json(record.model_dump_json()), lang=lang)
        assert first.encode() == again.encode()
    assert render_report(record, lang="ko") != render_report(record, lang="en")


@pytest.mark.parametrize("lang", ["fr", "KO", "en-US", ""])
def test_any_other_language_is_refused_by_name(lang: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(lang))):
        render_report(_record(), lang=lang)


def test_the_shared_environment_stays_untranslated() -> None:
    render_report(_record(), lang="ko")
    assert ENV.from_string("{{ _('Audit report') }}").render() == "Audit report"
    assert report_env("ko").from_string("{{ _('Audit report') }}").render() == "감사 보고서"


def _with_phrased_reasons() -> AuditRecord:
    """Return the record with its verdicts judged by the engine, so their reasons carry phrases."""
    fpr_gap = Evidence(basis="agency", check="fairness.group_metrics", metric="fpr_gap", max=0.05)
    row = MetricRow(check_id="fairness.group_metrics", metric="fpr_gap", attribute="age_band",
                    value=0.09, ci_low=0.07, ci_high=0.11, n=800)  # fmt: skip
    status, outside, _ = judge_row(row, fpr_gap, min_group_size=30)
    asked, unanswered = judge_question(
        Question(id="human_final", topic="human_final_decision", text=QUESTION), None
    )
    record = _record()
    verdict = record.verdicts[0].model_copy(
        update={
            "verdict": VerdictStatus.FAIL,
            "evidence": [
                EvidenceVerdict.of(
                    "fairness.group_metrics", "fpr_gap", fpr_gap.bounds(), status, [outside], evidence=fpr_gap
                ),
                EvidenceVerdict.of("checklist", "human_final", "yes", asked, [unanswered]),
            ],
        }
    )
    return record.model_copy(update={"verdicts": [verdict]})


def test_verdict_reasons_are_said_in_the_reports_language() -> None:
    record = AuditRecord.model_validate_json(_with_phrased_reasons().model_dump_json())  # as sealed
    ko, en = render_report(record, lang="ko"), render_report(record, lang="en")
    where = "fairness.group_metrics fpr_gap[age_band] = 0.09 [0.07, 0.11]"
    assert f"{where}, 기관이 정한 fpr_gap 기준(≤ 0.05)을 충족하지 않음" in ko and "outside" not in ko
    assert f"체크리스트 human_final: 답변 없음 ({escape(QUESTION.ko)})" in ko
    assert f"{where} does not meet the agency&#39;s threshold for fpr_gap (≤ 0.05)" in en
    assert f"checklist human_final: unanswered ({escape(QUESTION.en)})" in en
    # The record keeps the English sentence for machines and older readers.
    assert (
        record.verdicts[0].reasons[0] == f"{where} does not meet the agency's threshold for fpr_gap (≤ 0.05)"
    )


def test_a_clause_failed_on_the_agencys_thresholds_is_reported_as_such_in_both_languages() -> None:
    """The verdict cell names whose thresholds failed, never a breach of the clause itself."""
    failed = _with_phrased_reasons()
    verdict = failed.verdicts[0]
    only_agency = verdict.model_copy(update={"evidence": verdict.evidence[:1]})
    record = AuditRecord.model_validate_json(
        failed.model_copy(update={"verdicts": [only_agency]}).model_dump_json()
    )
    ko, en = render_report(record, lang="ko"), render_report(record, lang="en")
    clause = record.verdicts[0].clause_id
    assert f"<small>fails the agency&#39;s thresholds under {clause} (fpr_gap)</small>" in en
    assert f"<small>{clause}에 대해 기관이 정한 기준 불충족 (fpr_gap)</small>" in ko
    assert "breach" not in en and "fails the agency" not in ko


def test_an_old_record_keeps_its_sealed_korean_reasons() -> None:
    """Records sealed before thresholds had a basis still say their reasons in Korean."""
    old = Phrase(
        template="{where} = {value} outside {bounds}", args={"where": "w", "value": "1", "bounds": "≤ 0.5"}
    )
    assert old.say("ko", i18n.translations("ko").gettext) == "w = 1, 허용 범위 ≤ 0.5 벗어남"


def test_a_record_sealed_before_phrases_quotes_its_english_reasons() -> None:
    html = render_report(_record(), lang="ko")
    assert "<li>fpr_gap 0.090 &gt; 0.05</li>" in html


def test_every_phrase_is_translated_with_the_same_fields() -> None:
    phrases = [m for m in i18n.extract_template_catalog() if m.id and m.locations[0][0].startswith("checks/")]
    assert len(phrases) >= 20, "the extractor found (almost) no phrase: are they still marked with N_?"
    catalog = i18n.read_catalog("ko")
    wrong = []
    for message in phrases:
        entry = catalog.get(message.id)
        if entry is None or not entry.string or entry.fuzzy or fields(entry.string) != fields(message.id):
            wrong.append(message.id)
    assert not wrong, f"Korean phrases missing or with other fields: {wrong}"


def test_a_translation_that_lost_a_field_falls_back_to_english() -> None:
    phrase = Phrase(template="{check} reported no {metric}", args={"check": "c", "metric": "m"})
    assert phrase.say("ko", lambda _: "{check}: {nonexistent}") == "c reported no m"


def test_the_triage_is_shown_in_the_reports_language() -> None:
    from assay.checks.triage import triage
    from assay.data.loaders import load_profile

    result = triage(load_profile("welfare-review")[0], pack_checks={"kr-public-service": ["data.contract"]})
    record = _record().model_copy(update={"triage": result, "revokes": ["welfare-review.vendor-c.v1"]})
    record = AuditRecord.model_validate_json(record.model_dump_json())  # as sealed
    ko, en = render_report(record, lang="ko"), render_report(record, lang="en")
    assert "<h2>적용 대상 판정</h2>" in ko and "고영향 인공지능 (인공지능기본법 제2조제4호)" in ko
    assert "<h2>Applicability</h2>" in en and "High-impact AI (Framework Act Art 2(4))" in en
    kr = result.finding("kr_high_impact")
    assert kr.answer == "yes" and kr.category == "자"
    assert all(escape(reason) in ko for reason in kr.said("ko", i18n.translations("ko").gettext))
    assert all(escape(reason) in en for reason in kr.reasons)
    assert "이 감사의 정책은 그중 하나이다." in ko and "This audit's policy is one of them." in en
    assert "철회된 신뢰 라벨" in ko and "<code>welfare-review.vendor-c.v1</code>" in ko


def test_an_audit_under_a_pack_the_triage_does_not_call_for_says_so() -> None:
    from assay.checks.triage import triage
    from assay.data.loaders import load_profile

    result = triage(load_profile("welfare-review")[0])
    record = _record().model_copy(
        update={"triage": result, "policy": {**_record().policy, "id": "nist-ai-rmf"}}
    )
    html = render_report(record, lang="en")
    assert "nist-ai-rmf" in [p.id for p in result.packs]  # as a reference only: still one of them
    record = record.model_copy(update={"policy": {**_record().policy, "id": "city-pack", "lineage": []}})
    assert "<strong>This audit's policy is not one of them.</strong> Ids marked" in render_report(
        record, lang="en"
    )
    assert "This audit's policy is one of them. Ids marked" in html


def test_an_undecided_reason_says_what_would_settle_it_in_both_languages() -> None:
    """A real comparison straddling the limit: the reason says what would settle it, in Korean too."""
    import numpy as np

    from assay.checks.disparity import compare_to_reference

    ratio = Evidence(
        basis="agency", check="fairness.group_metrics", metric="selection_rate_ratio", min=0.8, max=1.25
    )
    k, n = np.array([300.0, 26.0]), np.array([1000.0, 80.0])  # 0.30 against 0.325: ratio 1.08
    found = compare_to_reference("ratio", "selection_rate", k, n, n, ["korean", "foreign"], 0, 0.95, 30)[1]
    row = MetricRow(check_id=ratio.check, metric=ratio.metric, attribute="nationality", group="foreign",
                    value=found.value, ci_low=found.ci_low, ci_high=found.ci_high, n=found.n,
                    basis=found.basis)  # fmt: skip
    status, reason, short = judge_row(row, ratio, min_group_size=30)
    assert status == VerdictStatus.INCONCLUSIVE and short is not None and short.cause == "straddles"
    assert set(short.more) == {"foreign"} and short.more["foreign"] > 80  # the small side must grow
    assert short.detectable is not None and short.detectable > 1.25
    english, korean = str(reason), reason.say("ko", i18n.translations("ko").gettext)
    assert "the interval straddles the agency's threshold for selection_rate_ratio ([0.8, 1.25])" in english
    assert "신뢰구간이 기관이 정한 selection_rate_ratio 기준([0.8, 1.25])의 경계에 걸침" in korean
    assert f"about {short.more['foreign']} more people in foreign would settle it" in english
    assert f"foreign에 약 {short.more['foreign']}명 더 있으면 판정 가능" in korean
    assert "80% 검정력" in korean and "would settle" not in korean
