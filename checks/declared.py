"""The vendor's declared accuracy levels against the audit's own measurement of them.

EU AI Act Art 13(3)(b)(ii) and 15(3) have the instructions for use declare the levels of accuracy
and their metrics; the Korean Framework Act Art 34(1)5 asks for the documents behind the measures.
A declared level is refuted when the agency's data puts the whole interval of the measured metric
on the worse side of it; an interval that holds it, or lies wholly on the better side (the vendor
under-claimed), leaves the claim standing.
"""

from __future__ import annotations

from dataclasses import replace

from assay.checks.context import AuditContext, DeclaredLevel
from assay.checks.performance import classification
from assay.checks.phrase import N_, Phrase, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status

CHECK_ID = "performance.declared"
TITLE = "Declared accuracy against measured accuracy"
# Metrics whose measurement needs the candidate's scores, not only its decisions.
SCORE_METRICS = frozenset({"roc_auc", "brier_score"})


def shortfall(level: DeclaredLevel, measured: MetricRow) -> float | None:
    """Return how far the measured interval's best end falls short of the declared level (> 0: refuted)."""
    if measured.ci_low is None or measured.ci_high is None:
        return None
    if level.higher_is_better:
        return level.value - measured.ci_high
    return measured.ci_low - level.value


def _better(level: DeclaredLevel, measured: MetricRow) -> bool:
    """Say whether the whole measured interval lies on the better side of the declared level."""
    assert measured.ci_low is not None and measured.ci_high is not None
    if level.higher_is_better:
        return measured.ci_low > level.value
    return measured.ci_high < level.value


def _fmt(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


@register(
    CHECK_ID,
    TITLE,
    (Need.LABELS, Need.DECISIONS),
    ("declared_value", "measured_value", "declared_shortfall"),
)
def declared(ctx: AuditContext) -> CheckResult:
    """Test each accuracy level the vendor declared against the interval the audit measures."""
    if not ctx.declared:
        return CheckResult.of(
            check_id=CHECK_ID,
            title=TITLE,
            status=Status.NOT_ASSESSED,
            phrases=[
                phrase(
                    N_("not assessed: {reason}"), reason=phrase(N_("the vendor declared no accuracy levels"))
                )
            ],
        )
    # The very intervals performance.classification reports (same seed, same settings); the
    # scores' bootstrap is skipped when no declared metric needs it.
    needs_scores = any(level.metric in SCORE_METRICS for level in ctx.declared)
    performance = classification(ctx if needs_scores else replace(ctx, scores=None))
    rows: list[MetricRow] = []
    messages: list[Phrase] = []
    refuted = unsettled = False
    for level in ctx.declared:
        found = performance.rows(level.metric)
        measured = found[0] if found else None
        common = {"check_id": CHECK_ID, "feature": level.metric}
        rows.append(MetricRow(metric="declared_value", value=level.value, **common))
        gap = None if measured is None else shortfall(level, measured)
        if measured is not None:
            rows.append(measured.model_copy(update={"metric": "measured_value", **common}))
        rows.append(
            MetricRow(
                metric="declared_shortfall",
                value=gap,
                n=None if measured is None else measured.n,
                **common,
            )
        )
        args = {"metric": level.metric, "declared": f"{level.value:.4g}"}
        if gap is None:
            unsettled = True
            # performance.classification says why (no scores, one label value) in its last message.
            messages.append(
                phrase(
                    N_("{metric}: declared {declared}, not measured: {why}"),
                    **args,
                    why=performance.phrases[-1],
                )
            )
            continue
        assert measured is not None
        args.update(
            value=_fmt(measured.value),
            low=_fmt(measured.ci_low),
            high=_fmt(measured.ci_high),
            confidence=f"{ctx.settings.confidence * 100:g}%",
        )
        if gap > 0:
            refuted = True
            template = N_(
                "{metric}: declared {declared}, measured {value} [{low}, {high}] at {confidence}: "
                "the agency's data refutes the declared level"
            )
        elif _better(level, measured):
            template = N_(
                "{metric}: declared {declared}, measured {value} [{low}, {high}] at {confidence}: "
                "better than declared (the vendor under-claimed)"
            )
        else:
            template = N_(
                "{metric}: declared {declared}, measured {value} [{low}, {high}] at {confidence}: "
                "consistent with the declared level"
            )
        messages.append(phrase(template, **args))
    status = Status.FAILED if refuted else Status.INCONCLUSIVE if unsettled else Status.PASSED
    return CheckResult.of(
        check_id=CHECK_ID,
        title=TITLE,
        status=status,
        metrics=rows,
        phrases=messages,
        details={"declared": [level.model_dump(mode="json") for level in ctx.declared]},
    )
