"""What a monitored audit publishes: artifact keys, the monitor's markdown (small groups withheld,
rendered from the record alone) and the webhook alert."""

from __future__ import annotations

import re

import pytest

from assay.checks.drift import FeatureDrift
from assay.checks.monitoring import Drift, GroupShift, Monitoring, MonitorReport, flag_drift
from assay.checks.regression import MetricChange
from assay.dashboards.artifacts import alert_text, artifact_key, render_monitor_markdown
from assay.ledger.record import AuditRecord, Fingerprints, Subject

PREVIOUS = "welfare-review.vendor-c.v3"


def _change(
    metric: str, attribute: str | None, before: float, after: float, half: float, n: int, regression: bool
) -> MetricChange:
    check = "performance.classification" if "accuracy" in metric else "fairness.group_metrics"
    change = after - before
    return MetricChange(
        check_id=check, metric=metric, attribute=attribute, group=None, feature=None, n=n, before=before,
        after=after, change=change, ci_low=change - half, ci_high=change + half,
        real=abs(change) > half, regression=regression,
    )  # fmt: skip


CHANGES = [
    # Worse by 0.09 [0.07, 0.11]: beyond the 0.03 tolerance, about 800 people.
    _change("fpr_gap", "age_band", 0.05, 0.14, 0.02, 800, regression=True),
    # A regression whose smallest group has 4 people: its numbers stay out of the report.
    _change("equalized_odds_difference", "nationality", 0.0412, 0.3378, 0.05, 4, regression=True),
    # Real but within tolerance.
    _change("balanced_accuracy", None, 0.7731, 0.7618, 0.004, 20_000, regression=False),
    # Real within tolerance about a group of 5: left out.
    _change("tpr_gap", "disability", 0.1234, 0.2345, 0.05, 5, regression=False),
    # Within its interval.
    _change("fpr_gap", "sex", 0.0301, 0.0311, 0.01, 9000, regression=False),
]

SHIFTS = [
    GroupShift(attribute="age_band", group="65+", n_before=6000, n_after=9000, share_before=0.3,
               share_after=0.45, change=0.15, p_value=1e-200, shifted=True),
    GroupShift(attribute="age_band", group="under 65", n_before=14000, n_after=11000, share_before=0.7,
               share_after=0.55, change=-0.15, p_value=1e-200, shifted=True),
    GroupShift(attribute="nationality", group="other", n_before=250, n_after=4, share_before=0.0123,
               share_after=0.0004, change=-0.0119, p_value=0.2, shifted=False),
]  # fmt: skip


def _drift(feature: str, psi: float, p_value: float) -> FeatureDrift:
    return FeatureDrift(
        feature=feature, kind="categorical", psi=psi, test="chi2", statistic=812.5, p_value=p_value,
        n_reference=20_000, n_current=20_000,
    )  # fmt: skip


DRIFT: list[Drift] = flag_drift(
    [_drift("application_channel", 0.31, 1e-40), _drift("income_decile", 0.04, 0.4)], Monitoring()
)


def _report(previous: str | None = PREVIOUS, changes: list[MetricChange] = CHANGES) -> MonitorReport:
    if previous is None:
        return MonitorReport(
            run_key="k", previous_audit_id=None, window="2026-09.parquet", window_sha256="ab" * 32,
            reference_status="none", settings=Monitoring(),
        )  # fmt: skip
    return MonitorReport(
        run_key="k", previous_audit_id=previous, window="2026-10.parquet", window_sha256="cd" * 32,
        reference="2026-09.parquet", reference_status="found", settings=Monitoring(), changes=changes,
        drift=DRIFT, group_shift=SHIFTS,
    )  # fmt: skip


def _record(
    report: MonitorReport | None, service: str = "welfare-review", candidate: str = "vendor-c"
) -> AuditRecord:
    return AuditRecord(
        audit_id=f"{service}.{candidate}.v4",
        version=4,
        created_at="2026-11-01T06:00:00+09:00",
        subject=Subject(service=service, candidate=candidate, vendor="Gongjeong Systems", model="scorer",
                        model_version="1.0.0"),
        service={},
        candidate={},
        policy={"id": "kr-public-service", "version": "0.3.0", "parameters": {"disclosure_min": 10}},
        evaluation={"file": "2026-10.parquet"},
        inputs=Fingerprints(
            data_sha256="cd" * 32, model_sha256="0", policy_sha256="0", profile_sha256="0",
            contract_sha256=None, code_version="0", libraries={}, seed=0,
        ),
        results=[],
        verdicts=[],
        command="assay monitor",
        monitoring=report,
    )  # fmt: skip


