"""The input limits refuse pathological files, yet a 1,000,000-row evaluation set is still taken in."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from assay.data import limits, loaders

README = Path(__file__).resolve().parents[2] / "README.md"


def test_a_million_row_evaluation_set_passes_every_limit(holdout: pd.DataFrame, profile, tmp_path) -> None:
    rows = 1_000_000
    frame = holdout.iloc[np.resize(np.arange(len(holdout)), rows)].reset_index(drop=True)
    frame["case_id"] = [f"WR-M{i:07d}" for i in range(rows)]
    # As CSV, measured on 10,000 rows: about 60 MB for the 16 columns, 200 MB with a free-text note.
    per_row = len(frame.head(10_000).to_csv(index=False).encode()) / 10_000
    assert per_row * rows < limits.MAX_CSV_BYTES / 2
    path = tmp_path / "eval.parquet"
    frame.to_parquet(path, index=False)
    assert path.stat().st_size < limits.MAX_PARQUET_BYTES / 2
    data = loaders.read_table(path)
    assert len(data) == rows and len(data.columns) < limits.MAX_COLUMNS
    loaders.check_ids(data, profile, path)
    loaders.check_sensitive(data, profile, path)
    assert loaders.binary_labels(data, profile, path).sum() == frame["irregularity_found"].sum()


def test_the_readme_states_the_limits_the_code_applies() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    section = text[text.index("### Bad input and limits") :]
    stated = {
        "csv": r"a CSV over (\d+) GiB",
        "parquet": r"a Parquet file over (\d+) MiB",
        "columns": r"more than ([\d,]+) columns",
        "groups": r"more than ([\d,]+) distinct values",
    }
    found = {k: int(re.search(p, section).group(1).replace(",", "")) for k, p in stated.items()}
    assert found == {
        "csv": limits.MAX_CSV_BYTES // limits.GiB,
        "parquet": limits.MAX_PARQUET_BYTES // limits.MiB,
        "columns": limits.MAX_COLUMNS,
        "groups": limits.MAX_GROUPS,
    }
