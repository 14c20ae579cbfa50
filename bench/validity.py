"""Validity of the verdict engine: coverage, false fails, power and masking; new beside old.

Run: .venv/bin/python bench/validity.py [--reps R] [--old-reps R] [--quick] [--fairlearn-reps F] [--seed S]

Every configuration of the grid is one layout of groups (sizes), one rate and one gate metric of
the shipped packs, at four truths: parity; one group exactly at the limit (a compliant vendor at
its edge); half the groups at the limit at once (every group, for comparisons with the reference:
many comparisons on the limit together); one group at twice the limit (a breach). Each
repetition draws the decisions of
fixed groups (binomial true and false positives at the cell's rates) and measures them with:
- the engine: `checks/intervals.py` and `checks/disparity.py` vectorized over repetitions, judged
  by the rule of `checks/settle.py`; the first repetitions of every cell also go through
  `fairness.group_metrics` and `policy.judge_evidence` on row data, and the bench stops if the two
  disagree, so what it measures is the engine;
- the previous engine (percentile multinomial bootstrap of confusion cells, basic bootstrap for
  summaries, a group below the minimum size inconclusive, summaries' n the smallest group's size);
- fairlearn's `MetricFrame(n_boot=...)` bootstrap, on a few cells (it re-runs per replicate).

Targets (exit 1 when one is missed):
- coverage of the 95% intervals >= 0.93 in every cell;
- false-fail rate <= 0.025 per bound in every cell at parity, and at the limit (where a valid
  engine sits near 2.5% by design: within the Monte Carlo noise of the worst of many cells);
- no decisive gap among groups of >= 1000 people called inconclusive because of a small group;
- power at a gap of twice the limit within 2 points of the old engine, on the same repetitions,
  where the old engine was valid: its coverage >= 0.93 at all four truths and its false fails
  <= 0.025 at parity and at both limits. (Judged at parity alone, the old engine's unadjusted
  comparisons count as valid where they fail a compliant vendor far more often than 2.5%; the
  bench prints that reading too.)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from assay.checks.context import AuditContext, CheckSettings, SensitiveAttribute, ServiceProfile, Text
from assay.checks.disparity import Summary, member_pairs, rate_counts, span_ends, summaries
from assay.checks.fairness import group_metrics
from assay.checks.intervals import compare_interval, each_confidence, rate_interval
from assay.checks.policy import Evidence, VerdictStatus, judge_evidence

SEED = 20261207
CONFIDENCE = 0.95
MINIMUM = 30  # the shipped packs' min_group_size
LARGE = 1000  # "large groups" of the masking target
COVERAGE_MIN = 0.93
FALSE_FAIL_MAX = 0.025
POWER_SLACK = 0.02
RATES = (0.005, 0.03, 0.1, 0.3, 0.5, 0.9, 0.995)
SIZES = (20, 45, 100, 300, 1000, 10_000, 100_000)
BASE_RATE = 0.3  # share of positive labels in every group
# The welfare-review service: a positive decision (selected for review) is a burden.
FAVOURABLE = False
# The gate metrics of fairness.group_metrics in the shipped packs, with their bounds.
GATES = {
    "selection_rate_ratio": (0.8, 1.25),
    "four_fifths_ratio": (0.8, None),
    "equalized_odds_difference": (None, 0.10),
}
FAIL, PASS, UNDECIDED = 2, 0, 1
# parity; one group at the limit; half the groups at the limit at once (every group, for the
# comparisons with the reference), where many comparisons sit on the limit together; one group at
# twice the limit.
TRUTHS = ("parity", "limit", "limit_all", "gap")


@dataclass(frozen=True)
class Layout:
    """Groups' sizes (group 0 is the reference, the largest), and the group a breach is planted in."""

    name: str
    sizes: tuple[int, ...]
    target: int = 1


