"""The input limits refuse pathological files, yet a 1,000,000-row evaluation set is still taken in."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay.checks.errors import AssayInputError
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


def _constant_parquet(path: Path, rows: int, columns: int = 1, text: str | None = None) -> Path:
    """Write `rows` rows of `columns` columns of one repeated value (a long string, if `text`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    value = pa.array([text] * rows) if text is not None else pa.array(np.zeros(rows, dtype=np.int8))
    pq.write_table(pa.table({f"c{i}": value for i in range(columns)}), path, compression="zstd")
    return path


def _no_rows_read(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("rows were read before the limits were checked")

    monkeypatch.setattr(pd, "read_parquet", refuse)


def test_a_parquet_row_bomb_is_refused_from_its_footer(tmp_path, monkeypatch) -> None:
    # The bomb compresses its rows to almost nothing: the file's size passes, its row count does not.
    monkeypatch.setattr(limits, "MAX_ROWS", 100_000)
    path = _constant_parquet(tmp_path / "bomb.parquet", 100_001)
    assert path.stat().st_size < 10_000
    _no_rows_read(monkeypatch)
    with pytest.raises(AssayInputError) as info:
        loaders.read_table(path)
    assert str(info.value) == (
        f"{path}: 100,001 rows, over the limit of 100,000 for a parquet file "
        "(split the evaluation set or sample it)"
    )


def test_a_parquet_file_with_too_many_cells_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_CELLS", 1_000)
    path = _constant_parquet(tmp_path / "wide.parquet", 101, columns=10)
    _no_rows_read(monkeypatch)
    with pytest.raises(
        AssayInputError, match=r"wide.parquet: 1,010 cells \(101 rows x 10 columns\), over the limit"
    ):
        loaders.read_table(path)


def test_a_parquet_file_too_large_uncompressed_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_PARQUET_UNCOMPRESSED_BYTES", 100_000)
    rng = np.random.default_rng(0)  # random text: dictionary encoding cannot shrink it
    path = tmp_path / "text.parquet"
    pd.DataFrame({"note": [rng.bytes(200).hex() for _ in range(1_000)]}).to_parquet(path)
    _no_rows_read(monkeypatch)
    with pytest.raises(
        AssayInputError, match=r"text.parquet: [\d,]+ bytes uncompressed, over the limit of 100,000"
    ):
        loaders.read_table(path)


def test_a_parquet_file_within_the_limits_is_read(tmp_path) -> None:
    path = _constant_parquet(tmp_path / "fine.parquet", 1_000, columns=3)
    assert loaders.read_table(path).shape == (1_000, 3)


def test_the_readme_states_the_parquet_row_and_cell_limits() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    section = text[text.index("### Bad input and limits") :]
    rows = re.search(r"Parquet file of more than ([\d,]+) rows", section)
    cells = re.search(r"or ([\d,]+) cells", section)
    unpacked = re.search(r"or (\d+) GiB uncompressed", section)
    assert rows and cells and unpacked, section[:600]
    assert int(rows.group(1).replace(",", "")) == limits.MAX_ROWS
    assert int(cells.group(1).replace(",", "")) == limits.MAX_CELLS
    assert int(unpacked.group(1)) * limits.GiB == limits.MAX_PARQUET_UNCOMPRESSED_BYTES
