"""Vendor endpoints: timeout_s bounds a whole request and deadline_s all of an audit's requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import numpy as np
import pandas as pd
import pytest
from loopback import drip_headers, send_json, serving

from assay.models.endpoint import EndpointError, EndpointModel, EndpointSpec

# Far more than any deadline below needs, far less than the dripping server would take to finish.
GIVE_UP_S = 20


class Vendor(BaseHTTPRequestHandler):
    """A vendor that drips its headers (/drip) or answers correctly after half a second (/slow)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        if self.path == "/drip":
            drip_headers(self)
            return
        n = len(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["rows"])
        time.sleep(0.5)
        body = json.dumps({"scores": [0.5] * n}).encode()
        # The client hangs up on purpose when deadline_s cuts the request.
        send_json(self, body)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with serving(Vendor) as url:
        yield url


def rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.linspace(-1, 1, n)})


def model(url: str, **spec: Any) -> EndpointModel:
    return EndpointModel(EndpointSpec(url=url, backoff_s=0, **spec), ["x"], candidate="vendor-x")


def finishes(work: Callable[[], object]) -> BaseException | None:
    """Run `work` in a thread and return what it raised; fail if it has not returned in GIVE_UP_S."""
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            work()
            raised.append(None)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)  # a hung request must not hang pytest
    thread.start()
    thread.join(GIVE_UP_S)
    assert not thread.is_alive(), f"still waiting on the endpoint after {GIVE_UP_S} s"
    return raised[0]


def test_headers_dripped_a_byte_a_second_end_at_timeout_s(base: str) -> None:
    url = f"{base}/drip"
    m = model(url, timeout_s=2, retries=0)
    error = finishes(lambda: m.predict_scores(rows(5)))
    assert isinstance(error, EndpointError) and error.kind == "retries"
    assert str(error) == (
        f"{url}: batch 0 failed after 1 attempts (last: timed out after 2 s) (candidate vendor-x)"
    )
    assert [e.status for e in m.log.entries()] == ["timeout"]


def test_deadline_s_stops_retries_of_a_dripping_endpoint(base: str) -> None:
    url = f"{base}/drip"
    m = model(url, timeout_s=1, retries=10, deadline_s=2.5)
    error = finishes(lambda: m.predict_scores(rows(5)))
    assert isinstance(error, EndpointError) and error.kind == "deadline", error
    assert str(error) == (
        f"{url}: batch 0 stopped: the endpoint took all of deadline_s (2.5 s) for the audit's "
        "requests (candidate vendor-x)"
    )
    assert 2 <= len(m.log.entries()) <= 4  # not the eleven attempts retries allow


def test_deadline_s_counts_every_call_of_the_audit(base: str) -> None:
    url = f"{base}/slow"
    m = model(url, timeout_s=5, retries=3, deadline_s=1.3, batch_size=5, concurrency=1)
    assert m.predict_scores(rows(5)).tolist() == [0.5] * 5  # half a second
    assert m.predict_scores(rows(5)).tolist() == [0.5] * 5  # a second in all
    error = finishes(lambda: m.predict_scores(rows(10)))
    assert isinstance(error, EndpointError) and error.kind == "deadline", error
    assert "deadline_s (1.3 s)" in str(error)
    with pytest.raises(EndpointError, match=r"deadline_s \(1.3 s\) .* used up; nothing sent"):
        m.predict_scores(rows(5))
    assert len(m.log.entries()) == 3  # the cut request is logged, no retry, nothing after


def test_deadline_s_defaults_to_half_an_hour_and_is_positive() -> None:
    assert EndpointSpec(url="http://vendor.example/score").deadline_s == 1800
    with pytest.raises(ValueError, match="deadline_s"):
        EndpointSpec(url="http://vendor.example/score", deadline_s=0)
