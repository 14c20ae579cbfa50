"""The monitor's comparison pieces: group-share shift (chi-square as scipy computes it), drift flags
on both thresholds, the report's status, and the pack's monitoring settings (issue 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy import stats

from assay.checks.drift import FeatureDrift
from assay.checks.errors import AssayInputError
from assay.checks.monitoring import (
    Monitoring,
    MonitorReport,
    default_watches,
    flag_drift,
    group_share_shift,
)
from assay.checks.regression import MetricChange, Watch
from assay.checks.results import MetricRow
from assay.checks.stats import CROSS
from assay.data.loaders import load_policy

SIZE = "fairness.group_metrics"  # whose selection-rate rows carry the group sizes
SHIPPED_PACKS = ["kr-public-service", "eu-ai-act-high-risk", "nist-ai-rmf", "ca-dadm"]


def _sizes(attribute: str, counts: dict[str, int]) -> list[MetricRow]:
    """Return the selection-rate rows an audit writes for one attribute's groups (n = group size)."""
    return [
        MetricRow(
            check_id=SIZE, metric="selection_rate", attribute=attribute, group=g,
            value=0.3, ci_low=0.25, ci_high=0.35, n=n,
        )
        for g, n in counts.items()
    ]  # fmt: skip


def _noise(attribute: str) -> list[MetricRow]:
    """Rows that carry an n but are not group sizes: other metrics, a gap, another check."""
    return [
        MetricRow(check_id=SIZE, metric="tpr", attribute=attribute, group="a", value=0.5, n=7),
        MetricRow(check_id=SIZE, metric="selection_rate_gap", attribute=attribute, value=0.1, n=3),
        MetricRow(check_id="data.representation", metric="selection_rate", attribute=attribute, group="a",
                  value=0.5, n=1),
    ]  # fmt: skip


def _by_group(shifts, attribute: str) -> dict:
    return {s.group: s for s in shifts if s.attribute == attribute}


def _scipy_p(before: list[int], after: list[int]) -> float:
    table = np.array([before, after])
    table = table[:, table.sum(axis=0) > 0]
    return float(stats.chi2_contingency(table, correction=False)[1])


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"a": 600, "b": 400}, {"a": 560, "b": 440}),
        ({"18-34": 3100, "35-64": 5200, "65+": 1700}, {"18-34": 2900, "35-64": 5000, "65+": 2600}),
        ({"x": 12, "y": 30, "z": 9, "w": 50}, {"x": 20, "y": 22, "z": 9, "w": 41}),
    ],
)
def test_share_shift_p_value_is_scipys_chi_square_without_correction(before, after) -> None:
    noise = _noise("age")
    shifts = group_share_shift(_sizes("age", before) + noise, _sizes("age", after) + noise, 0.05)
    groups = sorted(before)
    expected = _scipy_p([before[g] for g in groups], [after[g] for g in groups])
    assert sorted(s.group for s in shifts) == groups  # one row per group, the noise rows left out
    for s in shifts:
        assert s.p_value == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert (s.n_before, s.n_after) == (before[s.group], after[s.group])
        assert s.share_before == pytest.approx(before[s.group] / sum(before.values()))
        assert s.share_after == pytest.approx(after[s.group] / sum(after.values()))
        assert s.change == pytest.approx(s.share_after - s.share_before)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 3000)), min_size=2, max_size=8))
def test_share_shift_agrees_with_scipy_on_any_counts(cells) -> None:
    before = {f"g{i}": b for i, (b, _) in enumerate(cells)}
    after = {f"g{i}": a for i, (_, a) in enumerate(cells)}
    shifts = group_share_shift(_sizes("region", before), _sizes("region", after), 0.05)
    groups = sorted(before)
    expected = _scipy_p([before[g] for g in groups], [after[g] for g in groups])
    assert len(shifts) == len(cells)
    assert all(s.p_value == pytest.approx(expected, rel=1e-9, abs=1e-12) for s in shifts)


def test_intersections_are_ignored_and_only_attributes_in_both_audits_compared() -> None:
    cross = f"sex{CROSS}age"
    before = _sizes("sex", {"f": 500, "m": 500}) + _sizes(cross, {"f|65+": 100, "m|65+": 900})
    before += _sizes("region", {"north": 700, "south": 300})  # not in the later audit
    after = _sizes("sex", {"f": 480, "m": 520}) + _sizes(cross, {"f|65+": 900, "m|65+": 100})
    shifts = group_share_shift(before, after, 0.05)
    assert {s.attribute for s in shifts} == {"sex"}
    assert sorted(s.group for s in shifts) == ["f", "m"]


