"""The Candidate interface and its adapters: skops, ONNX, trusted pickles and predictions files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from assay.checks.context import ModelAccess
from assay.checks.errors import AssayInputError
from assay.data.loaders import beside, is_file, load_model, read_table, sha256_file
from assay.models.endpoint import EndpointModel, IntakeLog
from assay.models.manifest import CODE_FORMATS, CandidateManifest
from assay.models.onnx_model import load_onnx
from assay.models.trees import check_trees

# Beyond skops' own trusted list: scikit-learn's fitted-tree containers. They hold arrays only and
# run no code when loaded; anything else a file asks for is refused.
EXTRA_TRUSTED_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)


# Fewest evaluation rows on which predictions equal to the labels in every row are taken for a leak:
# a model right on 90% of cases gets 50 of 50 right with chance 0.9**50, about 0.5%. On fewer rows
# a perfect record may be luck.
MIN_ROWS_FOR_LEAK = 50


@dataclass(frozen=True)
class Outputs:
    """A candidate's outputs on the evaluation rows: scores (if any) and 0/1 decisions."""

    scores: np.ndarray | None
    decisions: np.ndarray


class EstimatorModel:
    """A scikit-learn-style classifier (from skops or a trusted pickle), queried like any ModelAccess."""

    def __init__(self, estimator: Any, features: list[str], positive_class: Any) -> None:
        self._estimator = estimator
        self.features = list(features)
        # Before anything scores: a malformed tree crashes scikit-learn's C code, not Python.
        check_trees(estimator, len(self.features))
        classes = [str(c) for c in getattr(estimator, "classes_", [])]
        if str(positive_class) not in classes:
            raise AssayInputError(
                f"the model's classes {classes} do not include the positive class {positive_class!r}"
            )
        self._column = classes.index(str(positive_class))
        fitted = getattr(estimator, "feature_names_in_", None)
        if fitted is not None:
            # Caught at intake, not as a scoring failure after the audit has started.
            mismatch = _feature_mismatch([str(f) for f in fitted], self.features)
            if mismatch:
                raise AssayInputError(mismatch)

    @property
    def positive_column(self) -> int:
        """Return the index of the positive class among the estimator's classes."""
        return self._column

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        """Return the probability of the positive class for each row."""
        return np.asarray(self._estimator.predict_proba(data[self.features])[:, self._column])

    def native(self) -> Any:
        """Return the fitted scikit-learn estimator."""
        return self._estimator


def _feature_mismatch(fitted: list[str], listed: list[str]) -> str | None:
    """Say how the manifest's input features differ from those the model was fitted on, if they do."""
    needed = [f for f in fitted if f not in listed]
    if needed:
        return f"the model was fitted on {needed[0]!r}, which the manifest's 'input_features' does not list"
    extra = [f for f in listed if f not in fitted]
    if extra:
        return f"the manifest's 'input_features' lists {extra[0]!r}, which the model was not fitted on"
    if fitted != listed:
        return f"the manifest's 'input_features' must follow the model's order: {', '.join(fitted)}"
    return None


def load_skops(path: Path, features: list[str], positive_class: Any) -> EstimatorModel:
    """Load a skops file, refusing any type outside skops' and Assay's trusted lists."""
    import skops.io as sio

    if not path.is_file():
        raise AssayInputError(f"{path}: no such model file")
    try:
        untrusted = set(sio.get_untrusted_types(file=path))
    except Exception as exc:
        raise AssayInputError(f"{path}: not a readable skops file ({type(exc).__name__})") from None
    refused = sorted(untrusted - EXTRA_TRUSTED_TYPES)
    if refused:
        raise AssayInputError(f"{path}: refusing untrusted types in the skops file: {', '.join(refused)}")
    try:
        estimator = sio.load(path, trusted=sorted(untrusted))
    except Exception as exc:
        raise AssayInputError(f"{path}: cannot load the skops file ({type(exc).__name__}: {exc})") from None
    if not hasattr(estimator, "predict_proba"):
        raise AssayInputError(f"{path}: the model has no predict_proba (need a probabilistic classifier)")
    try:
        return EstimatorModel(estimator, features, positive_class)
    except AssayInputError as exc:
        raise AssayInputError(f"{path}: {exc}") from None


def load_pickled(
    path: Path, raw: bytes, fmt: str, features: list[str], positive_class: Any
) -> EstimatorModel:
    """Unpickle a classifier the user trusts (this runs any code the file holds) and wrap it."""
    try:
        if fmt == "joblib":
            import joblib

            estimator = joblib.load(io.BytesIO(raw))
        else:
            estimator = pickle.loads(raw)
    except Exception as exc:
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise AssayInputError(
            f"{path}: cannot load the {fmt} file ({type(exc).__name__}: {detail})"
        ) from None
    if not hasattr(estimator, "predict_proba"):
        raise AssayInputError(f"{path}: the model has no predict_proba (need a probabilistic classifier)")
    try:
        return EstimatorModel(estimator, features, positive_class)
    except AssayInputError as exc:
        raise AssayInputError(f"{path}: {exc}") from None