def layouts(quick: bool) -> list[Layout]:
    """Return the grid's layouts: a small group beside a large one, equal groups, tiny groups beside
    large ones, and the pairwise intersections of two attributes."""
    sizes = (20, 45, 300, 10_000) if quick else SIZES
    out = [Layout(f"ref+{s}", (max(5000, s), s)) for s in sizes]
    for k in (5,) if quick else (2, 5, 20):
        for s in (20, 100) if quick else (20, 100, 1000):
            out.append(Layout(f"{k}x{s}", (s,) * k))
    out.append(Layout("large+17", (5000, 3000, 1000, 17), target=2))
    out.append(Layout("large+11", (3175, 2103, 1000, 11), target=2))
    # Intersections of sex (55/45%) and a five-group attribute, 20,000 people; and of a four-group
    # attribute with a 1% group and sex, 5,000 people: the crosses are the groups.
    for total, first, second in (
        (20_000, (0.55, 0.45), (0.5, 0.25, 0.15, 0.07, 0.03)),
        (5_000, (0.5, 0.3, 0.19, 0.01), (0.6, 0.4)),
    ):
        crossed = sorted((round(total * a * b) for a in first for b in second), reverse=True)
        out.append(Layout(f"cross{len(first)}x{len(second)}", tuple(crossed), target=1))
    return out


@dataclass(frozen=True)
class Cell:
    """One cell of the grid: layout, rate, gate metric and truth."""

    layout: Layout
    rate: float
    metric: str
    truth: str  # one of TRUTHS

    @property
    def key(self) -> str:
        """Return the cell's name."""
        return f"{self.metric} {self.layout.name} p={self.rate:g} {self.truth}"

    def moved(self) -> tuple[np.ndarray, int]:
        """Return which groups move away from parity, and by how many limits."""
        g = len(self.layout.sizes)
        if self.truth == "parity":
            return np.zeros(g, bool), 0
        if self.truth == "limit_all":  # every pair across the two halves sits at the limit
            start = 1 if self.metric == "selection_rate_ratio" else 0
            return np.isin(np.arange(g), np.arange(start, g, 1 if start else 2)), 1
        return np.arange(g) == self.layout.target, 1 if self.truth == "limit" else 2

    def true_rates(self) -> tuple[np.ndarray, np.ndarray]:
        """Return each group's true positive rate and false positive rate."""
        g = len(self.layout.sizes)
        t, f = self.moved()
        if self.metric == "equalized_odds_difference":
            tpr, fpr = np.full(g, 1 - self.rate), np.full(g, self.rate)
            step = f * GATES[self.metric][1]  # both error rates move, inward if need be
            tpr[t] += step if tpr[0] + step <= 1 else -step
            fpr[t] += step if fpr[0] + step <= 1 else -step
            return tpr, fpr
        selection = np.full(g, self.rate)
        if self.metric == "selection_rate_ratio":  # 1.25^f times the reference, or 0.8^f when that is > 1
            up = self.rate * 1.25**f
            selection[t] = up if up <= 0.999 else self.rate * 0.8**f
        else:  # the favourable rate (not selected) at 0.8^f of the others'
            selection[t] = 1 - (1 - self.rate) * 0.8**f
        return selection, selection.copy()  # decisions independent of the label


def cells(quick: bool) -> list[Cell]:
    """Return every cell of the grid."""
    rates = (0.005, 0.03, 0.3, 0.995) if quick else RATES
    return [
        Cell(layout, rate, metric, truth)
        for layout in layouts(quick)
        for rate in rates
        for metric in GATES
        for truth in TRUTHS
    ]


def simulate(cell: Cell, reps: int, rng: np.random.Generator) -> np.ndarray:
    """Return confusion counts (reps, groups, 4: TN, FP, FN, TP) of fixed groups at the true rates."""
    sizes = np.array(cell.layout.sizes)
    positives = np.round(sizes * BASE_RATE).astype(int)
    negatives = sizes - positives
    tpr, fpr = cell.true_rates()
    tp = rng.binomial(positives, tpr, size=(reps, sizes.size))
    fp = rng.binomial(negatives, fpr, size=(reps, sizes.size))
    return np.stack([negatives - fp, fp, positives - tp, tp], axis=-1).astype(float)


