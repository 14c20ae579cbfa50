"""The disclosure minimum on every surface Assay publishes: the Prefect verdict table, the monitor's
markdown and alert, the report in both languages, metrics.csv, the oversight site and a round's
comparison. One record with a group of 4 (below the minimum of 10); none of its numbers appears."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assay.checks.context import CheckSettings
from assay.checks.monitoring import GroupShift, Monitoring, MonitorReport
from assay.checks.policy import PolicyPack, evaluate
from assay.checks.ranking import RankMetric, rank
from assay.checks.regression import MetricChange
from assay.checks.results import CheckResult, MetricRow, Status
from assay.dashboards.artifacts import alert_text, render_monitor_markdown, verdict_rows
from assay.dashboards.comparison import render_comparison
from assay.dashboards.report import render_report
from assay.dashboards.site import render_site
from assay.flows.audit import metrics_csv
from assay.flows.procure import RankJob, run_rank_job
from assay.ledger.comparison import CandidateOutcome, ComparisonRecord
from assay.ledger.record import AuditRecord, Fingerprints, Subject
from assay.ledger.store import EntryInfo, Ledger

FAIR, EXPLAIN = "fairness.group_metrics", "explain.global_importance"
SMALL = 4  # people in nationality=stateless
# Every number about the small group, as the surfaces would write it (3 or 4 decimals, signed).
SECRET = (
    0.8641,
    0.5012,
    0.9733,
    4.7317,
    2.1183,
    6.2591,
    0.7429,
    0.4116,
    0.9252,
    0.6161,
    0.6644,
    0.8418,
    0.1774,
    0.0817,
    0.2733,
    0.0281,
    0.0007,
)


def _forms(value: float) -> set[str]:
    return {f"{value:.3f}", f"{value:.4f}", f"{value:.4g}", f"{value:+.3f}"}


SECRET_TEXT = sorted({form for v in SECRET for form in _forms(v)})


def _leaks(text: str) -> list[str]:
    return [s for s in SECRET_TEXT if s in text]


PACK = PolicyPack.model_validate(
    {
        "id": "test-pack",
        "version": "1.0.0",
        "title": {"ko": "시험 정책", "en": "test pack"},
        "jurisdiction": "KR",
        "clauses": [
            {
                "id": "KR-TEST-1",
                "title": {"ko": "차별 금지", "en": "Non-discrimination"},
                "source": "test",
                "verified": True,
                "evidence": [
                    {"check": FAIR, "metric": "fpr_ratio", "basis": "agency", "max": 1.25},
                    {"check": FAIR, "metric": "fpr_gap", "basis": "agency", "max": 0.1},
                    {"check": FAIR, "metric": "fpr", "basis": "agency", "max": 0.5},
                ],
            }
        ],
    }
)


def _row(metric: str, value: float, low: float, high: float, n: int, **where: str) -> MetricRow:
    return MetricRow(check_id=FAIR, metric=metric, value=value, ci_low=low, ci_high=high, n=n, **where)


def _results() -> list[CheckResult]:
    nat = {"attribute": "nationality"}
    fairness = [
        _row("fpr", 0.1212, 0.1150, 0.1280, 9000, group="korean", **nat),
        _row("fpr", 0.1523, 0.1190, 0.1930, 300, group="foreign_resident", **nat),
        _row("fpr", 0.8641, 0.5012, 0.9733, SMALL, group="stateless", **nat),
        _row("fpr_ratio", 1.2566, 1.0110, 1.5100, 300, group="foreign_resident", **nat),
        _row("fpr_ratio", 4.7317, 2.1183, 6.2591, SMALL, group="stateless", **nat),
        _row("fpr_gap", 0.7429, 0.4116, 0.9252, SMALL, **nat),
        _row("fpr_gap", 0.0231, 0.0122, 0.0390, 4100, attribute="sex"),
        _row("fpr", 0.1302, 0.1270, 0.1340, 13000, group="female", attribute="sex"),
    ]
    share = {"check_id": EXPLAIN, "metric": "importance_share"}
    importance = [
        MetricRow(**share, feature="income_decile", value=0.4012, ci_low=0.3801, ci_high=0.4222, n=9000),
        MetricRow(**share, feature="household_size", value=0.2203, ci_low=0.2011, ci_high=0.2390, n=9000),
        MetricRow(
            **share,
            feature="income_decile",
            value=0.6161,
            ci_low=0.0281,
            ci_high=0.9012,
            n=SMALL,
            **nat,
            group="stateless",
        ),
        MetricRow(
            **share,
            feature="income_decile",
            value=0.3904,
            ci_low=0.3703,
            ci_high=0.4111,
            n=8000,
            **nat,
            group="korean",
        ),
    ]
    details = {
        "ranking": ["income_decile", "household_size"],
        "group_rankings": {
            "nationality": {"korean": ["income_decile", "household_size"], "stateless": ["household_size"]}
        },
        "dependence": {"income_decile": [{"bin": "1-3", "n": 400, "mean_contribution": 0.1234}]},
        "sample": {"rows": 9004, "strata": "sensitive groups × decision", "seed": 7},
        "explainer": {"name": "TreeExplainer", "note": "exact for trees"},
        "output_scale": "log-odds",
        "intervals": "bootstrap",
    }
    return [
        CheckResult(check_id=FAIR, title="Group metrics", status=Status.INCONCLUSIVE, metrics=fairness),
        CheckResult(
            check_id=EXPLAIN,
            title="Global importance",
            status=Status.PASSED,
            metrics=importance,
            details=details,
        ),
    ]


def _monitoring() -> MonitorReport:
    change = MetricChange(
        check_id=FAIR,
        metric="fpr_gap",
        attribute="nationality",
        group=None,
        feature=None,
        n=SMALL,
        before=0.6644,
        after=0.8418,
        change=0.1774,
        ci_low=0.0817,
        ci_high=0.2733,
        real=True,
        regression=True,
    )
    shift = GroupShift(
        attribute="nationality",
        group="stateless",
        n_before=3,
        n_after=SMALL,
        share_before=0.0007,
        share_after=0.0281,
        change=0.0274,
        p_value=0.5,
        shifted=False,
    )
    return MonitorReport(
        run_key="k",
        previous_audit_id="welfare-review.vendor-c.v1",
        window="2026-10.parquet",
        window_sha256="cd" * 32,
        reference_status="found",
        settings=Monitoring(),
        changes=[change],
        group_shift=[shift],
    )


def _record(audit_id: str = "welfare-review.vendor-c.v2", version: int = 2) -> AuditRecord:
    results = _results()
    return AuditRecord(
        audit_id=audit_id,
        version=version,
        created_at="2026-11-01T06:00:00+09:00",
        subject=Subject(
            service="welfare-review",
            candidate="vendor-c",
            vendor="Gongjeong Systems",
            model="scorer",
            model_version="1.0.0",
        ),
        service={"title": {"ko": "복지 심사", "en": "welfare review"}},
        candidate={
            "intended_use": "triage",
            "training_data": "2019-2024 cases",
            "contact": "v@example.org",
            "input_features": ["income_decile", "household_size"],
            "output": {"score": "risk", "positive_class": 1, "threshold": 0.5},
        },
        policy={
            "id": PACK.id,
            "version": PACK.version,
            "title": PACK.title.model_dump(),
            "parameters": PACK.parameters.model_dump(mode="json"),
        },
        evaluation={"file": "holdout.parquet", "rows": 13004},
        inputs=Fingerprints(
            data_sha256="ab" * 32,
            model_sha256="cd" * 32,
            policy_sha256="ef" * 32,
            profile_sha256="01" * 32,
            contract_sha256=None,
            code_version="0.1.0",
            libraries={},
            seed=7,
        ),
        results=results,
        # The real verdict engine writes the reasons, as an audit would.
        verdicts=evaluate(PACK, {r.check_id: r for r in results}),
        command="assay audit --service welfare-review",
        monitoring=_monitoring(),
    )


def test_the_record_keeps_the_numbers_the_surfaces_withhold() -> None:
    """The sealed record is the agency's evidence: the test's secrets are really in it."""
    record = _record()
    assert record.disclosure_min == 10
    stored = record.model_dump_json()
    assert "0.8641" in stored and "4.7317" in stored and "0.7429" in stored


def test_the_prefect_verdict_table_withholds_the_small_groups_values() -> None:
    rows = verdict_rows(_record())
    assert rows[0]["clause"] == "KR-TEST-1" and rows[0]["verdict"] == "inconclusive"
    text = json.dumps(rows, ensure_ascii=False)
    assert _leaks(text) == []
    reasons = [r for v in _record().verdicts for r in v.reasons]
    said = f"fpr_ratio[nationality=stateless] = withheld: rests on n={SMALL}, below the minimum evidence"
    assert said in " ".join(reasons)
    # A large group's value is still said.
    assert "fpr_ratio[nationality=foreign_resident] = 1.257 [1.011, 1.51]" in " ".join(reasons)
    assert _leaks(" ".join(reasons)) == []


def test_the_monitor_markdown_and_the_alert_withhold_the_small_group() -> None:
    record = _record()
    markdown = render_monitor_markdown(record)
    assert (
        "| fairness.group_metrics | fpr_gap | nationality | withheld | withheld | a group below 10 |"
        in markdown
    )
    assert _leaks(markdown) == []
    alert = alert_text(record)
    assert "fpr_gap (nationality) worse (numbers withheld: a group below 10)" in alert
    assert _leaks(alert) == []


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_report_withholds_the_small_group_in_every_section(lang: str) -> None:
    html = render_report(_record(), lang=lang)
    assert _leaks(html) == []
    assert "stateless" in html  # the group is named, with its size: only its numbers go
    # Its top inputs go with its shares; the large group's stay.
    assert "<td>nationality</td><td>korean</td><td>income_decile, household_size</td>" in html
    assert "<td>nationality</td><td>stateless</td><td>household_size</td>" not in html


def test_metrics_csv_blanks_the_small_groups_cells() -> None:
    """metrics.csv is published with the entry, so it is blanked like every published table."""
    text = metrics_csv(_record()).decode()
    assert _leaks(text) == []
    stateless = [line for line in text.splitlines() if ",stateless," in line]
    assert stateless and all(line.endswith(f",,,,{SMALL},True") for line in stateless)


def test_the_site_withholds_the_small_group_on_every_page(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger")
    for _ in range(2):  # two versions, so the service page draws a trend

        def build(info: EntryInfo) -> dict[str, bytes]:
            record = _record(info.audit_id, info.version)
            return {
                "record.json": record.model_dump_json(indent=2).encode(),
                "report.html": render_report(record, lang="ko").encode(),
                "report.en.html": render_report(record, lang="en").encode(),
            }

        ledger.append("welfare-review", "vendor-c", build)
    files = render_site(ledger.root)
    assert {"index.html", "service-welfare-review.html", "service-welfare-review.en.html"} <= set(files)
    leaks = {name: _leaks(data.decode("utf-8", errors="replace")) for name, data in files.items()}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_a_rounds_ranking_leaves_out_groups_below_the_disclosure_minimum() -> None:
    """With a disclosure minimum above the minimum group size, a gap must not rest on a group of 60
    whose false-positive rate rests on about 40 negatives."""
    rng = np.random.default_rng(4)
    groups = np.repeat([0, 1, 2], [2000, 2000, 60])
    labels = (rng.random(groups.size) < 0.3).astype(int)
    decisions = np.stack([rng.random(groups.size) < 0.3, rng.random(groups.size) < 0.3]).astype(int)
    decisions[0, groups == 2] = 1  # candidate one selects all 60: their false-positive rate is 1
    assert 30 <= ((groups == 2) & (labels == 0)).sum() < 50
    settings = CheckSettings(min_group_size=30, disclosure_min=50, n_boot=200)
    metric = RankMetric(metric="fpr_gap")
    job = RankJob(
        metric=metric,
        names=["one", "two"],
        labels=labels,
        decisions=decisions,
        groups=groups,
        n_groups=3,
        attribute="nationality",
        favourable=False,
        settings=settings,
        seed=7,
    )
    ranking = run_rank_job(job)
    common = {"groups": groups, "n_groups": 3, "attribute": "nationality", "n_boot": 200, "seed": 7}
    safe = rank(metric, ["one", "two"], labels, decisions, min_group=50, **common)
    leaky = rank(metric, ["one", "two"], labels, decisions, min_group=30, **common)
    assert ranking == safe
    one = next(e for e in leaky.estimates if e.candidate == "one")
    assert one.value is not None and one.value > 0.5  # what a group of 60 would have published
    comparison = ComparisonRecord(
        audit_id="welfare-review.round-q1.v1",
        round_id="q1",
        version=1,
        created_at="2026-11-01T06:00:00+09:00",
        service={"id": "welfare-review", "title": {"ko": "복지 심사", "en": "welfare review"}},
        policy={"id": PACK.id, "version": PACK.version, "title": PACK.title.model_dump()},
        data_sha256="ab" * 32,
        seed=7,
        task_runner="threads",
        candidates=[
            CandidateOutcome(candidate=c, vendor=c, audit_id=f"a.{c}.v1", recommendation="eligible")
            for c in ("one", "two")
        ],
        clauses=[],
        rankings=[ranking],
        command="assay procure round.yaml",
    )
    for lang in ("ko", "en"):
        html = render_comparison(comparison, lang=lang)
        assert f"{one.value:.4f}" not in html
        assert f"{next(e for e in safe.estimates if e.candidate == 'one').value:.4f}" in html