@dataclass
class Candidate:
    """One vendor's candidate under audit: its manifest, fingerprint and a way to get outputs."""

    manifest: CandidateManifest
    manifest_path: Path
    artifact_path: Path
    sha256: str
    access: ModelAccess | None
    predictions: pd.DataFrame | None = None
    pickle_trusted: bool = False  # the user let a pickle/joblib file run its code when loaded
    intake_log: IntakeLog | None = None  # every request to a vendor endpoint, by hash
    determinism: dict[str, Any] | None = None  # an endpoint's answers to two identical requests
    coverage: dict[str, int] | None = None  # how a predictions file joined the evaluation rows

    def intake(self) -> dict[str, Any]:
        """Return what the record says about how the candidate was taken in."""
        info: dict[str, Any] = {"format": self.manifest.format, "sha256": self.sha256}
        if self.intake_log is not None and self.manifest.endpoint is not None:
            info["endpoint"] = self.manifest.endpoint.model_dump(mode="json")
            info["requests"] = self.intake_log.summary()
            info["determinism"] = self.determinism
        if self.coverage is not None:
            info["coverage"] = self.coverage
        return info

    def outputs(
        self, data: pd.DataFrame, id_column: str, data_path: Path, labels: np.ndarray | None = None
    ) -> Outputs:
        """Return the candidate's scores and decisions for the rows of `data`, in order.

        With the rows' 0/1 `labels`, a predictions file that merely restates them is refused.
        """
        threshold = self.manifest.output.threshold
        if self.access is not None:
            missing = [f for f in self.access.features if f not in data.columns]
            if missing:
                raise AssayInputError(
                    f"{data_path}: missing column {missing[0]!r} "
                    f"(an input feature of candidate {self.manifest.id})"
                )
            try:
                scores = self.access.predict_scores(data)
            except Exception as exc:
                raise AssayInputError(
                    f"{self.artifact_path}: the model failed to score {data_path} "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                ) from None
            return Outputs(scores, (scores >= threshold).astype(int))
        self._not_the_evaluation_file(data_path)
        outputs = self._joined(data, id_column, data_path)
        if labels is not None:
            self._not_the_labels(outputs, np.asarray(labels))
        return outputs

    def _not_the_evaluation_file(self, data_path: Path) -> None:
        """Refuse a predictions file that is the evaluation set itself (same path or same bytes)."""
        same = is_file(data_path) and (
            self.artifact_path.resolve() == data_path.resolve()
            # Equal hashes need equal sizes: the data is hashed only when the sizes match.
            or (
                self.artifact_path.stat().st_size == data_path.stat().st_size
                and sha256_file(data_path) == self.sha256
            )
        )
        if same:
            raise AssayInputError(
                f"{self.artifact_path}: this predictions file is the evaluation set {data_path} itself "
                "(the same bytes); predictions must be the candidate's outputs, not the agency's data"
            )

    def _not_the_labels(self, outputs: Outputs, labels: np.ndarray) -> None:
        """Refuse predictions that reproduce the evaluation labels in every row (label leakage)."""
        if len(labels) < MIN_ROWS_FOR_LEAK:
            return  # a perfect record on a handful of rows can be luck
        assert self.manifest.predictions is not None
        spec = self.manifest.predictions
        if outputs.scores is not None and np.array_equal(outputs.scores, labels):
            column = spec.score_column
        elif spec.decision_column is not None and np.array_equal(outputs.decisions, labels):
            column = spec.decision_column
        else:
            return
        raise AssayInputError(
            f"{self.artifact_path}: column {column!r} reproduces the evaluation labels exactly in all "
            f"{len(labels):,} rows (label leakage: no model predicts a holdout perfectly; these are "
            "its labels, not the candidate's predictions)"
        )

    def _joined(self, data: pd.DataFrame, id_column: str, data_path: Path) -> Outputs:
        """Join the predictions file to the evaluation rows on the id; every id must match once."""
        assert self.predictions is not None and self.manifest.predictions is not None
        spec = self.manifest.predictions
        preds = self.predictions
        ids = preds[spec.id_column].astype(str)
        if ids.duplicated().any():
            raise AssayInputError(
                f"{self.artifact_path}: column {spec.id_column!r} has "
                f"{int(ids.duplicated().sum())} duplicate ids"
            )
        wanted = data[id_column].astype(str)
        missing = int((~wanted.isin(ids)).sum())
        extra = int((~ids.isin(wanted)).sum())
        if missing or extra:
            raise AssayInputError(
                f"{self.artifact_path}: ids do not join with {data_path} on {id_column!r}: "
                f"{missing} evaluation rows have no prediction, {extra} predictions match no row"
            )
        self.coverage = {"evaluation_rows": len(wanted), "predictions": len(ids), "joined": len(wanted)}
        aligned = preds.set_index(ids).loc[wanted.to_numpy()]
        scores = None
        if spec.score_column is not None:
            scores = pd.to_numeric(aligned[spec.score_column], errors="coerce").to_numpy(float)
            bad = int((~np.isfinite(scores) | (scores < 0) | (scores > 1)).sum())
            if bad:
                raise AssayInputError(
                    f"{self.artifact_path}: column {spec.score_column!r} has {bad} values "
                    "that are not scores in [0, 1]"
                )
        if spec.decision_column is not None:
            raw = aligned[spec.decision_column].astype(str)
            allowed = {str(self.manifest.output.positive_class), "0", "1", "True", "False"}
            odd = sorted(set(raw) - allowed)
            if odd:
                raise AssayInputError(
                    f"{self.artifact_path}: column {spec.decision_column!r} has values "
                    f"{', '.join(odd[:5])} (expected 0/1 or the positive class)"
                )
            positive = {str(self.manifest.output.positive_class), "1", "True"}
            decisions = raw.isin(positive).astype(int).to_numpy()
        else:
            assert scores is not None
            decisions = (scores >= self.manifest.output.threshold).astype(int)
        return Outputs(scores, decisions)


