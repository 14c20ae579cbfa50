"""Loading every input file with one-line errors: service profiles, contracts, policies, tables."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.checks.checklist import Answer, Answers
from assay.checks.context import FeatureInfo, ServiceProfile
from assay.checks.errors import AssayInputError
from assay.checks.policy import PolicyPack, extend_pack

M = TypeVar("M", bound=BaseModel)
SERVICES_DIR = Path(str(resources.files("assay.data") / "services"))
POLICIES_DIR = Path(str(resources.files("assay.policies")))


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
    except (OSError, UnicodeDecodeError) as exc:
        raise AssayInputError(f"{path}: cannot read ({exc})") from None
    try:
        data = yaml.safe_load(text)
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


def resolve(ref: str, folder: Path, kind: str) -> Path:
    """Return `ref` as a path, or the shipped file `folder/<ref>.yaml` when `ref` is an id."""
    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    shipped = folder / f"{ref}.yaml"
    if shipped.exists():
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
    path = (profile_path.parent / profile.contract).resolve()
    return load_model(path, DatasetContract), path


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
    if base_path.resolve() in seen:
        raise AssayInputError(f"{path}: field 'extends': {base_ref!r} extends this pack again (a cycle)")
    base = _pack_mapping(base_path, (*seen, base_path.resolve()))
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


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, or raise a one-line error naming it."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise AssayInputError(f"{path}: expected a .csv or .parquet file")
    if not path.is_file():
        raise AssayInputError(f"{path}: no such file")
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as exc:  # parsers raise many types; the user needs the file and the gist
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AssayInputError(f"{path}: cannot read as {suffix[1:]} ({first})") from None


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
    positive = str(profile.label.positive)
    if positive not in distinct and len(distinct) == 2:
        raise AssayInputError(
            f"{path}: column {col!r} has no value {positive!r} (the profile's positive label)"
        )
    return (values.astype(str) == positive).astype(int)


def load_answers(path: Path, pack: PolicyPack) -> dict[str, Answer]:
    """Load a checklist answers file for `pack`; every question id must be one of the pack's."""
    answers = load_model(path, Answers)
    if answers.policy not in (pack.id, *(entry.split("@")[0] for entry in pack.lineage)):
        raise AssayInputError(
            f"{path}: field 'policy': answers for {answers.policy!r}, the audit uses {pack.id!r}"
        )
    known = {q.id for _, q in pack.questions()}
    unknown = sorted(set(answers.answers) - known)
    if unknown:
        raise AssayInputError(f"{path}: field 'answers.{unknown[0]}': no such question in policy {pack.id!r}")
    for _, q in pack.questions():
        given = answers.answers.get(q.id)
        if q.kind == "number" and given is not None and given.answer is not None:
            value = given.number()
            if value is None or value < 0:
                raise AssayInputError(
                    f"{path}: field 'answers.{q.id}.answer': expected a number ≥ 0, got {given.answer!r}"
                )
    if pack.impact_levels is not None:
        try:
            pack.impact_levels.check_answers(answers.answers)
        except ValueError as exc:
            where, _, what = str(exc).partition(": ")
            raise AssayInputError(f"{path}: field '{where}': {what}") from None
    return dict(answers.answers)
