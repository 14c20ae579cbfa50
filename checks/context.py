"""What every check receives: the service profile, the evaluation data, the candidate's outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.checks.phrase import Text
from assay.checks.results import Need
from assay.checks.triage import TriageAnswers

# The group of rows whose sensitive value is empty (or outside every bin); a value of the data
# that reads the same is refused when the column also has empty cells (data/loaders.py).
MISSING_GROUP = "missing"


class LabelSpec(BaseModel):
    """Which column holds the outcome and which of its values is the positive class."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    positive: int | str | bool


class SensitiveAttribute(BaseModel):
    """A protected characteristic, optionally binned from a numeric column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    column: str
    bins: list[float] | None = None
    labels: list[str] | None = None
    reference_group: str | None = None
    # A group's share of the population the service is for: a proportion, a finite number in [0, 1].
    population_shares: dict[str, Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]] | None = None

    @model_validator(mode="after")
    def _bins_match_labels(self) -> SensitiveAttribute:
        if (self.bins is None) != (self.labels is None):
            raise ValueError("'bins' and 'labels' go together")
        if self.bins is not None and len(self.bins) != len(self.labels or []) + 1:
            raise ValueError("'bins' needs exactly one more edge than there are 'labels'")
        if self.bins is not None and any(b != b for b in self.bins):  # NaN: no edge compares with it
            raise ValueError(f"'bins' must be numbers, not NaN (got {self.bins})")
        if self.bins is not None and any(a >= b for a, b in zip(self.bins, self.bins[1:], strict=False)):
            raise ValueError(f"'bins' must be strictly increasing edges (got {self.bins})")
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            repeated = sorted({x for x in self.labels if self.labels.count(x) > 1})
            raise ValueError(f"'labels' must be distinct (repeated: {', '.join(repeated)})")
        if self.population_shares is not None:
            total = sum(self.population_shares.values())
            if abs(total - 1.0) > 0.01:
                raise ValueError(f"'population_shares' must sum to 1 (they sum to {total:.3f})")
        return self

    def groups(self, column: pd.Series) -> pd.Series:
        """Return each row's group as text (its bin's label where binned), <NA> where there is none."""
        if self.bins is not None:
            column = pd.cut(column, bins=self.bins, labels=self.labels, right=False)
        return column.astype("string")


# The metrics of performance.classification a vendor may declare a level of (EU AI Act Art
# 13(3)(b)(ii) and 15(3)), each with whether a higher value is the better one.
DECLARABLE_METRICS = {"accuracy": True, "balanced_accuracy": True, "roc_auc": True, "brier_score": False}


class DeclaredLevel(BaseModel):
    """A level of accuracy the vendor declares for its candidate: the metric and its value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: Literal["accuracy", "balanced_accuracy", "roc_auc", "brier_score"]
    value: float = Field(ge=0, le=1, allow_inf_nan=False)

    @property
    def higher_is_better(self) -> bool:
        """Say whether the declared level is a floor (True) or a ceiling (brier_score)."""
        return DECLARABLE_METRICS[self.metric]


class FeatureInfo(BaseModel):
    """How to name an input and its values in plain sentences (from the dataset contract)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Text
    # Template for a value, `{value}` replaced (e.g. ko "{value}분위"); default: the value itself.
    value: Text | None = None
    # Names of categorical values (e.g. female → 여성 / female).
    values: dict[str, Text] = Field(default_factory=dict)

    def describe(self, raw: Any, lang: str) -> str:
        """Return "label value" in the language `lang` (ko or en)."""
        shown = _plain(raw)
        named = self.values.get(shown)
        if named is not None:
            shown = getattr(named, lang)
        elif self.value is not None:
            shown = getattr(self.value, lang).replace("{value}", shown)
        return f"{getattr(self.label, lang)} {shown}"


def _plain(raw: Any) -> str:
    """Return a value as a reader would write it (2 rather than 2.0)."""
    if isinstance(raw, float | np.floating) and float(raw).is_integer():
        return str(int(raw))
    if isinstance(raw, float | np.floating):
        return f"{float(raw):.4g}"
    return str(raw)


class ServiceProfile(BaseModel):
    """What a public service decides, for whom, and which attributes the audit protects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: Text
    decision: Text
    risk_tier: str
    id_column: str
    label: LabelSpec
    positive_decision_is_favourable: bool
    sensitive_attributes: list[SensitiveAttribute] = Field(min_length=1)
    contract: str | None = None
    # What the candidate's score means to a reader of an individual explanation.
    score_label: Text = Text(ko="점수", en="score")
    free_text: list[str] = Field(
        default_factory=list,
        description="Columns of free text about a person (a caseworker's note): personal data that is "
        "no model input; the audit drops them before anything is measured, so no record holds them.",
    )
    # The answers of `assay triage` (checks/triage.py); left out of the record's copy when absent.
    triage: TriageAnswers | None = Field(default=None, exclude_if=lambda v: v is None)

    @model_validator(mode="after")
    def _attributes_once(self) -> ServiceProfile:
        # Groups are keyed by attribute name, so a second entry would silently replace the first;
        # one column binned the same way twice is one attribute under two names.
        names: dict[str, int] = {}
        ways: dict[tuple[str, tuple[float, ...] | None], str] = {}
        for i, attr in enumerate(self.sensitive_attributes):
            if attr.name in names:
                raise ValueError(
                    f"sensitive_attributes.{i}.name: {attr.name!r} is listed twice "
                    f"(also sensitive_attributes.{names[attr.name]}); list each attribute once"
                )
            names[attr.name] = i
            way = (attr.column, tuple(attr.bins) if attr.bins is not None else None)
            if way in ways:
                raise ValueError(
                    f"sensitive_attributes.{i}.column: column {attr.column!r} is already sensitive "
                    f"attribute {ways[way]!r}, grouped the same way; list each attribute once"
                )
            ways[way] = attr.name
        return self

    @model_validator(mode="after")
    def _free_text_is_apart(self) -> ServiceProfile:
        roles = {self.id_column: "the id column", self.label.column: "the label"}
        roles.update({a.column: f"sensitive attribute {a.name!r}" for a in self.sensitive_attributes})
        for column in self.free_text:
            if column in roles:
                raise ValueError(f"free_text: {column!r} is {roles[column]}, not a free-text column")
        return self

    def sensitive_frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """Return one string column per sensitive attribute (binned where the profile says)."""
        out = {}
        for attr in self.sensitive_attributes:
            out[attr.name] = attr.groups(data[attr.column]).fillna(MISSING_GROUP).astype(str)
        return pd.DataFrame(out, index=data.index)

    def sensitive_columns(self) -> set[str]:
        """Return the data columns that carry a sensitive attribute."""
        return {a.column for a in self.sensitive_attributes}

    def attribute(self, name: str) -> SensitiveAttribute:
        """Return the sensitive attribute called `name`."""
        return next(a for a in self.sensitive_attributes if a.name == name)