def _section(text: str, title: str) -> str:
    """Return the body of the markdown section `## title` (up to the next heading)."""
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    found = [p for p in parts[1:] if p.startswith(title)]
    assert len(found) == 1, f"no single section {title!r} in:\n{text}"
    return found[0][len(title) :]


def _row(text: str, *cells: str) -> str:
    """Return the one table row starting with these cells."""
    start = "| " + " | ".join(cells) + " |"
    rows = [line for line in text.splitlines() if line.startswith(start)]
    assert len(rows) == 1, f"no single row {start!r} in:\n{text}"
    return rows[0]


@pytest.mark.parametrize(
    ("service", "candidate", "key"),
    [
        ("welfare-review", "vendor-c", "welfare-review-vendor-c"),
        ("Welfare Review", "Vendor_C.v2", "welfare-review-vendor-c-v2"),
        ("  Welfare / Review ", "--Vendor  C--", "welfare-review-vendor-c"),
    ],
)
def test_artifact_keys_are_lowercase_letters_digits_and_single_dashes(service, candidate, key) -> None:
    got = artifact_key(_record(None, service, candidate))
    assert got == key
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", got)


def test_a_regression_is_listed_with_its_interval_and_the_steady_rows_are_counted() -> None:
    text = render_monitor_markdown(_record(_report()))
    assert text.startswith("# welfare-review.vendor-c.v4: regression\n")
    assert f"compared with **{PREVIOUS}**" in text and "on window 2026-10.parquet (SHA-256" in text
    regressions = _section(text, "Regressions beyond tolerance")
    assert _row(regressions, "fairness.group_metrics", "fpr_gap", "age_band") == (
        "| fairness.group_metrics | fpr_gap | age_band | 0.050 | 0.140 | +0.090 [+0.070, +0.110] |"
    )
    assert "balanced_accuracy" not in regressions
    real = _section(text, "Real changes within tolerance")
    assert _row(real, "performance.classification", "balanced_accuracy", "all") == (
        "| performance.classification | balanced_accuracy | all | 0.773 | 0.762 | -0.011 [-0.015, -0.007] |"
    )
    assert "5 rows; 2 regressed beyond tolerance, 2 changed for real within tolerance, 1 unchanged" in text
    drift = _section(text, "Data drift (2026-09.parquet)")
    assert _row(drift, "application_channel").endswith("| yes |")
    assert _row(drift, "income_decile").endswith("| no |")
    assert "Inputs drifted: 1 of 2." in text


def test_numbers_about_groups_below_the_disclosure_minimum_are_withheld() -> None:
    text = render_monitor_markdown(_record(_report()))
    regressions = _section(text, "Regressions beyond tolerance")
    assert _row(regressions, "fairness.group_metrics", "equalized_odds_difference", "nationality") == (
        "| fairness.group_metrics | equalized_odds_difference | nationality | withheld | withheld "
        "| a group below 10 |"
    )
    # A real change within tolerance about a group of 5 is listed, its numbers withheld.
    real = _section(text, "Real changes within tolerance")
    assert _row(real, "fairness.group_metrics", "tpr_gap", "disability") == (
        "| fairness.group_metrics | tpr_gap | disability | withheld | withheld | a group below 10 |"
    )
    shares = _section(text, "Group shares")
    withheld = "| nationality | other | withheld | withheld | a group below 10 | no |"
    assert _row(shares, "nationality", "other") == withheld
    assert _row(shares, "age_band", "65+") == "| age_band | 65+ | 0.300 | 0.450 | +0.150 | yes |"
    # None of the withheld numbers appears anywhere, in any rounding the template uses.
    secrets = ["0.041", "0.338", "+0.297", "+0.247", "+0.347"]  # the regression about 4 people
    secrets += ["0.123", "0.235", "+0.111"]  # the real change about 5
    secrets += ["0.012", "0.000", "-0.012"]  # the share of a group now 4
    assert [s for s in secrets if s in text] == []


