"""Vendor endpoints: credentials go in headers (from the environment), never in the sealed url."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from loopback import send_json, serving
from pydantic import ValidationError

from assay.checks.errors import AssayInputError
from assay.models.candidate import load_candidate
from assay.models.endpoint import EndpointSpec

SECRET = "s3cret-value-9f2c"


class Echo(BaseHTTPRequestHandler):
    """Scores every row 0.5 and remembers each request's Authorization header."""

    seen: list[str | None]  # bound per test

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        n = len(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["rows"])
        self.seen.append(self.headers["Authorization"])
        body = json.dumps({"scores": [0.5] * n}).encode()
        send_json(self, body)


@pytest.fixture
def echo() -> Iterator[tuple[str, list[str | None]]]:
    seen: list[str | None] = []
    with serving(type("BoundEcho", (Echo,), {"seen": seen})) as base:
        yield f"{base}/score", seen


def write_manifest(folder: Path, endpoint: dict[str, object]) -> Path:
    """Write an endpoint candidate.yaml with the given endpoint section."""
    manifest = {
        "id": "vendor-x",
        "vendor": "X",
        "model": "m",
        "version": "1",
        "format": "endpoint",
        "input_features": ["x"],
        "output": {"positive_class": 1, "score": "risk", "threshold": 0.5},
        "endpoint": endpoint,
        "intended_use": "u",
        "training_data": "t",
        "contact": "c",
    }
    path = folder / "candidate.yaml"
    path.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (f"https://user:{SECRET}@vendor.example/score", "a user name or password before '@'"),
        (f"https://{SECRET}@vendor.example/score", "a user name or password before '@'"),
        (f"https://vendor.example/score?api_key={SECRET}", "the query parameter 'api_key'"),
        (f"https://vendor.example/score?v=2&token={SECRET}", "the query parameter 'token'"),
        (f"https://vendor.example/score?access_token={SECRET}", "the query parameter 'access_token'"),
        (f"https://vendor.example/score?key={SECRET}", "the query parameter 'key'"),
        (f"https://vendor.example/score?client_secret={SECRET}", "the query parameter 'client_secret'"),
        (f"https://vendor.example/score?password={SECRET}", "the query parameter 'password'"),
        (f"https://vendor.example/score?user=a&pass={SECRET}", "the query parameter 'pass'"),
        (f"https://vendor.example/score?sv=2022&sig={SECRET}", "the query parameter 'sig'"),
        (f"https://vendor.example/score?X-Amz-Signature={SECRET}", "the query parameter 'X-Amz-Signature'"),
        (f"https://vendor.example/score?subscription-key={SECRET}", "the query parameter 'subscription-key'"),
        (f"https://vendor.example/api/score?code={SECRET}", "the query parameter 'code'"),
    ],
)
def test_credentials_in_the_url_are_refused_naming_the_field(tmp_path: Path, url: str, where: str) -> None:
    path = write_manifest(tmp_path, {"url": url})
    with pytest.raises(AssayInputError) as exc:
        load_candidate(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: field 'endpoint.url': holds a credential ({where})"), message
    assert "'headers'" in message and "${VENDOR_TOKEN}" in message and "\n" not in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "url",
    [
        "https://vendor.example/score",
        "https://vendor.example/score?model=v2&batch=1",
        "https://vendor.example/score?zipcode=1&country_code=KR",
    ],
)
def test_urls_without_credentials_are_accepted(url: str) -> None:
    assert EndpointSpec(url=url).url == url


def test_header_values_are_read_from_the_environment(
    echo: tuple[str, list[str | None]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = echo
    monkeypatch.setenv("VENDOR_TOKEN", SECRET)
    path = write_manifest(tmp_path, {"url": url, "headers": {"Authorization": "Bearer ${VENDOR_TOKEN}"}})
    candidate = load_candidate(path)
    assert candidate.access.predict_scores(pd.DataFrame({"x": np.arange(3.0)})).tolist() == [0.5] * 3
    assert seen == [f"Bearer {SECRET}"]
    # What the sealed record is made of: the manifest, the intake summary and log, the fingerprint.
    sealed = json.dumps([candidate.manifest.model_dump(mode="json"), candidate.intake(), candidate.sha256])
    sealed += candidate.intake_log.to_jsonl().decode()
    assert SECRET not in sealed and "Authorization" not in sealed and "VENDOR_TOKEN" not in sealed
    assert SECRET not in repr(candidate.manifest)


def test_an_unset_environment_variable_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VENDOR_TOKEN", raising=False)
    path = write_manifest(
        tmp_path,
        {"url": "https://vendor.example/score", "headers": {"Authorization": "Bearer ${VENDOR_TOKEN}"}},
    )
    with pytest.raises(AssayInputError) as exc:
        load_candidate(path)
    assert str(exc.value) == (
        f"{path}: field 'endpoint.headers': header 'Authorization': "
        "the environment variable VENDOR_TOKEN is not set"
    )


def test_an_environment_value_that_breaks_the_header_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VENDOR_TOKEN", f"{SECRET}\r\nX-Evil: 1")
    with pytest.raises(ValidationError) as exc:
        EndpointSpec(url="https://vendor.example/score", headers={"Authorization": "Bearer ${VENDOR_TOKEN}"})
    assert "printable ASCII on one line" in str(exc.value) and SECRET not in str(exc.value)
