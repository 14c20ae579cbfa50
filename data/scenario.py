"""The scenario cache: generated data and demo candidates live in a folder git ignores."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import yaml

from assay.data import vendors, welfare_review
from assay.policies import DEFAULT_POLICY

N_TRAIN = 60_000
N_HOLDOUT = 80_000
N_WINDOW = 20_000
# Later evaluation windows for `assay monitor`: two calm months, and a drifted one kept apart so a
# data team can watch the alert fire by copying it in (see the README).
WINDOWS = {"windows/2026-09.parquet": (1, 0.0), "windows/2026-10.parquet": (2, 0.0),
           "windows-drifted/2026-11.parquet": (3, 1.0)}  # fmt: skip


def cache_dir() -> Path:
    """Return the cache folder (`ASSAY_CACHE`, default `./.assay-cache`)."""
    return Path(os.environ.get("ASSAY_CACHE", ".assay-cache"))


def ensure_welfare_review(seed: int = 7) -> Path:
    """Generate the welfare-review splits and demo candidates once per seed; return their folder."""
    folder = cache_dir() / f"welfare-review-g{welfare_review.GENERATOR_VERSION}-s{seed}"
    if (folder / "holdout.parquet").exists():
        write_round(folder, seed)
        write_windows(folder, seed)
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Build in a temporary sibling and rename, so an interrupted run leaves nothing half-made.
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        train = welfare_review.generate(N_TRAIN, seed, "train")
        welfare_review.generate(N_HOLDOUT, seed, "holdout").to_parquet(tmp / "holdout.parquet")
        train.to_parquet(tmp / "train.parquet")
        vendors.write_candidates(train, tmp / "candidates", seed)
        write_round(tmp, seed)
        write_windows(tmp, seed)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def write_round(folder: Path, seed: int) -> Path:
    """Write the demo's procurement round file (`round.yaml`) beside the data, if it is missing."""
    path = folder / "round.yaml"
    if path.exists():
        return path
    candidates = sorted(p.relative_to(folder).as_posix() for p in folder.glob("candidates/*/candidate.yaml"))
    body = {
        "id": "welfare-review-demo",
        "service": "welfare-review",
        "data": "holdout.parquet",
        "policy": DEFAULT_POLICY,
        "seed": seed,
        "candidates": candidates,
    }
    tmp = folder / ".round.yaml.tmp"
    tmp.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_windows(folder: Path, seed: int) -> list[Path]:
    """Write the later evaluation windows (`windows/`, `windows-drifted/`) that are missing."""
    paths = []
    for name, (window, drift) in WINDOWS.items():
        path = folder / name
        paths.append(path)
        if path.exists():
            continue
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        welfare_review.generate(N_WINDOW, seed, "window", window=window, drift=drift).to_parquet(tmp)
        os.replace(tmp, path)
    return paths