def truth(cell: Cell) -> dict[str, np.ndarray | float]:
    """Return the true value of the cell's metric rows: per group for a ratio, one for a summary."""
    sizes = np.array(cell.layout.sizes, dtype=float)
    positives = np.round(sizes * BASE_RATE)
    tpr, fpr = cell.true_rates()
    expected = np.stack([(1 - fpr), fpr, (1 - tpr), tpr], axis=-1) * np.stack(
        [sizes - positives, sizes - positives, positives, positives], axis=-1
    )
    summary = _summary(cell.metric)
    rates = [np.divide(*rate_counts(expected, r, FAVOURABLE)) for r in summary.rates] if summary else []
    if cell.metric == "selection_rate_ratio":
        sel = np.divide(*rate_counts(expected, "selection_rate", FAVOURABLE))
        return {"rows": sel[1:] / sel[0]}
    assert summary is not None
    if summary.kind == "difference":
        return {"summary": max(float(r.max() - r.min()) for r in rates)}
    return {"summary": min(float(r.min() / r.max()) for r in rates)}


def _summary(metric: str) -> Summary | None:
    return summaries(FAVOURABLE).get(metric)


# --- the engine, vectorized over repetitions ------------------------------------------------------


@dataclass
class Measured:
    """One engine's results in one cell: verdicts per repetition and interval coverage per row."""

    verdict: np.ndarray  # (reps,) FAIL, PASS or UNDECIDED of the evidence item
    fail_low: np.ndarray  # (reps,) failed below the range's minimum
    fail_high: np.ndarray  # (reps,) failed above its maximum
    covered: np.ndarray  # (reps, rows) the row's interval holds the true value
    rates_covered: np.ndarray | None = None  # (reps, groups) the group rates' intervals hold theirs
    lows: np.ndarray | None = None  # (reps, rows) the rows' intervals, for the cross-check
    highs: np.ndarray | None = None


def judge(decisive: tuple[np.ndarray, np.ndarray] | None, every: tuple[np.ndarray, np.ndarray], bounds):
    """Return FAIL/PASS/UNDECIDED per row by the engine's rule, and which side a fail is on.

    `checks/settle.py`: fail when the interval on enough evidence lies beyond the range, pass when
    the interval of every group's evidence lies within it.
    """
    low, high = bounds
    within = np.ones(every[0].shape, bool)
    if low is not None:
        within &= every[0] >= low
    if high is not None:
        within &= every[1] <= high
    below = np.zeros(every[0].shape, bool) if decisive is None or low is None else decisive[1] < low
    above = np.zeros(every[0].shape, bool) if decisive is None or high is None else decisive[0] > high
    verdict = np.where(below | above, FAIL, np.where(within, PASS, UNDECIDED))
    return verdict, below, above


def engine(cell: Cell, counts: np.ndarray) -> Measured:
    """Measure one cell with the engine, vectorized over repetitions."""
    truths = truth(cell)
    bounds = GATES[cell.metric]
    sizes = np.array(cell.layout.sizes)
    sel_k, sel_n = rate_counts(counts, "selection_rate", FAVOURABLE)
    rates_low, rates_high = rate_interval(sel_k, sel_n, CONFIDENCE)
    true_sel = np.divide(*rate_counts(_expected(cell), "selection_rate", FAVOURABLE))
    rates_covered = (rates_low <= true_sel + 1e-12) & (true_sel - 1e-12 <= rates_high)
    if cell.metric == "selection_rate_ratio":
        # Simultaneous over the comparisons with the reference: all of them for the row's interval,
        # those on enough evidence for the interval that may prove a breach.
        sizes = np.array(cell.layout.sizes)
        decisive_count = int((sizes[1:] >= MINIMUM).sum()) if sizes[0] >= MINIMUM else 0
        others, ref = (sel_k[:, 1:], sel_n[:, 1:]), (sel_k[:, :1], sel_n[:, :1])
        low, high = compare_interval("ratio", *others, *ref, each_confidence(CONFIDENCE, sizes.size - 1))
        dec_low, dec_high = compare_interval(
            "ratio", *others, *ref, each_confidence(CONFIDENCE, decisive_count)
        )
        enough = np.minimum(sel_n[:, 1:], sel_n[:, :1]) >= MINIMUM
        decisive = (np.where(enough, dec_low, -np.inf), np.where(enough, dec_high, np.inf))
        verdicts, below, above = judge(decisive, (low, high), bounds)
        covered = (low <= truths["rows"]) & (truths["rows"] <= high)
        worst = verdicts.max(axis=1)  # FAIL > UNDECIDED > PASS
        return Measured(worst, below.any(axis=1), above.any(axis=1), covered, rates_covered, low, high)
    summary = _summary(cell.metric)
    assert summary is not None
    parts = [rate_counts(counts, r, FAVOURABLE) for r in summary.rates]
    k = np.stack([p[0] for p in parts], axis=-2)  # (reps, rates, groups)
    n = np.stack([p[1] for p in parts], axis=-2)
    fixed_n = n[0]  # denominators do not vary: the groups and their labels are fixed
    decisive_members = [row >= MINIMUM for row in fixed_n]
    every_members = [row > 0 for row in fixed_n]
    every = span_ends(summary.kind, k, n, member_pairs(every_members), CONFIDENCE)
    dec_pairs = member_pairs(decisive_members)
    dec = span_ends(summary.kind, k, n, dec_pairs, CONFIDENCE) if dec_pairs else None
    if summary.kind == "difference":
        low, high = (dec.low if dec else every.low), every.high
    else:
        low, high = every.low, (dec.high if dec else every.high)
    decisive = (dec.low, dec.high) if dec else None
    verdict, below, above = judge(decisive, (every.low, every.high), bounds)
    covered = ((low <= truths["summary"] + 1e-12) & (truths["summary"] - 1e-12 <= high))[:, None]
    return Measured(verdict, below, above, covered, rates_covered, low[:, None], high[:, None])


