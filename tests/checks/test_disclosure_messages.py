"""Check messages are published in the report: they never give numbers about a group below the
disclosure minimum, though the group's metric rows (blanked when published) keep them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from synthetic import make_profile

from assay.checks import bias
from assay.checks.context import AuditContext, CheckSettings, SensitiveAttribute
from assay.checks.counterfactual import counterfactual_flip
from assay.checks.mitigation import mitigation_headroom

SETTINGS = CheckSettings(n_boot=100, disclosure_min=10)


def _groups(n: int, tiny: int, seed: int) -> np.ndarray:
    """Return groups a (70%) and b, with the first `tiny` rows in group `tiny`."""
    group = np.random.default_rng(seed).choice(["a", "b"], n, p=[0.7, 0.3]).astype(object)
    group[:tiny] = "tiny"
    return group


def test_label_bias_names_a_small_significant_group_without_its_rates() -> None:
    rng = np.random.default_rng(10)
    group = _groups(3000, 8, seed=1)
    labels = np.where(group == "tiny", 1, (rng.random(3000) < 0.2).astype(int))
    df = pd.DataFrame({"id": np.arange(3000), "g": group, "y": labels})
    profile = make_profile("g")
    ctx = AuditContext(profile=profile, data=df, labels=labels, sensitive=profile.sensitive_frame(df),
                       settings=SETTINGS, seed=0)  # fmt: skip
    result = bias.label_bias(ctx)
    tiny = next(r for r in result.rows("base_rate") if r.group == "tiny")
    assert (tiny.value, tiny.n) == (1.0, 8)  # the sealed row keeps it; the sentence does not
    listed = next(m for m in result.messages if m.startswith("base rate differs significantly"))
    assert "g=tiny (numbers withheld: a group below 10)" in listed
    assert "1.000" not in listed


def test_mitigation_does_not_give_a_gap_that_rests_on_a_small_group() -> None:
    rng = np.random.default_rng(20)
    n = 6000
    group = _groups(n, 14, seed=2)
    labels = (rng.random(n) < 0.3).astype(int)
    labels[:14] = np.arange(14) % 2  # both labels in the small group, so it can be fitted
    scores = 1.0 / (1.0 + np.exp(-(1.5 * labels + rng.normal(size=n) - 1.0 + 1.2 * (group == "tiny"))))
    sensitive = pd.DataFrame({"g": group.astype(str)})
    ctx = AuditContext(profile=make_profile("g"), data=sensitive, settings=SETTINGS, seed=5, labels=labels,
                       scores=scores, decisions=(scores >= 0.5).astype(int), sensitive=sensitive)  # fmt: skip
    result = mitigation_headroom(ctx)
    gap = next(r for r in result.rows("equalized_odds_difference") if r.attribute == "g")
    assert gap.n is not None and gap.n < 10
    sentence = next(m for m in result.messages if m.startswith("with group-specific thresholds, g's"))
    assert (
        "g's equalized-odds gap (withheld: a group below 10) would change at an accuracy cost of" in sentence
    )
    assert f"from {gap.value:.2f}" not in sentence and f"from {gap.value:.3f}" not in sentence


class _TinyOrLarge:
    """A rule: select the rows of group `tiny`, and others whose x is positive."""

    features: tuple[str, ...] = ("x", "g")

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        return np.where((data["g"] == "tiny") | (data["x"] > 0), 0.9, 0.1)

    def native(self) -> None:
        return None


def test_counterfactual_names_no_small_group_as_the_most_flipped() -> None:
    n = 3000
    # Only the small group's rows have a negative x: only their decisions follow the group.
    x = np.random.default_rng(3).normal(2.0, 0.5, n)
    x[:6] = -1.0
    data = pd.DataFrame({"x": x, "g": _groups(n, 6, seed=3).astype(str)})
    profile = make_profile(SensitiveAttribute(name="g", column="g"))
    model = _TinyOrLarge()
    scores = model.predict_scores(data)
    ctx = AuditContext(profile=profile, data=data, settings=SETTINGS, seed=3, scores=scores,
                       decisions=(scores >= 0.5).astype(int), sensitive=profile.sensitive_frame(data),
                       model=model)  # fmt: skip
    result = counterfactual_flip(ctx)
    rates = {r.group: r for r in result.rows("flip_rate") if r.attribute == "g" and r.group}
    assert (rates["tiny"].value, rates["tiny"].n) == (1.0, 6)  # the sealed row keeps it
    assert max(rates[g].value for g in ("a", "b")) < 0.01
    sentence = next(m for m in result.messages if m.startswith("g (g) is an input"))
    assert "most for g=a" in sentence or "most for g=b" in sentence
    assert "moving tiny" not in sentence and "100.0" not in sentence
