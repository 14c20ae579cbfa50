"""Pickle and joblib intake: refused before the file is opened unless the user trusts it."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from assay.checks.errors import AssayInputError
from assay.models.candidate import load_candidate

FEATURES = ["a", "b"]


class Payload:
    """What a hostile vendor ships: unpickling it creates `marker` (any code could run instead)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def dump(obj: Any, fmt: str) -> bytes:
    """Return `obj` serialised as a pickle or joblib file."""
    if fmt == "pickle":
        return pickle.dumps(obj)
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def write_candidate(folder: Path, fmt: str, content: bytes | None) -> Path:
    """Write `model.<fmt>` (unless `content` is None) and its candidate.yaml; return the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    if content is not None:
        (folder / f"model.{fmt}").write_bytes(content)
    body = {
        "id": "vendor-p",
        "vendor": "P",
        "model": "p",
        "version": "1",
        "format": fmt,
        "location": f"model.{fmt}",
        "input_features": FEATURES,
        "output": {"positive_class": 1, "score": "risk", "threshold": 0.5},
        "intended_use": "test",
        "training_data": "synthetic",
        "contact": "p@example.org",
    }
    path = folder / "candidate.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.mark.parametrize("fmt", ["pickle", "joblib"])
def test_untrusted_pickle_is_refused_and_its_code_never_runs(tmp_path, fmt) -> None:
    marker = tmp_path / "pwned"
    path = write_candidate(tmp_path / "vendor", fmt, dump(Payload(marker), fmt))

    with pytest.raises(AssayInputError) as info:
        load_candidate(path)
    message = str(info.value)
    assert message == (
        f"{path}: field 'format': a {fmt} file runs code when loaded; refusing it unless you pass "
        "--trust-pickle (better: ask the vendor for skops or ONNX)"
    )
    assert not marker.exists()

    # The payload is live: trusting the file runs it (and what it returns is no classifier).
    with pytest.raises(AssayInputError, match="no predict_proba"):
        load_candidate(path, trust_pickle=True)
    assert marker.exists()


def test_refusal_comes_before_the_file_is_looked_at(tmp_path) -> None:
    # No file at all: the answer is still the refusal, not "no such file".
    path = write_candidate(tmp_path, "pickle", None)
    with pytest.raises(AssayInputError, match="--trust-pickle"):
        load_candidate(path)


@pytest.mark.parametrize("fmt", ["pickle", "joblib"])
def test_trusted_pickle_loads_and_scores(tmp_path, fmt) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 2))
    labels = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=500) > 0).astype(int)
    frame = pd.DataFrame(x, columns=FEATURES)
    model = LogisticRegression().fit(frame, labels)
    content = dump(model, fmt)
    cand = load_candidate(write_candidate(tmp_path, fmt, content), trust_pickle=True)

    assert cand.pickle_trusted
    assert cand.sha256 == hashlib.sha256(content).hexdigest()
    assert cand.access.native() is not None
    expected = model.predict_proba(frame)[:, 1]
    assert np.array_equal(cand.access.predict_scores(frame), expected)


def test_trusted_garbage_is_one_line(tmp_path) -> None:
    path = write_candidate(tmp_path, "pickle", b"\x80\x05not really a pickle")
    with pytest.raises(AssayInputError, match=r"model\.pickle: cannot load the pickle file") as info:
        load_candidate(path, trust_pickle=True)
    assert "\n" not in str(info.value)
