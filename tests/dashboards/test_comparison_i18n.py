"""The round's comparison report in Korean (default) and English, from the stored record alone."""

from __future__ import annotations

import pytest

from assay.checks.ranking import Estimate, Pairwise, Ranking
from assay.dashboards.comparison import render_comparison
from assay.ledger.comparison import CandidateOutcome, ClauseRow, ComparisonRecord

POLICY = {"ko": "공공 정책", "en": "Public policy"}
CLAUSE = {"ko": "다양성 존중", "en": "Respect for diversity"}


def _record() -> ComparisonRecord:
    ranking = Ranking(
        metric="equalized_odds_difference", attribute="nationality", higher_is_better=False,
        order=["vendor-c", "vendor-a"],
        estimates=[
            Estimate(candidate="vendor-c", value=0.0412, ci_low=0.02, ci_high=0.06, p_best=0.99),
            Estimate(candidate="vendor-a", value=0.4144, ci_low=0.39, ci_high=0.43, p_best=0.01),
        ],
        pairwise=[Pairwise(better="vendor-c", worse="vendor-a", probability=1.0, sentence="(English only)")],
    )  # fmt: skip
    return ComparisonRecord(
        audit_id="welfare-review.round-q1.v1", round_id="q1", version=1,
        created_at="2026-11-01T06:00:00+09:00",
        service={"id": "welfare-review", "title": {"ko": "복지급여 심사", "en": "Welfare review"}},
        policy={"id": "kr-public-service", "version": "0.3.0", "title": POLICY},
        data_sha256="ab" * 32, seed=7, task_runner="threads",
        candidates=[
            CandidateOutcome(candidate="vendor-a", vendor="A", audit_id="welfare-review.vendor-a.v1",
                             recommendation="not_eligible", failing_clauses=["KR-ETHICS-03"]),
            CandidateOutcome(candidate="vendor-c", vendor="C", audit_id="welfare-review.vendor-c.v1",
                             recommendation="eligible_with_conditions"),
            CandidateOutcome(candidate="vendor-x", error="http://127.0.0.1:9/score: batch 0 failed"),
        ],
        clauses=[ClauseRow(clause_id="KR-ETHICS-03", title=CLAUSE,
                           severity="gate", verdicts={"vendor-a": "fail", "vendor-c": "pass"})],
        rankings=[ranking], command="assay procure round.yaml",
    )  # fmt: skip


def test_korean_by_default_with_the_pairwise_sentence_in_korean() -> None:
    html = render_comparison(_record())
    assert '<html lang="ko">' in html and 'href="report.en.html"' in html
    for text in (
        "구매 평가 비교",
        "복지급여 심사",
        "다양성 존중",
        "부적격",
        "조건부 적격",
        "접수 실패",
        "미충족",
        "충족",
    ):
        assert text in html, text
    assert "nationality 집단 간 균등화 오즈 차이: vendor-c의 값이 vendor-a보다 작을 확률 1.00" in html
    assert "Respect for diversity" not in html and "(English only)" not in html


def test_english_when_asked() -> None:
    html = render_comparison(_record(), lang="en")
    assert '<html lang="en">' in html and 'href="report.html"' in html
    sentence = "vendor-c has a smaller equalized-odds difference across nationality groups than vendor-a"
    assert f"<li>{sentence} with probability 1.00</li>" in html
    assert "equalized-odds difference across nationality groups" in html
    assert "Respect for diversity" in html and "다양성 존중" not in html


def test_same_bytes_every_time_and_other_languages_refused() -> None:
    record = ComparisonRecord.model_validate_json(_record().model_dump_json())
    assert render_comparison(record) == render_comparison(_record())
    with pytest.raises(ValueError, match="'fr'"):
        render_comparison(record, lang="fr")
