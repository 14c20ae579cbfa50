"""Mitigation headroom: how far group-specific thresholds on the candidate's scores could close the gap.

Evidence for procurement only: nothing here is ever applied to the vendor's model.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from assay.checks.context import AuditContext
from assay.checks.phrase import N_, Phrase, joined, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status
from assay.checks.stats import confusion_codes, percentile_ci, rates, spread

CHECK_ID = "fairness.mitigation_headroom"
TITLE = "Mitigation headroom of group-specific thresholds (evidence only)"
METRICS = (
    "equalized_odds_difference",
    "headroom_equalized_odds_difference",
    "accuracy",
    "headroom_accuracy",
    "accuracy_cost",
    "selection_rate",
    "headroom_selection_rate",
    "best_single_threshold_accuracy",
    "equalized_odds_accuracy_cost",
)
CONSTRAINT = "equalized_odds"
OBJECTIVE = "accuracy_score"
GRID_SIZE = 1000
# fairlearn walks the distinct scores of every group in Python; flooring the scores to this many
# quantiles of the fit half keeps a fit well under a second and moves a threshold by ≤ 0.1 % of rows.
SCORE_LEVELS = 1000


class _ScoreColumn(BaseEstimator):
    """A fitted 'estimator' whose prediction is the candidate's score, passed in as the only column."""

    def fit(self, x: Any, y: Any) -> _ScoreColumn:
        """Refuse to fit: the candidate's scores are fixed and must never be retrained."""
        raise RuntimeError("the candidate's scores are prefit and must not be refitted")

    def predict(self, x: Any) -> np.ndarray:
        """Return the score column."""
        return np.asarray(x, dtype=float)[:, 0]

    def __sklearn_is_fitted__(self) -> bool:
        """Say that there is nothing to fit."""
        return True


