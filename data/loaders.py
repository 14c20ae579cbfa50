"""Loading every input file with one-line errors: service profiles, contracts, policies, tables."""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import re
from collections import Counter
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.checks.checklist import Answer, Answers
from assay.checks.context import MISSING_GROUP, FeatureInfo, ServiceProfile
from assay.checks.errors import AssayInputError
from assay.checks.policy import PolicyPack, extend_pack
from assay.data import limits

M = TypeVar("M", bound=BaseModel)
# How far an answer's date may run ahead of UTC's: Korea's calendar is a day ahead until 09:00 UTC.
ANSWER_DATE_SKEW = timedelta(days=1)
SERVICES_DIR = Path(str(resources.files("assay.data") / "services"))
POLICIES_DIR = Path(str(resources.files("assay.policies")))
# libyaml's safe loader when PyYAML was built with it: ten times faster on a policy pack.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class RepeatedKeyError(yaml.YAMLError):
    """A mapping gives one key twice (PyYAML would silently keep the last value)."""

    def __init__(self, key: object, first_line: int, second_line: int) -> None:
        super().__init__(f"key {key!r} given twice (lines {first_line} and {second_line})")


class UniqueKeyLoader(_FAST_LOADER):  # type: ignore[misc,valid-type]
    """The safe YAML loader (libyaml's parser where available) that refuses a key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Return the mapping of `node`, or raise RepeatedKeyError naming the key and both lines."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # `<<: *anchor` keys may be overridden on purpose: that is what merging is
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise RepeatedKeyError(key, seen[key], line)
                seen[key] = line
            except TypeError:
                continue  # an unhashable key: the base constructor says so
        return super().construct_mapping(node, deep=deep)


def sha256_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def validation_message(exc: ValidationError) -> str:
    """Return pydantic's first error as `field 'a.b': message`."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    # A check across fields names the field it faults as "a.b: message".
    head, sep, rest = msg.partition(": ")
    if not where and sep and re.fullmatch(r"[A-Za-z_][\w]*(\.[\w]+)*", head):
        where, msg = head, rest
    where = where or "(top level)"
    extra = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"field '{where}': {msg}{extra}"


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, or raise a one-line error naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AssayInputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise AssayInputError(f"{path}: cannot read ({exc})") from None
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)
    except RepeatedKeyError as exc:
        raise AssayInputError(f"{path}: {exc}; give each key once") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise AssayInputError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise AssayInputError(f"{path}: expected a YAML mapping at the top level")
    return data


def load_model(path: Path, model: type[M]) -> M:
    """Read a YAML file into a pydantic model, naming the file and field on error."""
    try:
        return model.model_validate(load_yaml(path))
    except ValidationError as exc:
        raise AssayInputError(f"{path}: {validation_message(exc)}") from None


def _exists(path: Path) -> bool:
    """Say whether a path exists; a name no file can have (too long, a NUL byte) does not."""
    return os.path.exists(path)  # unlike Path.exists, False for such names rather than an error


def is_file(path: Path) -> bool:
    """Say whether `path` is a file; a name no file can have (too long, a NUL byte) is not."""
    return os.path.isfile(path)


def beside(folder: Path, ref: str, where: str) -> Path:
    """Return `ref` resolved against `folder`, or a one-line error naming `where` if it cannot be a path."""
    try:
        return (folder / ref).resolve()
    except (OSError, ValueError):
        raise AssayInputError(f"{where}: {ref!r} cannot be a file name") from None


def resolve(ref: str, folder: Path, kind: str) -> Path:
    """Return `ref` as a path, or the shipped file `folder/<ref>.yaml` when `ref` is an id."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or _exists(path):
        return path
    shipped = folder / f"{ref}.yaml"
    if _exists(shipped):
        return shipped
    known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
    raise AssayInputError(f"unknown {kind} {ref!r} (shipped: {known}); or give a path to a YAML file")


def load_profile(ref: str) -> tuple[ServiceProfile, Path]:
    """Load a service profile by shipped id or path."""
    path = resolve(ref, SERVICES_DIR, "service")
    return load_model(path, ServiceProfile), path


class DatasetContract(BaseModel):
    """A dataset's contract: GX expectations, and how explanations name its columns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expectations: list[dict[str, Any]]
    features: dict[str, FeatureInfo] = Field(default_factory=dict)


def load_contract(profile: ServiceProfile, profile_path: Path) -> tuple[DatasetContract | None, Path | None]:
    """Load the contract the profile names (relative to the profile).

    A service without a contract gives (None, None): the contract check is then not assessed.
    """
    if profile.contract is None:
        return None, None
    path = beside(profile_path.parent, profile.contract, f"{profile_path}: field 'contract'")
    return load_model(path, DatasetContract), path


