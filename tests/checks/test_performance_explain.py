"""Performance metrics match scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, brier_score_loss, roc_auc_score

from assay.checks.context import AuditContext, CheckSettings
from assay.checks.performance import auc_from_bins, classification


def test_auc_from_bins_equals_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(3000) < 0.3).astype(int)
    scores = np.round(rng.random(3000) * 0.5 + labels * 0.2, 2)  # many ties
    uniq, bins = np.unique(scores, return_inverse=True)
    pos = np.bincount(bins[labels == 1], minlength=len(uniq))
    neg = np.bincount(bins[labels == 0], minlength=len(uniq))
    assert auc_from_bins(pos, neg) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_classification_metrics_equal_sklearn(profile, holdout) -> None:
    rng = np.random.default_rng(1)
    labels = holdout["irregularity_found"].to_numpy()
    scores = np.clip(labels * 0.3 + rng.random(len(labels)) * 0.7, 0, 1)
    decisions = (scores >= 0.5).astype(int)
    ctx = AuditContext(
        profile=profile,
        data=holdout,
        labels=labels,
        scores=scores,
        decisions=decisions,
        settings=CheckSettings(n_boot=200),
    )
    rows = {r.metric: r for r in classification(ctx).metrics}
    assert rows["accuracy"].value == pytest.approx(accuracy_score(labels, decisions), abs=1e-12)
    assert rows["balanced_accuracy"].value == pytest.approx(
        balanced_accuracy_score(labels, decisions), abs=1e-12
    )
    assert rows["roc_auc"].value == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert rows["brier_score"].value == pytest.approx(brier_score_loss(labels, scores), abs=1e-12)
    for row in rows.values():
        assert row.ci_low <= row.value <= row.ci_high
