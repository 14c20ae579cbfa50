"""The candidate.yaml manifest: what the Framework Act asks a vendor to document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay.checks.context import DeclaredLevel
from assay.checks.triage import Flops
from assay.models.endpoint import EndpointSpec


class OutputSpec(BaseModel):
    """What the candidate's output means: positive class, score meaning, decision threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    positive_class: int | str | bool = 1
    score: str = Field(min_length=1, description="what the score estimates")
    threshold: float = Field(ge=0.0, le=1.0, description="score at or above which the decision is positive")


class PredictionsSpec(BaseModel):
    """Columns of a predictions file: the id to join on and a score and/or a decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id_column: str
    score_column: str | None = None
    decision_column: str | None = None

    @model_validator(mode="after")
    def _score_or_decision(self) -> PredictionsSpec:
        if self.score_column is None and self.decision_column is None:
            raise ValueError("give 'score_column', 'decision_column' or both")
        return self


class OnnxSpec(BaseModel):
    """Where an ONNX model keeps its class probabilities, when the model itself does not say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    probability_output: str | None = Field(
        None, min_length=1, description="output holding the class probabilities (if the model has several)"
    )
    classes: list[int | str | bool] | None = Field(
        None, min_length=1, description="the class of each probability column, in column order"
    )


# Formats whose loading runs code the file contains: refused unless the user trusts the file.
CODE_FORMATS = frozenset({"pickle", "joblib"})


class CandidateManifest(BaseModel):
    """A vendor's description of one candidate model (candidate.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    vendor: str = Field(min_length=1)
    model: str = Field(min_length=1)
    version: str = Field(min_length=1)
    format: Literal["skops", "onnx", "pickle", "joblib", "predictions", "endpoint"]
    location: str | None = Field(
        None,
        min_length=1,
        description="model or predictions file inside the manifest's folder (symlinks resolved), "
        "relative to it",
    )
    input_features: list[str] = Field(default_factory=list)
    output: OutputSpec
    predictions: PredictionsSpec | None = None
    onnx: OnnxSpec | None = None
    endpoint: EndpointSpec | None = None
    intended_use: str = Field(min_length=1)
    training_data: str = Field(min_length=1, description="overview of the training data")
    contact: str = Field(min_length=1)
    # One of Decree 24(1)'s three criteria of the Framework Act's Art 32 duties; `assay triage` reads it.
    training_compute_flops: Flops | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="declared training compute in floating-point operations (e.g. 3.2e+24)",
    )
    # EU AI Act Art 13(3)(b)(ii), 15(3): the instructions for use declare the accuracy levels and
    # metrics; the audit tests them against its own measurement (performance.declared).
    declared_performance: list[DeclaredLevel] = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="the vendor's declared accuracy levels, e.g. [{metric: roc_auc, value: 0.85}]",
    )

    @model_validator(mode="after")
    def _declared_once(self) -> CandidateManifest:
        metrics = [d.metric for d in self.declared_performance]
        twice = sorted({m for m in metrics if metrics.count(m) > 1})
        if twice:
            raise ValueError(
                f"declared_performance: {twice[0]!r} is declared twice; declare each metric once"
            )
        return self

    @model_validator(mode="after")
    def _format_needs(self) -> CandidateManifest:
        if self.format != "predictions" and not self.input_features:
            raise ValueError(f"input_features: a {self.format} candidate must list its input features")
        if self.format == "predictions" and self.predictions is None:
            raise ValueError("a predictions candidate needs a 'predictions' section")
        if self.format == "endpoint" and self.endpoint is None:
            raise ValueError("endpoint: an endpoint candidate needs an 'endpoint' section (url, limits)")
        if self.format != "endpoint" and self.location is None:
            raise ValueError(f"location: a {self.format} candidate needs the file's 'location'")
        if self.endpoint is not None and self.format != "endpoint":
            raise ValueError(f"endpoint: an 'endpoint' section is for format endpoint, not {self.format}")
        if self.onnx is not None and self.format != "onnx":
            raise ValueError(f"onnx: an 'onnx' section is for format onnx, not {self.format}")
        return self