class CheckSettings(BaseModel):
    """Statistical settings a policy pack fixes for the checks it relies on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    min_group_size: int = Field(30, ge=1)
    disclosure_min: int = Field(10, ge=1)
    n_boot: int = Field(1000, ge=50, le=100_000)
    explain_rows_per_cell: int = Field(30, ge=1)
    auc_boot_rows: int = Field(20_000, ge=1000)
    intersections: Literal["none", "pairs", "full"] = "pairs"
    significance: float = Field(0.05, gt=0.0, lt=0.5)
    calibration_bins: int = Field(10, ge=2, le=100)
    proxy_nmi: float = Field(0.05, gt=0.0, le=1.0)
    proxy_auc: float = Field(0.60, gt=0.5, le=1.0)
    flip_rows: int = Field(20_000, ge=100)
    # Explanations: a stratified draw (sensitive groups × decision) of `explain_rows` rows, at least
    # `explain_rows_per_cell` per stratum, doubled until every top-10 importance share is known to
    # ± `explain_tolerance` or `explain_row_budget` rows are explained.
    explain_rows: int = Field(2_000, ge=100)
    explain_row_budget: int = Field(40_000, ge=100)
    explain_tolerance: float = Field(0.003, gt=0.0, lt=0.5)
    explain_chunk_rows: int = Field(2_000, ge=50)
    # The draw also stops doubling when its next round would end after `explain_seconds`: the
    # record then says the time budget stopped it, with the precision reached.
    explain_seconds: float = Field(60.0, gt=0.0, allow_inf_nan=False)
    # The permutation explainer costs many model calls per row: its own, smaller budget.
    # One explained row costs about explain_max_evals × explain_background_rows model rows
    # (3,100 by default; bench/model_zoo.py: 8,055 rows of an MLP on Adult in 12 s).
    explain_permutation_rows: int = Field(8_000, ge=10)
    explain_background_rows: int = Field(50, ge=10)
    explain_max_evals: int = Field(64, ge=10)
    explain_examples: int = Field(10, ge=0, le=1000)
    explain_top_k: int = Field(3, ge=1, le=20)
    surrogate_rows: int = Field(50_000, ge=200)


@runtime_checkable
class ModelAccess(Protocol):
    """A candidate the audit can query: its input features, scores and native estimator."""

    features: list[str]

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        """Return the probability of the positive class for each row."""
        ...

    def native(self) -> Any:
        """Return the fitted estimator object behind the scores, or None for a black box."""
        ...


@dataclass(frozen=True)
class AuditContext:
    """Everything a check may read; a field is None when the audit does not have it."""

    profile: ServiceProfile
    data: pd.DataFrame
    settings: CheckSettings = field(default_factory=CheckSettings)
    seed: int = 0
    labels: np.ndarray | None = None
    scores: np.ndarray | None = None
    decisions: np.ndarray | None = None
    sensitive: pd.DataFrame | None = None
    model: ModelAccess | None = None
    contract: list[dict[str, Any]] | None = None
    threshold: float | None = None  # score at or above which the candidate decides positive
    features: list[str] | None = None  # the candidate's declared inputs (also without model access)
    declared: tuple[DeclaredLevel, ...] = ()  # the vendor's declared accuracy levels (candidate.yaml)
    feature_info: dict[str, FeatureInfo] = field(default_factory=dict)
    explain_ids: tuple[str, ...] = ()  # ids whose individual reasons the user asked for
    pseudonym_key: bytes | None = None  # keys the pseudonyms of explained rows; never published
    workers: int = 1  # local processes heavy checks may use
    chunk_map: Any = None  # runs chunks of heavy work elsewhere (e.g. a Dask client's map)

    def has(self, need: Need) -> bool:
        """Say whether the audit can supply `need`."""
        value = {
            Need.LABELS: self.labels,
            Need.SCORES: self.scores,
            Need.DECISIONS: self.decisions,
            Need.MODEL_ACCESS: self.model,
            Need.SENSITIVE: self.sensitive,
            Need.CONTRACT: self.contract,
        }[need]
        return value is not None