def _inside(path: Path, location: str) -> Path:
    """Return the file `location` leads to, refusing one outside the folder of candidate.yaml.

    The vendor's package may not point into the agency's files around it: not by climbing out,
    not by an absolute path, not through a symbolic link (the path is resolved, links followed).
    """
    where = f"{path}: field 'location'"
    folder = beside(path.parent, ".", where)
    artifact = beside(folder, location, where)
    if artifact.is_relative_to(folder):
        return artifact
    if os.path.isabs(location):
        why = "an absolute path; give it relative to candidate.yaml"
    elif os.path.normpath(location).split(os.sep)[0] == os.pardir:
        why = "a relative location must stay inside it"
    else:
        why = f"through a symbolic link, to {artifact}"
    raise AssayInputError(f"{where}: {location!r} leaves the candidate's folder ({why})")


def load_candidate(path: Path, trust_pickle: bool = False) -> Candidate:
    """Read candidate.yaml and open what it points to, refusing anything unsafe or malformed."""
    manifest = load_model(path, CandidateManifest)
    if manifest.format in CODE_FORMATS and not trust_pickle:
        # Refused before the file is even opened: unpickling is running the vendor's code.
        raise AssayInputError(
            f"{path}: field 'format': a {manifest.format} file runs code when loaded; refusing it "
            "unless you pass --trust-pickle (better: ask the vendor for skops or ONNX)"
        )
    if manifest.format == "endpoint":
        assert manifest.endpoint is not None
        log = IntakeLog()
        model = EndpointModel(manifest.endpoint, manifest.input_features, log, candidate=manifest.id)
        # No file to hash: the fingerprint is the endpoint's contract as the manifest states it.
        contract = json.dumps(manifest.endpoint.model_dump(mode="json"), sort_keys=True).encode()
        return Candidate(manifest, path, path, hashlib.sha256(contract).hexdigest(), model, intake_log=log)
    assert manifest.location is not None
    artifact = _inside(path, manifest.location)
    if not is_file(artifact):
        folder = os.path.isdir(artifact)
        problem = f"{artifact} is a folder, not a file" if folder else f"no such file {artifact}"
        raise AssayInputError(f"{path}: field 'location': {problem}")
    features, positive = manifest.input_features, manifest.output.positive_class
    if manifest.format == "skops":
        access = load_skops(artifact, features, positive)
        return Candidate(manifest, path, artifact, sha256_file(artifact), access)
    if manifest.format == "onnx" or manifest.format in CODE_FORMATS:
        # Fingerprint the very bytes that are loaded, not the file as it is a moment later.
        raw = artifact.read_bytes()
        sha256 = hashlib.sha256(raw).hexdigest()
        if manifest.format == "onnx":
            return Candidate(manifest, path, artifact, sha256, load_onnx(artifact, raw, manifest, path))
        access = load_pickled(artifact, raw, manifest.format, features, positive)
        return Candidate(manifest, path, artifact, sha256, access, pickle_trusted=True)
    assert manifest.predictions is not None
    spec = manifest.predictions
    preds = read_table(artifact, text_columns=[spec.id_column])
    cols = [spec.id_column, spec.score_column, spec.decision_column]
    missing = [c for c in cols if c is not None and c not in preds.columns]
    if missing:
        raise AssayInputError(f"{artifact}: missing column {missing[0]!r} (named in {path.name})")
    return Candidate(manifest, path, artifact, sha256_file(artifact), None, preds)