def _mergeable(path: Path, pack: dict[str, Any]) -> None:
    """Refuse the shapes `extend_pack` cannot merge, naming the field, before it tries."""
    kinds = {"parameters": dict, "clauses": list, "overrides": list, "lineage": list}
    for key, kind in kinds.items():
        if key in pack and not isinstance(pack[key], kind):
            expected = "a mapping" if kind is dict else "a list"
            raise AssayInputError(f"{path}: field '{key}': expected {expected}")
    for key in ("clauses", "overrides"):
        for i, item in enumerate(pack.get(key, [])):
            if not isinstance(item, dict):
                raise AssayInputError(f"{path}: field '{key}.{i}': expected a mapping")
    for i, clause in enumerate(pack.get("clauses", [])):
        if not isinstance(clause.get("id", ""), str):
            raise AssayInputError(f"{path}: field 'clauses.{i}.id': expected a clause id")
        evidence = clause.get("evidence", [])
        if not isinstance(evidence, list) or not all(isinstance(e, dict) for e in evidence):
            raise AssayInputError(f"{path}: field 'clauses.{i}.evidence': expected a list of mappings")


def _pack_mapping(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """Read a pack's YAML, resolving `extends` (a shipped id or a path relative to the file)."""
    raw = load_yaml(path)
    base_ref = raw.get("extends")
    if base_ref is None:
        return raw
    if not isinstance(base_ref, str):
        raise AssayInputError(f"{path}: field 'extends': expected a pack id or a path")
    candidate = (path.parent / base_ref) if base_ref.endswith((".yaml", ".yml")) else Path(base_ref)
    try:
        base_path = resolve(str(candidate), POLICIES_DIR, "policy")
    except AssayInputError as exc:
        raise AssayInputError(f"{path}: field 'extends': {exc}") from None
    if not _exists(base_path) or base_path.is_dir():
        raise AssayInputError(f"{path}: field 'extends': no such file {base_path}")
    if base_path.resolve() in seen:
        raise AssayInputError(f"{path}: field 'extends': {base_ref!r} extends this pack again (a cycle)")
    base = _pack_mapping(base_path, (*seen, base_path.resolve()))
    _mergeable(base_path, base)
    _mergeable(path, raw)
    try:
        return extend_pack(base, raw)
    except ValueError as exc:
        raise AssayInputError(f"{path}: {exc}") from None


def load_policy(ref: str) -> tuple[PolicyPack, Path]:
    """Load a policy pack by shipped id or path, on top of the pack it extends if any."""
    path = resolve(ref, POLICIES_DIR, "policy")
    mapping = _pack_mapping(path, (path.resolve(),))
    try:
        return PolicyPack.model_validate(mapping), path
    except ValidationError as exc:
        raise AssayInputError(f"{path}: {validation_message(exc)}") from None


def _csv_columns(path: Path) -> list[str]:
    """Return a CSV's header names from its first line, refusing binary or non-UTF-8 files."""
    with path.open("rb") as fh:
        head = fh.read(limits.SNIFF_BYTES)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise AssayInputError(f"{path}: UTF-16 text; save the CSV as UTF-8")
        if b"\x00" in head:
            raise AssayInputError(f"{path}: binary data, not a CSV text file")
        line, newline, _ = head.partition(b"\n")
        if not newline:
            # A header longer than the sniffed bytes: read on to its end, within a bound.
            rest = fh.readline(limits.MAX_HEADER_BYTES)
            line += rest
            if len(rest) == limits.MAX_HEADER_BYTES and not rest.endswith(b"\n"):
                raise AssayInputError(
                    f"{path}: the header line is over {limits.MAX_HEADER_BYTES:,} bytes "
                    f"(at most {limits.MAX_COLUMNS:,} columns are read)"
                )
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(line, final=False)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    try:
        return next(csv.reader([text.rstrip("\r\n")]), [])
    except csv.Error:
        return []  # an odd header is left to the parser, whose message names the line


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> AssayInputError:
    """Return the error for a CSV that is not UTF-8, naming the first byte that is not."""
    return AssayInputError(
        f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the CSV as UTF-8"
    )


def _parquet_columns(path: Path) -> list[str]:
    """Return a Parquet file's column names from its footer; refuse too many rows, cells or bytes.

    Only the footer is read: the limits hold before any row is decoded.
    """
    import pyarrow.parquet as pq

    try:
        footer = pq.read_metadata(path)
        names = list(footer.schema.to_arrow_schema().names)
        unpacked = sum(footer.row_group(i).total_byte_size for i in range(footer.num_row_groups))
    except Exception as exc:  # pyarrow raises several types for a broken footer
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AssayInputError(f"{path}: cannot read as parquet ({first})") from None
    rows = footer.num_rows
    for value, limit, what in (
        (rows, limits.MAX_ROWS, "rows"),
        (rows * len(names), limits.MAX_CELLS, f"cells ({rows:,} rows x {len(names):,} columns)"),
        (unpacked, limits.MAX_PARQUET_UNCOMPRESSED_BYTES, "bytes uncompressed"),
    ):
        if value > limit:
            raise AssayInputError(
                f"{path}: {value:,} {what}, over the limit of {limit:,} for a parquet file "
                "(split the evaluation set or sample it)"
            )
    return names


def read_table(path: Path, text_columns: Collection[str] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file within the limits of `assay.data.limits`, or raise a one-line error.

    The size, the header (CSV) or schema (Parquet) are checked before any row is read. A CSV's
    `text_columns` (ids) are read as written, not as numbers: "007" and "7" are two ids, "0" and
    "00" too. Parquet columns keep the type the file gives them.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise AssayInputError(f"{path}: expected a .csv or .parquet file")
    if not is_file(path):
        raise AssayInputError(f"{path}: no such file")
    kind = "csv" if suffix == ".csv" else "parquet"
    size = path.stat().st_size
    limit = limits.MAX_CSV_BYTES if kind == "csv" else limits.MAX_PARQUET_BYTES
    if size > limit:
        raise AssayInputError(
            f"{path}: {size:,} bytes, over the limit of {limit:,} bytes for a {kind} file "
            "(split the evaluation set or sample it)"
        )
    if size == 0:
        raise AssayInputError(f"{path}: empty file (expected a header line and rows)")
    columns = _csv_columns(path) if kind == "csv" else _parquet_columns(path)
    if len(columns) > limits.MAX_COLUMNS:
        raise AssayInputError(
            f"{path}: {len(columns):,} columns, over the limit of {limits.MAX_COLUMNS:,} columns"
        )
    twice = [name for name, n in Counter(c for c in columns if c).items() if n > 1]
    if twice:
        raise AssayInputError(f"{path}: column {twice[0]!r} appears more than once in the header")
    try:
        if kind == "csv":
            data = pd.read_csv(path, encoding="utf-8", dtype=dict.fromkeys(text_columns, str))
        else:
            data = pd.read_parquet(path)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except Exception as exc:  # parsers raise many types; the user needs the file and the gist
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AssayInputError(f"{path}: cannot read as {kind} ({first})") from None
    if kind == "csv" and len(data.columns) == 1:
        header = str(data.columns[0])
        sep = next((s for s in (";", "\t", "|") if s in header), None)
        if sep is not None:
            raise AssayInputError(
                f"{path}: the header is one column {header[:60]!r}: expected comma-separated values, "
                f"this file seems separated by {sep!r}"
            )
    if len(data) == 0:
        raise AssayInputError(f"{path}: no rows (only a header)")
    return data


def require_columns(data: pd.DataFrame, columns: list[str], path: Path, why: str) -> None:
    """Raise a one-line error naming the first missing column."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise AssayInputError(
            f"{path}: missing column {missing[0]!r} ({why})"
            + (f"; also missing: {', '.join(missing[1:])}" if len(missing) > 1 else "")
        )


def binary_labels(data: pd.DataFrame, profile: ServiceProfile, path: Path) -> pd.Series:
    """Return the label column as 0/1 (1 = the profile's positive value), or explain what is wrong."""
    col = profile.label.column
    values = data[col]
    if values.isna().any():
        raise AssayInputError(f"{path}: column {col!r} has {int(values.isna().sum())} empty labels")
    distinct = sorted(map(str, values.unique()))
    if len(distinct) > 2:
        shown = ", ".join(distinct[:5]) + (", ..." if len(distinct) > 5 else "")
        raise AssayInputError(
            f"{path}: column {col!r} must be binary, found {len(distinct)} values ({shown})"
        )
    if len(distinct) < 2:
        # One outcome only: no error rate, no parity between groups can be measured.
        raise AssayInputError(
            f"{path}: column {col!r} has only the value {distinct[0]!r} (need rows of both outcomes)"
        )
    positive = str(profile.label.positive)
    if positive not in distinct:
        raise AssayInputError(
            f"{path}: column {col!r} has no value {positive!r} (the profile's positive label; "
            f"found {', '.join(distinct)})"
        )
    return (values.astype(str) == positive).astype(int)


def check_ids(data: pd.DataFrame, profile: ServiceProfile, path: Path) -> None:
    """Refuse empty or repeated ids: predictions, explanations and reports name rows by them."""
    col = profile.id_column
    ids = data[col]
    if ids.isna().any():
        raise AssayInputError(
            f"{path}: column {col!r} (the profile's id column) has {int(ids.isna().sum())} empty ids"
        )
    repeated = ids.astype(str).duplicated()
    if repeated.any():
        raise AssayInputError(
            f"{path}: column {col!r} (the profile's id column) has {int(repeated.sum())} repeated ids "
            f"(first: {str(ids[repeated].iloc[0])!r})"
        )


def check_sensitive(data: pd.DataFrame, profile: ServiceProfile, path: Path) -> None:
    """Refuse a sensitive column with no group, too many groups, or a group its empty cells would join."""
    for attr in profile.sensitive_attributes:
        values = data[attr.column]
        what = f"{path}: column {attr.column!r} (sensitive attribute {attr.name!r})"
        if values.isna().all():
            raise AssayInputError(f"{what} is empty in every row")
        if attr.bins is not None:
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                present = values.dropna()
                odd = present[pd.to_numeric(present, errors="coerce").isna()]
                shown = str((odd if len(odd) else present).iloc[0])
                raise AssayInputError(f"{what} must be numeric to be binned (found {shown!r})")
        else:
            groups = int(values.nunique(dropna=True))
            if groups > limits.MAX_GROUPS:
                raise AssayInputError(
                    f"{what} has {groups:,} distinct values, over the limit of {limits.MAX_GROUPS} groups "
                    "per attribute (bin it in the service profile, or check the column)"
                )
        # Only a bin so labelled, or an unbinned column with empty cells, can collide.
        collides = MISSING_GROUP in attr.labels if attr.labels is not None else values.isna().any()
        grouped = attr.groups(values) if collides else None
        if grouped is not None and grouped.isna().any() and (grouped == MISSING_GROUP).any():
            # The label of empty cells is fixed (reports and checks name it), so a real group of that
            # name cannot be told apart from them: refused rather than silently merged.
            empty, kind = "empty cells", "the value"
            if attr.bins is not None:
                empty, kind = "empty cells or values outside every bin", "a bin labelled"
            raise AssayInputError(
                f"{what} has {empty} and {kind} {MISSING_GROUP!r}, the group name given to empty "
                f"cells: the two would be merged (rename {MISSING_GROUP!r}, or fill the empty cells)"
            )


def evaluation_rows(
    data: pd.DataFrame, profile: ServiceProfile, path: Path
) -> tuple[pd.DataFrame, pd.Series]:
    """Check evaluation data against its service profile; return it without free text, and its labels as 0/1.

    The id, label and sensitive columns must be there, ids unique, every sensitive attribute
    readable, and the labels binary. Free text about a person is no evidence: no check, model or
    record ever sees it.
    """
    require_columns(data, [profile.id_column], path, "the profile's id column")
    require_columns(data, [profile.label.column], path, "the profile's label")
    sensitive = [a.column for a in profile.sensitive_attributes]
    require_columns(data, sensitive, path, "a sensitive attribute of the profile")
    check_ids(data, profile, path)
    check_sensitive(data, profile, path)
    data = data.drop(columns=[c for c in profile.free_text if c in data.columns])
    return data, binary_labels(data, profile, path)


def load_answers(path: Path, pack: PolicyPack, today: date | None = None) -> dict[str, Answer]:
    """Load a checklist answers file for `pack`; every question id must be one of the pack's.

    An answer must be of its question's kind and dated no later than `today` (UTC's date unless
    given) plus ANSWER_DATE_SKEW: a person writes their own calendar's date, up to a day ahead.
    """
    answers = load_model(path, Answers)
    if answers.policy not in (pack.id, *(entry.split("@")[0] for entry in pack.lineage)):
        raise AssayInputError(
            f"{path}: field 'policy': answers for {answers.policy!r}, the audit uses {pack.id!r}"
        )
    known = {q.id for _, q in pack.questions()}
    unknown = sorted(set(answers.answers) - known)
    if unknown:
        raise AssayInputError(f"{path}: field 'answers.{unknown[0]}': no such question in policy {pack.id!r}")
    latest = (today or datetime.now(UTC).date()) + ANSWER_DATE_SKEW
    for _, q in pack.questions():
        given = answers.answers.get(q.id)
        if given is None:
            continue
        fault = q.fault(given)
        if fault is not None:
            raise AssayInputError(f"{path}: field 'answers.{q.id}.answer': {fault}")
        if given.answered_at is not None and given.answered_at > latest:
            raise AssayInputError(
                f"{path}: field 'answers.{q.id}.answered_at': {given.answered_at} is in the future "
                f"(the latest date accepted is {latest}); give the date the answer was given"
            )
    if pack.impact_levels is not None:
        try:
            pack.impact_levels.check_answers(answers.answers)
        except ValueError as exc:
            where, _, what = str(exc).partition(": ")
            raise AssayInputError(f"{path}: field '{where}': {what}") from None
    return dict(answers.answers)
