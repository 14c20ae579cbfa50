"""Benchmark of one whole audit of 1,000,000 evaluation rows: its wall time and its peak memory.

Run: .venv/bin/python bench/million_rows.py [--rows N] [--train-rows T] [--workdir DIR]
Generates a `welfare-review` evaluation set of N rows (caseworker's notes included) and trains the
demo's vendor-c, then runs `assay audit` on them in a fresh process under the kr-public-service
pack. While it runs, the resident memory of the audit's whole process tree (the CLI, Prefect's
temporary server, the explainer's worker processes) is sampled. Target: the tree's peak RSS stays
under 4 GB (4 × 10^9 bytes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

from assay.data import welfare_review
from assay.data.vendors import THRESHOLD, VENDORS, train_model

SEED = 20240601
ASSAY = str(Path(sys.executable).parent / "assay")
LABEL = "irregularity_found"
TARGET_BYTES = 4 * 10**9  # 4 GB, decimal: the stricter reading of the target
GB, MIB = 10**9, 1024**2


def write_vendor_c(train_rows: int, folder: Path) -> Path:
    """Train the demo's vendor-c on a `train_rows` historical split; return its manifest's path."""
    import skops.io as sio

    spec = next(v for v in VENDORS if v.id == "vendor-c")
    train = welfare_review.generate(train_rows, SEED, "train")
    folder.mkdir(parents=True)
    sio.dump(train_model(train, spec.features, LABEL, SEED), folder / "model.skops")
    manifest = {
        "id": spec.id,
        "vendor": spec.vendor,
        "model": f"{spec.vendor} welfare review scorer",
        "version": "1.0.0",
        "format": "skops",
        "location": "model.skops",
        "input_features": spec.features,
        "output": {"positive_class": 1, "score": "probability of an irregularity", "threshold": THRESHOLD},
        "intended_use": "rank benefit recipients for an eligibility review by a caseworker",
        "training_data": f"{train_rows} synthetic historical review outcomes (seed {SEED})",
        "contact": "compliance@vendor-c.example",
    }
    path = folder / "candidate.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


class TreeSampler(threading.Thread):
    """Sample the summed RSS of a process and all its descendants until it ends."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self.peak_processes = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        """Sample until told to stop."""
        while not self.done.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for proc in tree:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += proc.memory_info().rss
            self.samples += 1
            if total > self.peak:
                self.peak, self.peak_processes = total, len(tree)
            self.done.wait(self.every)


def run_audit(
    candidate: Path, data: Path, ledger: Path, env: dict[str, str]
) -> tuple[float, TreeSampler, int]:
    """Run `assay audit` in a fresh process; return its wall seconds, the sampler and its exit code."""
    command = [
        ASSAY, "audit", "--service", "welfare-review", "--candidate", str(candidate), "--data", str(data),
        "--policy", "kr-public-service", "--ledger", str(ledger), "--seed", str(SEED),
    ]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    sampler = TreeSampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    if proc.returncode not in (0, 1):  # 1: a policy gate failed, still a complete audit
        sys.exit(f"assay audit exited {proc.returncode}:\n{stderr[-3000:]}")
    (ledger.parent / "audit.json").write_text(stdout)
    return seconds, sampler, proc.returncode


def verdict(ok: bool) -> str:
    """Return PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def main() -> int:
    """Run the benchmark, print the numbers and the target, and return 1 if it is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evaluation rows")
    parser.add_argument("--train-rows", type=int, default=60_000)
    parser.add_argument("--workdir", type=Path, help="keep the data and ledger here (default: a temp dir)")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        work = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="assay-bench-")))
        work.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        data = work / "evaluation.parquet"
        welfare_review.generate(args.rows, SEED, "holdout").to_parquet(data)
        candidate = write_vendor_c(args.train_rows, work / f"vendor-c-{time.time_ns()}")
        print(
            f"audit: vendor-c (skops) × {args.rows:,} evaluation rows "
            f"({data.stat().st_size / MIB:.0f} MiB Parquet, notes included) under kr-public-service; "
            f"set up in {time.perf_counter() - start:.0f} s, not timed; {os.cpu_count()} cores"
        )
        # A Prefect home of its own: nothing outside the work folder, and no telemetry.
        env = {
            **os.environ,
            "PREFECT_HOME": str(work / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL",
            "GX_ANALYTICS_ENABLED": "false",
        }
        load = os.getloadavg()[0]
        ledger = work / f"ledger-{time.time_ns()}"
        seconds, sampler, code = run_audit(candidate, data, ledger, env)
        # On Linux ru_maxrss is in KiB: the largest resident set of any one waited-for descendant.
        largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        summary = json.loads((ledger.parent / "audit.json").read_text())
        record = json.loads((Path(summary["entry"]) / "record.json").read_text())

    print(
        f"assay audit: {seconds:.1f} s wall (load average {load:.1f} at start), exit {code}, "
        f"recommendation {summary['recommendation']}"
    )
    print(f"timings: {', '.join(f'{k} {v:.1f} s' for k, v in record['timings'].items())}")
    slowest = sorted(record["results"], key=lambda r: -(r.get("seconds") or 0.0))[:6]
    print("slowest checks: " + ", ".join(f"{r['check_id']} {r.get('seconds') or 0:.1f} s" for r in slowest))
    print(
        f"peak RSS of the process tree: {sampler.peak / GB:.2f} GB ({sampler.peak_processes} processes; "
        f"{sampler.samples} samples every 0.1 s); largest single process: {largest / GB:.2f} GB"
    )
    ok = sampler.peak < TARGET_BYTES
    print(f"{verdict(ok)}  peak RSS of the audit's process tree < 4 GB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