def test_a_group_absent_on_one_side_is_judged_by_its_other_count() -> None:
    new = GroupShift(
        attribute="nationality",
        group="new",
        n_before=0,
        n_after=3000,
        share_before=0.0,
        share_after=0.15,
        change=0.15,
        p_value=1e-9,
        shifted=True,
    )
    gone = GroupShift(attribute="nationality", group="gone", n_before=3, n_after=0, share_before=0.0002,
                      share_after=0.0, change=-0.0002, p_value=1e-9, shifted=False)  # fmt: skip
    report = _report().model_copy(update={"group_shift": [new, gone]})
    shares = _section(render_monitor_markdown(_record(report)), "Group shares")
    assert _row(shares, "nationality", "new") == "| nationality | new | 0.000 | 0.150 | +0.150 | yes |"
    assert (
        _row(shares, "nationality", "gone")
        == "| nationality | gone | withheld | withheld | a group below 10 | no |"
    )


def test_a_lower_disclosure_minimum_publishes_the_small_group() -> None:
    record = _record(_report())
    record = record.model_copy(update={"policy": {**record.policy, "parameters": {"disclosure_min": 3}}})
    text = render_monitor_markdown(record)
    assert "withheld" not in text
    assert _row(text, "fairness.group_metrics", "equalized_odds_difference", "nationality").endswith(
        "| 0.041 | 0.338 | +0.297 [+0.247, +0.347] |"
    )
    assert _row(text, "fairness.group_metrics", "tpr_gap", "disability")


def test_a_baseline_renders_without_the_comparison_sections() -> None:
    text = render_monitor_markdown(_record(_report(previous=None)))
    assert text.startswith("# welfare-review.vendor-c.v4: baseline\n")
    assert "First monitored audit of **welfare-review / vendor-c**" in text
    for heading in ("## Regressions", "## Real changes", "## Data drift", "## Group shares", "compared with"):
        assert heading not in text


def test_a_stable_run_says_no_regression() -> None:
    calm = [c for c in CHANGES if not c.regression]
    text = render_monitor_markdown(_record(_report(changes=calm)))
    assert text.startswith("# welfare-review.vendor-c.v4: stable\n")
    assert _section(text, "Regressions beyond tolerance").strip().startswith("None: no watched metric")


def test_the_markdown_is_the_same_from_the_stored_record() -> None:
    record = _record(_report())
    stored = AuditRecord.model_validate_json(record.model_dump_json())
    assert render_monitor_markdown(stored) == render_monitor_markdown(record)
    assert render_monitor_markdown(record) == render_monitor_markdown(record)


def test_a_record_without_monitoring_is_refused() -> None:
    record = _record(None)
    with pytest.raises(ValueError, match=r"welfare-review\.vendor-c\.v4"):
        render_monitor_markdown(record)
    with pytest.raises(ValueError, match=r"welfare-review\.vendor-c\.v4"):
        alert_text(record)


def test_the_alert_names_the_subject_the_previous_audit_the_regressions_and_the_drifted_inputs() -> None:
    text = alert_text(_record(_report()))
    assert "\n" not in text
    assert text.startswith(
        f"Assay: welfare-review/vendor-c regressed since {PREVIOUS} (window 2026-10.parquet):"
    )
    assert "fpr_gap (age_band) 0.050 → 0.140 [change +0.070 to +0.110]" in text
    # The alert is published too: the regression about 4 people is named, its numbers withheld.
    assert "equalized_odds_difference (nationality) worse (numbers withheld: a group below 10)" in text
    assert [x for x in ("0.041", "0.338", "+0.247", "+0.347") if x in text] == []
    assert "balanced_accuracy" not in text  # a real change within tolerance is no alert
    assert "Drifted inputs: application_channel." in text and "income_decile" not in text
    assert text.endswith("Ledger entry welfare-review.vendor-c.v4.")


def test_the_alert_lists_five_regressions_and_counts_the_rest() -> None:
    many = [_change("fpr_gap", f"attr{i}", 0.05, 0.15, 0.01, 900, regression=True) for i in range(7)]
    text = alert_text(_record(_report(changes=many)))
    assert [f"attr{i}" in text for i in range(7)] == [True] * 5 + [False] * 2
    assert "; and 2 more." in text
