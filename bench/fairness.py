"""Benchmark of the fairness engine (`fairness.group_metrics`) against one fairlearn MetricFrame pass.

Run: .venv/bin/python bench/fairness.py [--rows N] [--boot B]
Targets: engine < 1.0 s wall; fairlearn single pass / engine >= 10x; engine peak RSS < 2 GB.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import numpy as np
import pandas as pd

from assay.checks.context import AuditContext, CheckSettings, SensitiveAttribute, ServiceProfile, Text
from assay.checks.fairness import group_metrics

SEED = 20240601
ENGINE_MAX_SECONDS = 1.0
MIN_RATIO = 10.0
MAX_RSS_BYTES = 2 * 1024**3
ATTRIBUTES = ("sex", "age_band", "region")
T = TypeVar("T")


def make_data(rows: int, seed: int = SEED) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return sensitive columns (2, 3 and 17 unequal string groups), labels and decisions."""
    rng = np.random.default_rng(seed)
    region_weights = 0.8 ** np.arange(17)  # from ~17% of rows down to ~0.5%
    sensitive = pd.DataFrame(
        {
            "sex": rng.choice(np.array(["female", "male"]), rows, p=[0.45, 0.55]),
            "age_band": rng.choice(np.array(["18-34", "35-64", "65+"]), rows, p=[0.5, 0.3, 0.2]),
            "region": rng.choice(
                np.array([f"region-{i:02d}" for i in range(17)]),
                rows,
                p=region_weights / region_weights.sum(),
            ),
        }
    )
    labels = (rng.random(rows) < 0.3).astype(np.int8)
    # Planted disparity: older applicants and women are selected more often, at equal labels.
    lift = (
        0.10 * (sensitive["age_band"] == "65+").to_numpy() + 0.05 * (sensitive["sex"] == "female").to_numpy()
    )
    decisions = (rng.random(rows) < np.where(labels == 1, 0.6, 0.15) + lift).astype(np.int8)
    return sensitive, labels, decisions


def make_context(
    sensitive: pd.DataFrame, labels: np.ndarray, decisions: np.ndarray, boot: int
) -> AuditContext:
    """Return an audit context for the engine with the default settings but `n_boot`."""
    profile = ServiceProfile(
        id="bench",
        title=Text(ko="벤치", en="bench"),
        decision=Text(ko="벤치", en="bench"),
        risk_tier="high-impact",
        id_column="id",
        label={"column": "y", "positive": 1},
        positive_decision_is_favourable=True,
        sensitive_attributes=[SensitiveAttribute(name=a, column=a) for a in ATTRIBUTES],
    )
    return AuditContext(
        profile=profile,
        data=sensitive,
        settings=CheckSettings(n_boot=boot, intersections="pairs"),
        seed=SEED,
        labels=labels,
        decisions=decisions,
        sensitive=sensitive,
    )


def best_of(fn: Callable[[], T], runs: int = 3) -> tuple[float, T]:
    """Return the fastest wall-clock seconds of `runs` calls after one warm-up call, and a result."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def fairlearn_seconds(sensitive: pd.DataFrame, labels: np.ndarray, decisions: np.ndarray) -> float:
    """Return the wall-clock seconds of one MetricFrame pass (no bootstrap) over crossed attributes."""
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, precision_score

    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "fnr": false_negative_rate,
        "ppv": partial(precision_score, zero_division=0),
        "accuracy": accuracy_score,
    }
    start = time.perf_counter()
    MetricFrame(metrics=metrics, y_true=labels, y_pred=decisions, sensitive_features=sensitive)
    return time.perf_counter() - start


def engine_peak_rss(rows: int, boot: int) -> tuple[int, int]:
    """Return a fresh process's peak RSS in bytes after generating the data, and after the engine.

    Call it before this process grows: on Linux a child's ru_maxrss starts from its parent's RSS
    at the fork, because exec records the old address space's high-water mark.
    """
    out = subprocess.run(
        [sys.executable, __file__, "--rows", str(rows), "--boot", str(boot), "--rss-child"],
        check=True,
        capture_output=True,
        text=True,
    )
    data, engine = out.stdout.split()[-2:]
    return int(data), int(engine)


def peak_rss() -> int:
    """Return this process's peak RSS in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_child(rows: int, boot: int) -> None:
    """Generate the data, run the engine once, and print the peak RSS after each step."""
    data = make_data(rows)
    after_data = peak_rss()
    group_metrics(make_context(*data, boot))
    print(after_data, peak_rss())


def verdict(ok: bool) -> str:
    """Return PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def main() -> int:
    """Run the benchmark, print the numbers and targets, and return 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rows, args.boot)
        return 0

    rss_data, rss = engine_peak_rss(args.rows, args.boot)  # first, while this process is small
    sensitive, labels, decisions = make_data(args.rows)
    ctx = make_context(sensitive, labels, decisions, args.boot)
    engine, result = best_of(lambda: group_metrics(ctx))
    groups = {a: sensitive[a].nunique() for a in ATTRIBUTES}
    print(f"data: {args.rows:,} rows, groups {groups}, n_boot={args.boot}, intersections=pairs")
    print(f"engine group_metrics: {engine:.3f} s (best of 3), {len(result.metrics):,} metric rows")
    single = fairlearn_seconds(sensitive, labels, decisions)
    ratio = single / engine
    print(f"fairlearn MetricFrame, one pass, 3 attributes crossed, 6 metrics: {single:.2f} s")
    print(
        f"peak RSS of a fresh process: {rss / 1024**2:,.0f} MiB after data + engine "
        f"({rss_data / 1024**2:,.0f} MiB after data generation alone)"
    )
    checks = [
        (f"engine < {ENGINE_MAX_SECONDS:.1f} s", engine < ENGINE_MAX_SECONDS, f"{engine:.3f} s"),
        (f"fairlearn / engine >= {MIN_RATIO:.0f}x", ratio >= MIN_RATIO, f"{ratio:.1f}x"),
        ("peak RSS < 2 GB", rss < MAX_RSS_BYTES, f"{rss / 1024**3:.2f} GiB"),
    ]
    for name, ok, measured in checks:
        print(f"{verdict(ok)}  {name}: {measured}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
