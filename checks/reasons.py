"""Individual reasons: the top contributions behind single decisions, as Korean and English sentences.

Rows are named by a keyed pseudonym of their id, never by the id itself: the key stays with the
agency, so the agency can find an explained person again and a reader of the record cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import numpy as np
import pandas as pd

from assay.checks.context import AuditContext, FeatureInfo, Text
from assay.checks.explainers import LOG_ODDS, Attribution, attribute_rows, choose_explainer
from assay.checks.phrase import N_, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status

CHECK_ID = "explain.individual_reasons"
TITLE = "Individual reasons for single decisions"
METRICS = ("additivity_error", "examples")


def pseudonym(key: bytes, raw_id: Any) -> str:
    """Return the keyed pseudonym of an id (HMAC-SHA256, first 16 hex digits)."""
    return "p-" + hmac.new(key, str(raw_id).encode(), hashlib.sha256).hexdigest()[:16]


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def score_contributions(att: Attribution, scale: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Return contributions on the score's own (probability) scale, the scores and the base score.

    Log-odds contributions are rescaled row by row so that they add up exactly to the row's score
    minus the base score; the sign and the order of every contribution are kept.
    """
    if scale != LOG_ODDS:
        return att.values, att.output, att.base
    score, base_score = _sigmoid(att.output), float(_sigmoid(att.base))
    gap = att.output - att.base
    slope = np.where(
        np.abs(gap) > 1e-9, (score - base_score) / np.where(gap == 0, 1.0, gap), score * (1 - score)
    )
    return att.values * slope[:, None], score, base_score


def _amount(value: float) -> str:
    return f"{value:+.2f}" if abs(value) >= 0.005 else f"{value:+.3f}"


def sentences(info: FeatureInfo, raw: Any, contribution: float, score_label: Text) -> Text:
    """Return "<feature> <value> → <score> ±x" in Korean and English."""
    amount = _amount(contribution)
    return Text(
        ko=f"{info.describe(raw, 'ko')} → {score_label.ko} {amount}",
        en=f"{info.describe(raw, 'en')} → {score_label.en} {amount}",
    )


def _headline(score: float, base: float, threshold: float | None, decided: int | None, label: Text) -> Text:
    ko = f"{label.ko} {score:.2f} (평균 {base:.2f})"
    en = f"{label.en} {score:.2f} (average {base:.2f})"
    if decided is not None and threshold is not None:
        side = "이상" if decided else "미만"
        ko += f"; 결정: {'해당' if decided else '비해당'} (기준 {threshold:.2f} {side})"
        en += f"; decision: {'positive' if decided else 'negative'} (threshold {threshold:.2f})"
    return Text(ko=ko, en=en)


def pick_examples(ctx: AuditContext) -> tuple[np.ndarray, list[bool], list[str]]:
    """Return the positions to explain (a seeded sample per decision, then the ids asked for)."""
    rng = np.random.default_rng(ctx.seed)
    n_rows, wanted = len(ctx.data), ctx.settings.explain_examples
    if ctx.decisions is not None:
        decisions = np.asarray(ctx.decisions)
        kinds = np.unique(decisions)
        per_kind = -(-wanted // max(len(kinds), 1))  # the sample splits evenly between decisions
        pools = [np.flatnonzero(decisions == k) for k in kinds]
        picked = [rng.choice(pool, size=min(per_kind, len(pool)), replace=False) for pool in pools]
        sample = np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)
    else:
        sample = np.sort(rng.choice(n_rows, size=min(wanted, n_rows), replace=False))
    ids = ctx.data[ctx.profile.id_column].astype(str)
    requested, missing = [], []
    for raw in ctx.explain_ids:
        hits = np.flatnonzero((ids == str(raw)).to_numpy())
        if len(hits):
            requested.append(int(hits[0]))
        else:
            missing.append(str(raw))
    positions = np.concatenate([sample, np.array(requested, dtype=np.int64)]).astype(np.int64)
    flags = [False] * len(sample) + [True] * len(requested)
    return positions, flags, missing