def _split(groups: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Return a mask of the fit half: every (group × label) cell split as evenly as it can be."""
    rng = np.random.default_rng(seed)
    cell = groups.astype(np.int64) * 2 + labels.astype(np.int64)
    order = np.lexsort((rng.random(len(cell)), cell))
    starts = np.flatnonzero(np.r_[True, np.diff(cell[order]) != 0])
    rank = np.arange(len(cell)) - np.repeat(starts, np.diff(np.r_[starts, len(cell)]))
    fit = np.zeros(len(cell), dtype=bool)
    fit[order] = rank % 2 == 0
    return fit


def _levels(scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Floor each score to the nearest quantile of `reference` below it (at most SCORE_LEVELS values)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, SCORE_LEVELS + 1), method="inverted_cdf"))
    if len(np.unique(reference)) <= len(edges):
        return scores
    return edges[np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, None)]


def _best_single_threshold(x: np.ndarray, labels: np.ndarray) -> float:
    """Return the one threshold on `x` (decide 1 at or above it) with the highest accuracy."""
    levels, level_of = np.unique(x, return_inverse=True)
    pos = np.bincount(level_of, weights=labels, minlength=len(levels))
    neg = np.bincount(level_of, minlength=len(levels)) - pos
    # Correct decisions of the threshold levels[i]: negatives below it plus positives at or above it;
    # the last entry is a threshold above every score.
    correct = np.r_[np.r_[0.0, np.cumsum(neg)[:-1]] + np.cumsum(pos[::-1])[::-1], neg.sum()]
    best = int(np.argmax(correct))
    return float(levels[best]) if best < len(levels) else float("inf")


def _summaries(table: np.ndarray) -> dict[str, np.ndarray]:
    """Return every metric from counts shaped (..., groups, label, candidate, mitigated, single)."""
    shape = table.shape[:-4]
    # Each decision with the label gives the confusion cells TN, FP, FN, TP in stats' order.
    candidate = table.sum(axis=(-1, -2)).reshape(*shape, 4)
    mitigated = table.sum(axis=(-1, -3)).reshape(*shape, 4)
    single = table.sum(axis=(-2, -3)).reshape(*shape, 4)
    out: dict[str, np.ndarray] = {}
    for prefix, counts in (("", candidate), ("headroom_", mitigated)):
        per_group = rates(counts, ("tpr", "fpr"))
        overall = rates(counts.sum(axis=-2), ("accuracy", "selection_rate"))
        out[f"{prefix}equalized_odds_difference"] = np.fmax(
            spread(per_group["tpr"]), spread(per_group["fpr"])
        )
        out[f"{prefix}accuracy"] = overall["accuracy"]
        out[f"{prefix}selection_rate"] = overall["selection_rate"]
    out["accuracy_cost"] = out["accuracy"] - out["headroom_accuracy"]
    out["best_single_threshold_accuracy"] = rates(single.sum(axis=-2), ("accuracy",))["accuracy"]
    out["equalized_odds_accuracy_cost"] = out["best_single_threshold_accuracy"] - out["headroom_accuracy"]
    return out


def _unfit_reason(names: list[str], groups: np.ndarray, labels: np.ndarray) -> Phrase | None:
    """Say why group-specific thresholds cannot be fitted and evaluated, or None if they can."""
    if len(names) < 2:
        return phrase(N_("it has a single group"))
    cells = np.bincount(groups * 2 + labels, minlength=len(names) * 2).reshape(-1, 2)
    # Each half needs both outcomes in every group: a ROC curve needs positives and negatives.
    short = [
        phrase(
            N_("{group} ({negative} negative, {positive} positive)"),
            group=name,
            negative=str(int(cells[g, 0])),
            positive=str(int(cells[g, 1])),
        )
        for g, name in enumerate(names)
        if cells[g].min() < 2
    ]
    if short:
        return phrase(N_("groups lack one outcome in a half: {groups}"), groups=joined(short))
    return None


def _mitigate(
    x: np.ndarray, labels: np.ndarray, groups: np.ndarray, fit: np.ndarray, seed: int
) -> tuple[np.ndarray | None, Phrase | None]:
    """Fit fairlearn's ThresholdOptimizer on the fit half; return its decisions on the other half."""
    from fairlearn.postprocessing import ThresholdOptimizer

    optimizer = ThresholdOptimizer(
        estimator=_ScoreColumn(),
        constraints=CONSTRAINT,
        objective=OBJECTIVE,
        grid_size=GRID_SIZE,
        prefit=True,
        predict_method="predict",
    )
    column = x.reshape(-1, 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optimizer.fit(column[fit], labels[fit], sensitive_features=groups[fit])
            mitigated = optimizer.predict(column[~fit], sensitive_features=groups[~fit], random_state=seed)
    except Exception as exc:  # fairlearn's own refusal is a finding about the data, not a crash
        return None, phrase(
            N_("fairlearn could not fit it ({type}: {exc})"), type=type(exc).__name__, exc=str(exc)
        )
    return np.asarray(mitigated, dtype=np.int64), None


@register(CHECK_ID, TITLE, (Need.LABELS, Need.SCORES, Need.SENSITIVE), METRICS)
def mitigation_headroom(ctx: AuditContext) -> CheckResult:
    """Estimate the equalized-odds gap group-specific thresholds could reach and its accuracy cost."""
    assert ctx.labels is not None and ctx.scores is not None and ctx.sensitive is not None
    import fairlearn

    settings = ctx.settings
    labels = np.asarray(ctx.labels).astype(np.int64)
    scores = np.asarray(ctx.scores, dtype=float)
    if ctx.decisions is None:
        return CheckResult.of(
            check_id=CHECK_ID,
            title=TITLE,
            status=Status.NOT_ASSESSED,
            phrases=[phrase(N_("not assessed: the audit has no decisions of the candidate to compare with"))],
        )
    decisions = np.asarray(ctx.decisions).astype(np.int64)
    rows: list[MetricRow] = []
    messages: list[Phrase] = []
    unassessed: dict[str, str] = {}
    splits: dict[str, dict[str, int]] = {}
    small: list[str] = []
    boot_rng = np.random.default_rng(ctx.seed)
    for attr in ctx.sensitive.columns:
        codes, uniques = pd.factorize(ctx.sensitive[attr], sort=True)
        names = [str(u) for u in uniques]
        reason = _unfit_reason(names, codes, labels)
        if reason is None:
            fit = _split(codes, labels, ctx.seed)
            x = _levels(scores, scores[fit])
            mitigated, reason = _mitigate(x, labels, codes, fit, ctx.seed)
        if reason is not None:
            unassessed[attr] = str(reason)
            messages.append(
                phrase(N_("{attribute}: not assessable: {reason}"), attribute=str(attr), reason=reason)
            )
            continue
        assert mitigated is not None
        evaluate = ~fit
        splits[attr] = {"fit": int(fit.sum()), "evaluate": int(evaluate.sum())}
        g_eval = codes[evaluate]
        # The accuracy-best single threshold separates what equalized odds costs from what moving
        # away from the candidate's own operating point costs (or gains).
        single = (x[evaluate] >= _best_single_threshold(x[fit], labels[fit])).astype(np.int64)
        cell = (
            g_eval * 16 + confusion_codes(labels[evaluate], decisions[evaluate]) * 4 + mitigated * 2 + single
        )
        flat = np.bincount(cell, minlength=len(names) * 16).astype(float)
        point = _summaries(flat.reshape(len(names), 2, 2, 2, 2))
        # Thresholds stay as fitted; the bootstrap resamples the evaluation rows only.
        draws = boot_rng.multinomial(int(flat.sum()), flat / flat.sum(), size=settings.n_boot)
        reps = _summaries(draws.reshape(settings.n_boot, len(names), 2, 2, 2, 2).astype(float))
        sizes = np.bincount(g_eval, minlength=len(names))
        for metric in METRICS:
            low, high = percentile_ci(reps[metric], settings.confidence)
            n = int(sizes.min()) if metric.endswith("equalized_odds_difference") else int(evaluate.sum())
            rows.append(
                MetricRow(
                    check_id=CHECK_ID,
                    metric=metric,
                    attribute=attr,
                    value=point[metric],
                    ci_low=low,
                    ci_high=high,
                    n=n,
                )
            )
        small += [
            f"{attr}={name} (n={int(size)})"
            for name, size in zip(names, sizes, strict=True)
            if size < settings.min_group_size
        ]
        # The gap is about the smallest group too: below the disclosure minimum it is not said.
        small_group = int(sizes.min()) < settings.disclosure_min
        messages.append(_sentence(attr, point, settings.disclosure_min if small_group else None))
    if not splits:
        return CheckResult.of(
            check_id=CHECK_ID,
            title=TITLE,
            status=Status.NOT_ASSESSED,
            phrases=[
                phrase(
                    N_("not assessed: no sensitive attribute could be assessed ({reasons})"),
                    reasons=joined(messages, "; "),
                )
            ],
            details={"not_assessable": unassessed},
        )
    messages.append(
        phrase(
            N_(
                "evidence only: group-specific thresholds were fitted on half of the evaluation rows and "
                "measured on the other half; nothing is applied to the vendor's model, and using them would "
                "need the sensitive attribute at decision time"
            )
        )
    )
    if small:
        messages.append(
            phrase(
                N_(
                    "groups below the minimum size of {minimum} in the evaluation half: "
                    "{groups}; their headroom is inconclusive"
                ),
                minimum=str(settings.min_group_size),
                groups=", ".join(small),
            )
        )
    return CheckResult.of(
        check_id=CHECK_ID,
        title=TITLE,
        status=Status.INCONCLUSIVE if (small or unassessed) else Status.PASSED,
        metrics=rows,
        phrases=messages,
        details=_details(ctx, fairlearn.__version__, splits, unassessed),
    )


def _signed(value: float, decimals: int = 3) -> str:
    """Format a number without a minus sign on something that rounds to zero."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _pair(before: float, after: float) -> tuple[str, str]:
    """Format two gaps with two decimals, or three when two would print them alike."""
    for decimals in (2, 3):
        a, b = f"{before:.{decimals}f}", f"{after:.{decimals}f}"
        if a != b:
            break
    return a, b


def _sentence(attr: str, point: dict[str, np.ndarray], withheld_below: int | None = None) -> Phrase:
    """Return the one sentence that says what group-specific thresholds could reach for `attr`.

    With `withheld_below`, a group is smaller than that disclosure minimum: the gaps are not given.
    """
    before = float(point["equalized_odds_difference"])
    after = float(point["headroom_equalized_odds_difference"])
    cost = float(point["accuracy_cost"])
    shown_before, shown_after = _pair(before, after)
    gap = {"attribute": attr, "before": shown_before, "after": shown_after, "cost": _signed(cost)}
    if withheld_below is not None:
        text = phrase(
            N_(
                "with group-specific thresholds, {attribute}'s equalized-odds gap (withheld: a group below "
                "{minimum}) would change at an accuracy cost of {cost}"
            ),
            attribute=attr,
            minimum=str(withheld_below),
            cost=_signed(cost),
        )
    elif after < before:
        text = phrase(
            N_(
                "with group-specific thresholds, {attribute}'s equalized-odds gap could fall from {before} "
                "to {after} at an accuracy cost of {cost}"
            ),
            **gap,
        )
    else:
        text = phrase(
            N_(
                "with group-specific thresholds, {attribute}'s equalized-odds gap would not fall: it would "
                "go from {before} to {after} at an accuracy cost of {cost}"
            ),
            **gap,
        )
    if cost < 0:
        # A negative cost means the candidate's own threshold is not accuracy-optimal, not that
        # fairness is free: the mitigated operating point selects a different share of people.
        text = phrase(
            N_(
                "{sentence} (a gain, because the candidate's threshold is not accuracy-optimal: the "
                "selection rate would move from {before} to {after})"
            ),
            sentence=text,
            before=f"{float(point['selection_rate']):.1%}",
            after=f"{float(point['headroom_selection_rate']):.1%}",
        )
    eo_cost = float(point["equalized_odds_accuracy_cost"])
    if _signed(eo_cost).startswith("-"):
        # Group thresholds can beat every single one when the scores are shifted for one group.
        return phrase(
            N_(
                "{sentence}; against the accuracy-best single threshold, equalized odds gains {gain} accuracy"
            ),
            sentence=text,
            gain=f"{-eo_cost:.3f}",
        )
    return phrase(
        N_("{sentence}; against the accuracy-best single threshold, equalized odds costs {cost}"),
        sentence=text,
        cost=_signed(eo_cost),
    )


def _details(
    ctx: AuditContext, version: str, splits: dict[str, dict[str, int]], unassessed: dict[str, str]
) -> dict[str, Any]:
    """Return the method's record: library, settings, split sizes and the interval's meaning."""
    return {
        "method": "fairlearn.postprocessing.ThresholdOptimizer on the candidate's scores (prefit)",
        "fairlearn_version": version,
        "constraint": CONSTRAINT,
        "objective": OBJECTIVE,
        "grid_size": GRID_SIZE,
        "score_levels": SCORE_LEVELS,
        "score_levels_note": "scores floored to quantiles of the fit half before fitting",
        "predictions": f"randomized, random_state={ctx.seed}",
        "split": "50/50 stratified by (group × label) per attribute",
        "split_sizes": splits,
        "seed": ctx.seed,
        "n_boot": ctx.settings.n_boot,
        "confidence": ctx.settings.confidence,
        "interval_method": "percentile bootstrap of the evaluation half's (group × label × decision × "
        "mitigated decision) counts; the fitted thresholds are held fixed",
        "interval_note": "a gap is a maximum minus a minimum over groups, so near zero its bootstrap "
        "interval can lie above the point estimate",
        "not_assessable": unassessed,
        "applied_to_candidate": False,
    }
