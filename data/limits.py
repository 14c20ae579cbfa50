"""Limits on input tables, checked before a table is read or any check runs (README, "Bad input").

Each limit is far above any real evaluation set (a 1,000,000-row, 16-column CSV is about 60 MB)
and far below what would exhaust a 2-core, few-GB machine: a file over a limit is refused in one
line instead of running out of memory or time halfway through an audit.
"""

from __future__ import annotations

GiB = 1024**3
MiB = 1024**2

# Largest file read as a table. Parquet is compressed, typically 4-10 times smaller than the
# same rows as CSV, so its limit is lower for the same memory once loaded.
MAX_CSV_BYTES = 1 * GiB
MAX_PARQUET_BYTES = 256 * MiB
# Most columns a table may have: read from the header (CSV) or the schema (Parquet) first.
MAX_COLUMNS = 1_000
# Most rows, cells (rows x columns) and decoded bytes a Parquet file may hold, read from its footer.
# Its size says little: a column of one repeated value compresses to almost nothing, and 2.4 MB
# held 3x10^8 rows that took 5.8 GB to load. A CSV needs at least two bytes a cell, so its size
# bounds it already.
MAX_ROWS = 10_000_000
MAX_CELLS = 100_000_000
MAX_PARQUET_UNCOMPRESSED_BYTES = 4 * GiB
# Most distinct values an unbinned sensitive attribute may have: each is a group every fairness
# check compares (pairwise for intersections), and hundreds of groups are a wrong column, not a
# protected characteristic. A numeric attribute with many values is binned in the service profile.
MAX_GROUPS = 200
# How much of a CSV is looked at to tell text from binary data before parsing it.
SNIFF_BYTES = 64 * 1024
# Longest CSV header line read to count the columns (1,000 names of up to a kilobyte each).
MAX_HEADER_BYTES = 1 * MiB