def restrict(cell: Cell, counts: np.ndarray, least: int) -> tuple[Cell, np.ndarray]:
    """Return the cell and counts of its groups of at least `least` people (the target among them)."""
    sizes = np.array(cell.layout.sizes)
    keep = np.flatnonzero(sizes >= least)
    assert cell.layout.target in keep
    layout = Layout(
        f"{cell.layout.name}>={least}", tuple(sizes[keep]), int(np.searchsorted(keep, cell.layout.target))
    )
    return replace(cell, layout=layout), counts[:, keep]


def _expected(cell: Cell) -> np.ndarray:
    sizes = np.array(cell.layout.sizes, dtype=float)
    positives = np.round(sizes * BASE_RATE)
    tpr, fpr = cell.true_rates()
    return np.stack(
        [(sizes - positives) * (1 - fpr), (sizes - positives) * fpr, positives * (1 - tpr), positives * tpr],
        axis=-1,
    )


# --- the previous engine --------------------------------------------------------------------------


def old_engine(cell: Cell, counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> Measured:
    """Measure one cell as the engine before this change did: multinomial bootstrap of the cells."""
    truths = truth(cell)
    reps, groups, _ = counts.shape
    total = counts.sum(axis=(1, 2))
    flat = counts.reshape(reps, -1)
    boot = np.stack([rng.multinomial(int(total[r]), flat[r] / total[r], size=n_boot) for r in range(reps)])
    boot = boot.reshape(reps, n_boot, groups, 4).astype(float)
    sizes = counts.sum(axis=-1)  # (reps, groups): the old n was the group's size
    bounds = GATES[cell.metric]
    with np.errstate(invalid="ignore", divide="ignore"):
        if cell.metric == "selection_rate_ratio":
            point = _old_rates(counts, "selection_rate")
            rep = _old_rates(boot, "selection_rate")
            value = point[:, 1:] / point[:, :1]
            reps_ratio = rep[..., 1:] / rep[..., :1]
            low, high = _nanquantiles(reps_ratio)
            n = np.minimum(sizes[:, 1:], sizes[:, :1])
            verdict, below, above = _old_judge(value, low, high, n, bounds)
            covered = (low <= truths["rows"]) & (truths["rows"] <= high)
            return Measured(
                verdict.max(axis=1), below.any(axis=1), above.any(axis=1), covered, None, low, high
            )
        summary = _summary(cell.metric)
        assert summary is not None
        point = _old_summary(counts, summary)
        rep = _old_summary(boot, summary)
        q_low, q_high = _nanquantiles(rep)
        # The old basic interval: reflected about the estimate, widened to hold it, clipped to [0, 1].
        low = np.clip(np.fmin(2 * point - q_high, point), 0, 1)
        high = np.clip(np.fmax(2 * point - q_low, point), 0, 1)
        n = sizes.min(axis=1)
        verdict, below, above = _old_judge(point, low, high, n, bounds)
        covered = ((low <= truths["summary"] + 1e-12) & (truths["summary"] - 1e-12 <= high))[:, None]
        return Measured(verdict, below, above, covered, None, low[:, None], high[:, None])


def _old_rates(counts: np.ndarray, rate: str) -> np.ndarray:
    k, n = rate_counts(counts, rate, FAVOURABLE)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)


