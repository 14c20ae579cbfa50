"""Benchmark of a procurement round on the local thread runner against a two-worker Dask cluster.

Run: .venv/bin/python bench/procure.py [--candidates K] [--rows N] [--train-rows T] [--workdir DIR]
Runs `assay procure` on the same round twice, each in a fresh process and a fresh ledger: with
`--task-runner threads`, then with `--task-runner dask` (the flow starts a two-worker LocalCluster).
Prints both wall times and their ratio. Target: the two comparison records rank the candidates
with the same numbers and give every candidate the same recommendation.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from assay.data import welfare_review
from assay.data.vendors import LEGITIMATE, THRESHOLD, VENDORS, train_model

SEED = 20240601
ASSAY = str(Path(sys.executable).parent / "assay")
LABEL = "irregularity_found"
# Eight feature sets: the demo's three vendors, then the circumstances of the case with one more
# recorded characteristic each, and without the strongest one. Each is trained with its own seed.
FEATURE_SETS = [
    *(v.features for v in VENDORS),
    [*LEGITIMATE, "sex"],
    [*LEGITIMATE, "nationality"],
    [*LEGITIMATE, "age", "disability"],
    [*LEGITIMATE, "province"],
    [f for f in LEGITIMATE if f != "prior_irregularity"],
]
MAX_CANDIDATES = 16  # the paired-bootstrap ranking's limit
RUNNERS = {
    "threads": "SHAP chunks on local processes, rankings in the flow's process",
    "dask": "SHAP chunks and rankings on a two-worker LocalCluster the flow starts",
}


def write_candidates(train: pd.DataFrame, folder: Path, k: int) -> list[str]:
    """Train k skops candidates (feature sets in turn, a seed each); return their manifest paths."""
    import skops.io as sio

    paths = []
    for i in range(k):
        features = FEATURE_SETS[i % len(FEATURE_SETS)]
        name = f"bidder-{i + 1:02d}"
        (folder / name).mkdir(parents=True)
        sio.dump(train_model(train, features, LABEL, SEED + i), folder / name / "model.skops")
        manifest = {
            "id": name,
            "vendor": f"Bidder {i + 1}",
            "model": f"welfare review scorer {i + 1}",
            "version": "1.0.0",
            "format": "skops",
            "location": "model.skops",
            "input_features": list(features),
            "output": {
                "positive_class": 1,
                "score": "probability of an irregularity",
                "threshold": THRESHOLD,
            },
            "intended_use": "rank benefit recipients for an eligibility review by a caseworker",
            "training_data": f"{len(train)} synthetic historical review outcomes (seed {SEED})",
            "contact": f"{name}@example.org",
        }
        (folder / name / "candidate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        paths.append(f"candidates/{name}/candidate.yaml")
    return paths


def run_round(
    round_file: Path, ledger: Path, runner: str, env: dict[str, str]
) -> tuple[float, dict[str, Any]]:
    """Run `assay procure` in a fresh process; return its wall seconds and the sealed comparison."""
    start = time.perf_counter()
    proc = subprocess.run(
        [ASSAY, "procure", str(round_file), "--ledger", str(ledger), "--task-runner", runner],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: no candidate eligible, still a complete round
        sys.exit(f"assay procure --task-runner {runner} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    entry = Path(json.loads(proc.stdout)["entry"])
    return seconds, json.loads((entry / "comparison.json").read_text())


def verdict(ok: bool) -> str:
    """Return PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def main() -> int:
    """Run the benchmark, print the numbers and the target, and return 1 if it is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8, help=f"candidates (2 to {MAX_CANDIDATES})")
    parser.add_argument("--rows", type=int, default=200_000, help="evaluation rows")
    parser.add_argument("--train-rows", type=int, default=60_000)
    parser.add_argument("--workdir", type=Path, help="keep the round and ledgers here (default: a temp dir)")
    args = parser.parse_args()
    if not 2 <= args.candidates <= MAX_CANDIDATES:
        parser.error(f"--candidates must be between 2 and {MAX_CANDIDATES}")

    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="assay-bench-")))
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        welfare_review.generate(args.rows, SEED, "holdout").to_parquet(work / "holdout.parquet")
        train = welfare_review.generate(args.train_rows, SEED, "train")
        candidates = write_candidates(train, work / "candidates", args.candidates)
        body = {
            "id": "bench-procure",
            "service": "welfare-review",
            "data": "holdout.parquet",
            "policy": "kr-public-service",
            "seed": SEED,
            "candidates": candidates,
        }
        round_file = work / "round.yaml"
        round_file.write_text(yaml.safe_dump(body, sort_keys=False))
        print(
            f"round: {args.candidates} skops candidates × {args.rows:,} evaluation rows under "
            f"kr-public-service (trained on {args.train_rows:,} rows; set up in "
            f"{time.perf_counter() - start:.0f} s, not timed); {os.cpu_count()} cores"
        )
        # A Prefect home of its own: nothing outside the work folder, and no telemetry.
        env = {
            **os.environ,
            "PREFECT_HOME": str(work / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
            "GX_ANALYTICS_ENABLED": "false",
        }
        seconds, sealed = {}, {}
        for runner, where in RUNNERS.items():
            load = os.getloadavg()[0]
            seconds[runner], sealed[runner] = run_round(round_file, work / f"ledger-{runner}", runner, env)
            print(f"{runner}: {seconds[runner]:.1f} s wall ({where}; load average {load:.1f} at start)")

    threads, dask = sealed["threads"], sealed["dask"]
    ratio = seconds["threads"] / seconds["dask"]
    print(f"ratio threads / dask: {ratio:.2f}x ({'dask faster' if ratio > 1 else 'threads faster'})")
    same_rankings = threads["rankings"] == dask["rankings"]
    recommendations = {c["candidate"]: c["recommendation"] for c in threads["candidates"]}
    same_recommendations = recommendations == {
        c["candidate"]: c["recommendation"] for c in dask["candidates"]
    }
    same_clauses = threads["clauses"] == dask["clauses"]
    counts = Counter(recommendations.values())
    print(f"recommendations: {', '.join(f'{n} {r}' for r, n in counts.items())}")
    print(f"clause verdicts identical: {same_clauses}")
    checks = [
        (f"rankings identical ({len(threads['rankings'])} rankings, every number)", same_rankings),
        (f"recommendations identical ({len(recommendations)} candidates)", same_recommendations),
    ]
    for name, ok in checks:
        print(f"{verdict(ok)}  {name}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