def test_a_group_in_one_audit_only_has_share_zero_on_the_other_side_and_shares_sum_to_one() -> None:
    before = _sizes("nationality", {"KR": 900, "CN": 80, "VN": 20}) + _sizes("sex", {"f": 510, "m": 490})
    after = _sizes("nationality", {"KR": 850, "CN": 90, "PH": 60}) + _sizes("sex", {"f": 470, "m": 530})
    shifts = group_share_shift(before, after, 0.05)
    nat = _by_group(shifts, "nationality")
    assert sorted(nat) == ["CN", "KR", "PH", "VN"]
    ph, vn = nat["PH"], nat["VN"]
    assert (ph.n_before, ph.share_before, ph.share_after) == (0, 0.0, pytest.approx(0.06))
    assert (vn.n_after, vn.share_after, vn.share_before) == (0, 0.0, pytest.approx(0.02))
    assert nat["PH"].p_value == pytest.approx(_scipy_p([900, 80, 20, 0], [850, 90, 0, 60]), rel=1e-9)
    for attribute in ("nationality", "sex"):
        rows = _by_group(shifts, attribute).values()
        assert sum(s.share_before for s in rows) == pytest.approx(1.0)
        assert sum(s.share_after for s in rows) == pytest.approx(1.0)


def test_a_large_real_shift_is_flagged_and_a_tiny_or_unproven_one_is_not() -> None:
    big = group_share_shift(
        _sizes("age", {"65+": 6000, "under 65": 14000}), _sizes("age", {"65+": 9000, "under 65": 11000}), 0.05
    )
    assert all(s.shifted for s in big) and _by_group(big, "age")["65+"].change == pytest.approx(0.15)
    tiny = group_share_shift(
        _sizes("age", {"65+": 6000, "under 65": 14000}), _sizes("age", {"65+": 6060, "under 65": 13940}), 0.05
    )
    assert not any(s.shifted for s in tiny)
    # 30 points of change on ten rows is not beyond chance.
    unproven = group_share_shift(
        _sizes("age", {"65+": 3, "under 65": 7}), _sizes("age", {"65+": 6, "under 65": 4}), 0.05
    )
    assert _by_group(unproven, "age")["65+"].change == pytest.approx(0.3)
    assert unproven[0].p_value > 0.01 and not any(s.shifted for s in unproven)
    # Two million rows make a one-point move significant, but it is within the threshold.
    small_real = group_share_shift(
        _sizes("age", {"65+": 600_000, "under 65": 1_400_000}),
        _sizes("age", {"65+": 620_000, "under 65": 1_380_000}),
        0.05,
    )
    assert small_real[0].p_value < 1e-10 and not any(s.shifted for s in small_real)
    # The same move counts once the threshold is below it.
    assert all(s.shifted for s in group_share_shift(
        _sizes("age", {"65+": 600_000, "under 65": 1_400_000}),
        _sizes("age", {"65+": 620_000, "under 65": 1_380_000}),
        0.005,
    ))  # fmt: skip


def _feature(psi: float, p_value: float) -> FeatureDrift:
    return FeatureDrift(
        feature="income_decile", kind="numeric", psi=psi, test="ks", statistic=0.12, p_value=p_value,
        n_reference=5000, n_current=4800,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("psi", "p_value", "drifted"),
    [
        (0.25, 0.001, True),
        (0.2, 0.001, False),  # PSI at the threshold is not above it
        (0.2000001, 0.001, True),
        (0.25, 0.01, False),  # p at the threshold is not below it
        (0.25, 0.0099, True),
        (0.15, 1e-30, False),  # significant but small
        (0.90, 0.5, False),  # large but chance
    ],
)
def test_drift_is_flagged_only_when_both_psi_and_the_test_cross(psi, p_value, drifted) -> None:
    (flagged,) = flag_drift([_feature(psi, p_value)], Monitoring())
    assert flagged.drifted is drifted
    assert flagged.model_dump(exclude={"drifted"}) == _feature(psi, p_value).model_dump()


def test_drift_flags_follow_the_packs_thresholds() -> None:
    loose = Monitoring(drift_psi=0.1, drift_p_value=0.05)
    flagged = flag_drift([_feature(0.15, 0.03), _feature(0.05, 0.001)], loose)
    assert [d.drifted for d in flagged] == [True, False]
    assert [d.drifted for d in flag_drift([_feature(0.15, 0.03)], Monitoring())] == [False]


def _change(regression: bool, real: bool = True) -> MetricChange:
    return MetricChange(
        check_id="fairness.group_metrics", metric="fpr_gap", attribute="age", group=None, feature=None, n=900,
        before=0.05, after=0.12, change=0.07, ci_low=0.05, ci_high=0.09, real=real, regression=regression,
    )  # fmt: skip