def _old_summary(counts: np.ndarray, summary: Summary) -> np.ndarray:
    import warnings

    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for rate in summary.rates:
            r = _old_rates(counts, rate)
            top, bottom = np.nanmax(r, axis=-1), np.nanmin(r, axis=-1)
            parts.append(
                top - bottom if summary.kind == "difference" else np.where(top > 0, bottom / top, np.nan)
            )
        stacked = np.stack(parts, axis=-1)
        return np.nanmax(stacked, axis=-1) if summary.kind == "difference" else np.nanmin(stacked, axis=-1)


def _nanquantiles(reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the 2.5% and 97.5% quantiles over the bootstrap axis (1), NaN replicates left out."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(reps, [0.025, 0.975], axis=1)
    return low, high


def _old_judge(value, low, high, n, bounds):
    lo, hi = bounds
    undefined = ~np.isfinite(value) | ~np.isfinite(low) | ~np.isfinite(high)
    small = n < MINIMUM
    below = (~undefined & ~small & (high < lo)) if lo is not None else np.zeros(value.shape, bool)
    above = (~undefined & ~small & (low > hi)) if hi is not None else np.zeros(value.shape, bool)
    inside = ~undefined & ~small
    if lo is not None:
        inside &= low >= lo
    if hi is not None:
        inside &= high <= hi
    verdict = np.where(below | above, FAIL, np.where(inside, PASS, UNDECIDED))
    return verdict, below, above


# --- the engine end to end on row data, for the cross-check ----------------------------------------


def rows_of(cell: Cell, counts: np.ndarray) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return row data (group, label, decision) with the given confusion counts per group."""
    groups, labels, decisions = [], [], []
    for g, (tn, fp, fn, tp) in enumerate(counts.astype(int)):
        for label, decision, count in ((0, 0, tn), (0, 1, fp), (1, 0, fn), (1, 1, tp)):
            groups += [f"g{g:02d}"] * count
            labels += [label] * count
            decisions += [decision] * count
    return pd.DataFrame({"g": groups}), np.array(labels), np.array(decisions)


def end_to_end(cell: Cell, counts: np.ndarray) -> tuple[int, float | None, float | None]:
    """Return the verdict and the first row's interval from the real check and verdict engine."""
    sensitive, labels, decisions = rows_of(cell, counts)
    profile = ServiceProfile(
        id="validity",
        title=Text(ko="타당성", en="validity"),
        decision=Text(ko="타당성", en="validity"),
        risk_tier="high-impact",
        id_column="id",
        label={"column": "y", "positive": 1},
        positive_decision_is_favourable=FAVOURABLE,
        sensitive_attributes=[SensitiveAttribute(name="g", column="g", reference_group="g00")],
    )
    ctx = AuditContext(
        profile=profile,
        data=sensitive,
        settings=CheckSettings(intersections="none", min_group_size=MINIMUM, confidence=CONFIDENCE),
        labels=labels,
        decisions=decisions,
        sensitive=sensitive,
    )
    result = group_metrics(ctx)
    low, high = GATES[cell.metric]
    evidence = Evidence(basis="agency", check="fairness.group_metrics", metric=cell.metric, min=low, max=high)
    status, _, _ = judge_evidence(evidence, result, MINIMUM)
    code = {VerdictStatus.FAIL: FAIL, VerdictStatus.PASS: PASS}.get(status, UNDECIDED)
    first = sorted(result.rows(cell.metric), key=lambda r: r.group or "")[0]
    return code, first.ci_low, first.ci_high


def cross_check(cell: Cell, counts: np.ndarray, measured: Measured, reps: int) -> None:
    """Stop when the vectorized engine and the real one disagree on a repetition."""
    for r in range(reps):
        code, low, high = end_to_end(cell, counts[r])
        assert measured.lows is not None and measured.highs is not None
        want_low, want_high = measured.lows[r, 0], measured.highs[r, 0]
        same_ends = all(
            (got is None and not math.isfinite(want))
            or (got is not None and math.isclose(got, want, abs_tol=1e-9))
            for got, want in ((low, want_low), (high, want_high))
        )
        if code != measured.verdict[r] or not same_ends:
            raise AssertionError(
                f"{cell.key}, repetition {r}: the engine says {code} {low}..{high}, "
                f"the bench {measured.verdict[r]} {want_low}..{want_high}"
            )


# --- fairlearn's bootstrap -------------------------------------------------------------------------


def fairlearn_cells() -> list[Cell]:
    """Return the few cells fairlearn's bootstrap is measured on (the four-fifths ratio at parity)."""
    picked = [Layout("ref+45", (5000, 45)), Layout("ref+300", (5000, 300)), Layout("5x100", (100,) * 5)]
    return [
        Cell(layout, rate, "four_fifths_ratio", "parity")
        for layout, rate in zip(picked, (0.97, 0.9, 0.7), strict=True)
    ]


def fairlearn_measure(cell: Cell, counts: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    """Return the coverage and false-fail rate of fairlearn's bootstrap interval of the min/max ratio."""
    from fairlearn.metrics import MetricFrame

    def favourable(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(1 - np.mean(y_pred))

    truths = truth(cell)["summary"]
    covered = fails = 0
    for r in range(counts.shape[0]):
        sensitive, labels, decisions = rows_of(cell, counts[r])
        frame = MetricFrame(
            metrics={"favourable": favourable},
            y_true=labels,
            y_pred=decisions,
            sensitive_features=sensitive["g"],
            n_boot=n_boot,
            ci_quantiles=[0.025, 0.975],
            random_state=seed + r,
        )
        low, high = (float(q.iloc[0]) for q in frame.ratio_ci())
        covered += low <= truths <= high
        fails += high < 0.8
    return covered / counts.shape[0], fails / counts.shape[0]


# --- the study ------------------------------------------------------------------------------------


@dataclass
class Row:
    """One cell's numbers for both engines."""

    cell: Cell
    coverage: float  # the worst row's
    family_coverage: float  # every row at once
    rate_coverage: float
    false_fail_low: float
    false_fail_high: float
    fail: float
    fail_paired: float  # on the repetitions the old engine ran too
    masked: float | None
    old_coverage: float
    old_family_coverage: float
    old_false_fail_low: float
    old_false_fail_high: float
    old_fail: float
    old_masked: float | None


def masking(cell: Cell, counts: np.ndarray, new: Measured, old: Measured, args) -> tuple[float, float] | None:
    """Return how often each engine leaves undecided a breach that groups of >= 1000 people prove,
    when the same engine decides it once the groups below the minimum are left out."""
    sizes = np.array(cell.layout.sizes)
    if cell.truth != "gap" or not (sizes < MINIMUM).any() or (sizes >= LARGE).sum() < 2:
        return None
    proven = engine(*restrict(cell, counts, LARGE)).verdict == FAIL
    without = engine(*restrict(cell, counts, MINIMUM)).verdict == FAIL
    old_part = counts[: args.old_reps]
    old_without = old_engine(
        *restrict(cell, old_part, MINIMUM), args.old_boot, np.random.default_rng(1)
    ).verdict
    shares = []
    for full, dropped, where in ((new.verdict, without, proven), (old.verdict, old_without == FAIL, proven)):
        n = min(len(full), len(where))
        hit = where[:n] & dropped[:n]
        shares.append(float((full[:n][hit] != FAIL).mean()) if hit.any() else 0.0)
    return shares[0], shares[1]


def study(args: argparse.Namespace) -> Iterator[Row]:
    """Run every cell and yield its numbers."""
    for number, cell in enumerate(cells(args.quick)):
        rng = np.random.default_rng([args.seed, number])
        counts = simulate(cell, args.reps, rng)
        new = engine(cell, counts)
        cross_check(cell, counts, new, args.check_reps)
        old = old_engine(cell, counts[: args.old_reps], args.old_boot, rng)
        masked = masking(cell, counts, new, old, args)
        if number % 100 == 99:
            print(f"... {number + 1} cells", file=sys.stderr, flush=True)
        yield Row(
            cell=cell,
            coverage=float(new.covered.mean(axis=0).min()),
            family_coverage=float(new.covered.all(axis=1).mean()),
            rate_coverage=float(new.rates_covered.mean(axis=0).min())
            if new.rates_covered is not None
            else 1.0,
            false_fail_low=float(new.fail_low.mean()),
            false_fail_high=float(new.fail_high.mean()),
            fail=float((new.verdict == FAIL).mean()),
            fail_paired=float((new.verdict[: args.old_reps] == FAIL).mean()),
            masked=None if masked is None else masked[0],
            old_coverage=float(old.covered.mean(axis=0).min()),
            old_family_coverage=float(old.covered.all(axis=1).mean()),
            old_false_fail_low=float(old.fail_low.mean()),
            old_false_fail_high=float(old.fail_high.mean()),
            old_fail=float((old.verdict == FAIL).mean()),
            old_masked=None if masked is None else masked[1],
        )


def worst(rows: list[Row], attr: str, highest: bool) -> Row:
    """Return the row with the worst value of `attr`."""
    candidates = [r for r in rows if getattr(r, attr) is not None]
    return (max if highest else min)(candidates, key=lambda r: getattr(r, attr))


def old_valid(config: dict[str, Row], at_parity_only: bool) -> bool:
    """Say whether the old engine was valid in a configuration (its rows at every truth)."""
    nulls = ("parity",) if at_parity_only else ("parity", "limit", "limit_all")
    fails = max(max(config[t].old_false_fail_low, config[t].old_false_fail_high) for t in nulls)
    covers = min(config[t].old_coverage for t in (("parity",) if at_parity_only else TRUTHS))
    return covers >= COVERAGE_MIN and fails <= FALSE_FAIL_MAX


def power_loss(rows: list[Row], at_parity_only: bool) -> tuple[float, Row | None, int]:
    """Return the largest power the engine loses against the old one where the old one was valid,
    on the same repetitions."""
    configs: dict[tuple, dict[str, Row]] = {}
    for r in rows:
        configs.setdefault((r.cell.metric, r.cell.layout, r.cell.rate), {})[r.cell.truth] = r
    losses = [
        (c["gap"].old_fail - c["gap"].fail_paired, c["gap"])
        for c in configs.values()
        if old_valid(c, at_parity_only)
    ]
    if not losses:
        return 0.0, None, 0
    loss, row = max(losses, key=lambda x: x[0])
    return loss, row, len(losses)


def main() -> int:
    """Run the study, print each measure's worst cell (new beside old), and return 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000, help="repetitions per cell for the engine")
    parser.add_argument("--old-reps", type=int, default=400, help="of those, repetitions the old engine runs")
    parser.add_argument("--old-boot", type=int, default=400, help="the old engine's bootstrap replicates")
    parser.add_argument("--check-reps", type=int, default=2, help="repetitions per cell also run end to end")
    # fairlearn re-runs its whole computation per replicate (about a second per MetricFrame here).
    parser.add_argument("--fairlearn-reps", type=int, default=40, help="0 leaves fairlearn out")
    parser.add_argument("--fairlearn-boot", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="a smaller grid, for a smoke run")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--csv", help="also write every cell's numbers to this CSV file")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = list(study(args))
    seconds = time.perf_counter() - start
    if args.csv:
        table = pd.DataFrame(
            [
                {"metric": r.cell.metric, "layout": r.cell.layout.name, "rate": r.cell.rate,
                 "truth": r.cell.truth, **{k: v for k, v in vars(r).items() if k != "cell"}}
                for r in rows
            ]
        )  # fmt: skip
        table.to_csv(args.csv, index=False)
    parity = [r for r in rows if r.cell.truth == "parity"]
    limit = [r for r in rows if r.cell.truth in ("limit", "limit_all")]
    gaps = [r for r in rows if r.cell.truth == "gap"]
    print(
        f"{len(rows)} cells ({len(parity)} configurations, each at parity, with one or half the groups "
        "at the limit, and one at twice it), "
        f"{args.reps} repetitions each ({args.old_reps} for the old engine, B={args.old_boot}), "
        f"{seconds:.0f} s"
    )
    print(f"{'measure':<38} {'new engine (worst cell)':<62} old engine (worst cell)")

    def line(name: str, attr: str, highest: bool, pool: list[Row]) -> Row:
        new, old = worst(pool, attr, highest), worst(pool, f"old_{attr}", highest)
        left = f"{getattr(new, attr):.4f} {new.cell.key}"
        print(f"{name:<38} {left:<62} {getattr(old, f'old_{attr}'):.4f} {old.cell.key}")
        return new

    coverage = line("coverage of 95% intervals (worst row)", "coverage", False, rows)
    line("coverage of all rows at once", "family_coverage", False, rows)
    rates = worst(rows, "rate_coverage", False)
    print(f"{'coverage of group rates':<38} {rates.rate_coverage:.4f} {rates.cell.key}")
    fails = [
        line("false fails at parity, below a min", "false_fail_low", True, parity),
        line("false fails at parity, above a max", "false_fail_high", True, parity),
        line("false fails at the limit, below a min", "false_fail_low", True, limit),
        line("false fails at the limit, above a max", "false_fail_high", True, limit),
    ]
    # At parity a valid engine stays far below 2.5%; at the limit it sits near it by design, so there
    # the worst of some hundreds of cells is allowed the Monte Carlo noise of a maximum: 3.5 standard
    # errors of one cell's estimate (the expected largest of 500 standard normal draws is about 3).
    at_parity = max(max(r.false_fail_low, r.false_fail_high) for r in fails[:2])
    at_limit = max(max(r.false_fail_low, r.false_fail_high) for r in fails[2:])
    allowance = 3.5 * math.sqrt(FALSE_FAIL_MAX * (1 - FALSE_FAIL_MAX) / args.reps)
    masked = line(
        "breach of >= 1000 masked by a small group", "masked", True, [r for r in gaps if r.masked is not None]
    )
    weakest = worst(gaps, "fail", False)
    print(f"{'lowest power at twice the limit':<38} {weakest.fail:.4f} {weakest.cell.key}")
    loss = 0.0
    for name, parity_only in (
        ("power lost where the old was valid", False),
        ("  ... valid at parity alone", True),
    ):
        lost, row, count = power_loss(rows, at_parity_only=parity_only)
        loss = lost if not parity_only else loss
        if row is not None:
            said = f"{row.fail_paired:.4f} vs {row.old_fail:.4f} {row.cell.key}"
            print(f"{name:<38} {lost:+.4f} ({said}); {count} configurations")
    if args.fairlearn_reps:
        for cell in fairlearn_cells():
            counts = simulate(cell, args.fairlearn_reps, np.random.default_rng([args.seed, 10**6]))
            coverage_f, fails_f = fairlearn_measure(cell, counts, args.fairlearn_boot, args.seed)
            new = engine(cell, counts)
            print(
                f"fairlearn MetricFrame(n_boot={args.fairlearn_boot}) {cell.key}: coverage {coverage_f:.3f}, "
                f"false fails {fails_f:.3f}; engine on the same {args.fairlearn_reps} draws: coverage "
                f"{new.covered.mean():.3f}, false fails {new.fail_low.mean():.3f}"
            )
    targets = [
        (
            f"coverage >= {COVERAGE_MIN} in every cell",
            min(coverage.coverage, rates.rate_coverage) >= COVERAGE_MIN,
        ),
        (
            f"false fails <= {FALSE_FAIL_MAX} per bound at parity",
            at_parity <= FALSE_FAIL_MAX,
        ),
        (
            f"false fails <= {FALSE_FAIL_MAX} (+{allowance:.4f} Monte Carlo) per bound at the limit",
            at_limit <= FALSE_FAIL_MAX + allowance,
        ),
        ("no breach among groups of >= 1000 masked by a small group", (masked.masked or 0.0) == 0.0),
        (f"power within {POWER_SLACK:.2f} of the old engine where it was valid", loss <= POWER_SLACK),
    ]
    for name, ok in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