@register(CHECK_ID, TITLE, (Need.MODEL_ACCESS,), METRICS)
def individual_reasons(ctx: AuditContext) -> CheckResult:
    """Explain single decisions: the top-k reasons of a seeded sample and of any id asked for."""
    assert ctx.model is not None
    s = ctx.settings
    key = ctx.pseudonym_key if ctx.pseudonym_key is not None else os.urandom(32)
    chosen = choose_explainer(ctx.model, ctx.data, ctx.seed, s.explain_background_rows, s.explain_max_evals)
    positions, requested, missing = pick_examples(ctx)
    frame: pd.DataFrame = ctx.data.iloc[positions]
    att = attribute_rows(chosen, frame, s.explain_chunk_rows)
    contrib, scores, base_score = score_contributions(att, chosen.scale)
    features = list(ctx.model.features)
    ids = frame[ctx.profile.id_column].to_numpy()
    decisions = None if ctx.decisions is None else np.asarray(ctx.decisions)[positions]
    examples = []
    for i in range(len(positions)):
        order = np.argsort(-np.abs(contrib[i]))[: s.explain_top_k]
        reasons = []
        for j in order:
            f = features[j]
            info = ctx.feature_info.get(f) or FeatureInfo(label=Text(ko=f, en=f))
            raw = frame[f].iloc[i]
            reasons.append(
                {
                    "feature": f,
                    "contribution": float(contrib[i, j]),
                    "log_odds": float(att.values[i, j]) if chosen.scale == LOG_ODDS else None,
                    "direction": "raises" if contrib[i, j] > 0 else "lowers",
                    "sentence": sentences(
                        info, raw, float(contrib[i, j]), ctx.profile.score_label
                    ).model_dump(),
                }
            )
        decided = None if decisions is None else int(decisions[i])
        examples.append(
            {
                "pseudonym": pseudonym(key, ids[i]),
                "requested": requested[i],
                "score": float(scores[i]),
                "decision": decided,
                "summary": _headline(
                    float(scores[i]), base_score, ctx.threshold, decided, ctx.profile.score_label
                ).model_dump(),
                "reasons": reasons,
            }
        )
    messages = [
        phrase(
            N_(
                "{explainer}: top {top} reasons for {count} decisions "
                "({asked} asked for, the rest drawn per decision with seed {seed})"
            ),
            explainer=chosen.name,
            top=str(s.explain_top_k),
            count=str(len(positions)),
            asked=str(sum(requested)),
            seed=str(ctx.seed),
        )
    ]
    if missing:
        shown = ", ".join(pseudonym(key, m) for m in missing)
        messages.append(
            phrase(
                N_("{count} requested ids are not in the data (pseudonyms {pseudonyms})"),
                count=str(len(missing)),
                pseudonyms=shown,
            )
        )
    # Each example is exact on its own, so n (a group size to the verdict engine) stays empty.
    rows = [
        MetricRow(check_id=CHECK_ID, metric="additivity_error", value=att.additivity_error()),
        MetricRow(check_id=CHECK_ID, metric="examples", value=len(positions)),
    ]
    return CheckResult.of(
        check_id=CHECK_ID,
        title=TITLE,
        status=Status.PASSED,
        metrics=rows,
        phrases=messages,
        details={
            "explainer": {"name": chosen.name, "kind": chosen.kind, "note": chosen.note},
            "base_score": base_score,
            "scale": (
                "contributions on the score's scale: log-odds SHAP values rescaled per row so that "
                "they add up to the score minus the average score"
                if chosen.scale == LOG_ODDS
                else "contributions on the score's scale"
            ),
            "ids": "keyed pseudonyms (HMAC-SHA256); the key stays in the ledger's private folder",
            "examples": examples,
        },
    )