def _report(previous: str | None, changes: list[MetricChange]) -> MonitorReport:
    return MonitorReport(
        run_key="k", previous_audit_id=previous, window="2026-10.parquet", window_sha256="ab" * 32,
        reference_status="none" if previous is None else "found", settings=Monitoring(), changes=changes,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("previous", "regressions", "status"),
    [
        (None, [], "baseline"),
        (None, [True], "baseline"),  # nothing earlier: never a regression
        ("welfare-review.vendor-c.v1", [], "stable"),
        ("welfare-review.vendor-c.v1", [False, False], "stable"),
        ("welfare-review.vendor-c.v1", [False, True], "regression"),
    ],
)
def test_status_is_derived_from_the_previous_audit_and_the_changes(previous, regressions, status) -> None:
    report = _report(previous, [_change(r) for r in regressions])
    assert report.status == status
    assert report.model_dump()["status"] == status
    assert len(report.regressions()) == (sum(regressions))


def test_a_real_change_within_tolerance_is_stable() -> None:
    assert _report("s.c.v1", [_change(regression=False, real=True)]).status == "stable"


@pytest.mark.parametrize(
    ("watch", "named"),
    [
        ({"check": "fairness.no_such_check", "metric": "fpr_gap"}, "fairness.no_such_check"),
        ({"check": "fairness.group_metrics", "metric": "fpr_gapp"}, "fpr_gapp"),
        ({"check": "performance.classification", "metric": "fpr_gap"}, "fpr_gap"),  # another check's
    ],
)
def test_a_watch_on_an_unknown_check_or_metric_is_refused_by_name(watch, named) -> None:
    with pytest.raises(ValidationError, match=named):
        Monitoring(watches=[{**watch, "worse": "up", "tolerance": 0.02}])


def test_monitoring_needs_at_least_one_watch_and_knows_its_fields() -> None:
    with pytest.raises(ValidationError):
        Monitoring(watches=[])
    with pytest.raises(ValidationError, match="drift_psii"):
        Monitoring(drift_psii=0.3)


@pytest.mark.parametrize("pack_id", SHIPPED_PACKS)
def test_every_shipped_pack_watches_accuracy_and_fairness_in_the_worse_direction(pack_id) -> None:
    pack, _ = load_policy(pack_id)
    watches = pack.monitoring.watches
    assert {(w.check, w.metric) for w in watches} >= {
        ("performance.classification", "balanced_accuracy"),
        ("fairness.group_metrics", "equalized_odds_difference"),
    }
    for w in watches:
        lower_is_worse = w.metric in ("balanced_accuracy", "roc_auc", "accuracy")
        assert w.worse == ("down" if lower_is_worse else "up"), w
        assert 0 < w.tolerance < 0.1, w


WATCH = {"check": "fairness.group_metrics", "metric": "fpr_gap", "worse": "up", "tolerance": 0.01}
LOCAL = {
    "id": "seoul-welfare",
    "version": "2026.1",
    "title": {"ko": "서울시 복지 점검", "en": "Seoul welfare audits"},
    "jurisdiction": "KR-11",
    "extends": "kr-public-service",
    "monitoring": {
        "watches": [WATCH],
        "drift_psi": 0.1,
    },
}


def _write(tmp_path: Path, pack: dict, name: str = "local.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    return path


def test_a_local_pack_replaces_the_national_watches_and_a_district_pack_inherits_them(tmp_path) -> None:
    local, _ = load_policy(str(_write(tmp_path, LOCAL)))
    assert local.monitoring.watches == [Watch(**WATCH)]
    assert (local.monitoring.drift_psi, local.monitoring.drift_p_value) == (0.1, 0.01)
    national, _ = load_policy("kr-public-service")
    assert national.monitoring.watches == default_watches() and national.monitoring.drift_psi == 0.2
    district = {k: v for k, v in LOCAL.items() if k != "monitoring"}
    district.update(id="gangnam-welfare", extends="local.yaml")
    pack, _ = load_policy(str(_write(tmp_path, district, "district.yaml")))
    assert pack.monitoring == local.monitoring


def test_a_local_pack_with_an_unknown_watched_metric_is_a_one_line_error_naming_it(tmp_path) -> None:
    bad = {**LOCAL, "monitoring": {"watches": [{**WATCH, "metric": "fpr_gapp"}]}}
    path = _write(tmp_path, bad)
    with pytest.raises(AssayInputError) as info:
        load_policy(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and "monitoring.watches.0" in message and "'fpr_gapp'" in message
