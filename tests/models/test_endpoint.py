"""Vendor HTTP endpoints: batching, order, retries, budget, size cap, validation and the intake log."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import pickle
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from loopback import serving
from pydantic import ValidationError

from assay.checks.context import ModelAccess
from assay.checks.errors import AssayInputError
from assay.models.endpoint import (
    EndpointError,
    EndpointModel,
    EndpointSpec,
    IntakeLog,
    check_determinism,
)

CAP = 20_000  # max_response_bytes in these tests


def logistic(x: float | None) -> float:
    """The vendor's scoring function: a logistic curve of column x (0.5 when x is missing)."""
    return 0.5 if x is None else 1.0 / (1.0 + math.exp(-x))


@dataclass
class Received:
    """What the test server saw: every request body by path, and attempts per distinct body."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    bodies: list[tuple[str, bytes]] = field(default_factory=list)
    seen: dict[bytes, int] = field(default_factory=dict)

    def add(self, path: str, body: bytes) -> int:
        with self.lock:
            self.bodies.append((path, body))
            self.seen[body] = self.seen.get(body, 0) + 1
            return self.seen[body]

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.bodies if p == path)


class Vendor(BaseHTTPRequestHandler):
    """A vendor endpoint whose behaviour is chosen by the URL path."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    received: Received

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        path = self.path.split("?")[0]
        attempt = self.received.add(path, body)
        rows = json.loads(body)["rows"]
        scores = [logistic(r["x"]) for r in rows]
        # The client hangs up on purpose after a timeout or at the size cap.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(path, attempt, scores)

    def _answer(self, path: str, attempt: int, scores: list[float]) -> None:
        if path == "/ok":
            time.sleep(random.random() * 0.005)  # finish batches out of order
            self._json(200, {"scores": scores})
        elif path == "/slow":
            time.sleep(0.5)
            self._json(200, {"scores": scores})
        elif path == "/flaky":
            self._json(500 if attempt == 1 else 200, {"scores": scores})
        elif path == "/down":
            self._json(503, {"error": "maintenance"})
        elif path == "/refuse":
            self._json(422, {"error": "unknown feature"})
        elif path == "/malformed":
            self._raw(200, b"<html>scores</html>")
        elif path == "/no-scores":
            self._json(200, {"probabilities": scores})
        elif path == "/short":
            self._json(200, {"scores": scores[:-1]})
        elif path == "/huge":
            self._json(200, {"scores": scores, "padding": "x" * (CAP * 2)})
        elif path == "/huge-stream":
            self._stream_forever()
        elif path == "/noisy":
            self._json(200, {"scores": [min(1.0, max(0.0, s + random.uniform(-0.01, 0.01))) for s in scores]})
        elif path == "/bad-range":
            self._json(200, {"scores": [1.5, *scores[1:]]})
        elif path == "/nan":
            self._raw(200, json.dumps({"scores": [*scores[:-1], float("nan")]}).encode())
        elif path == "/text-score":
            self._json(200, {"scores": ["high", *scores[1:]]})
        else:
            self._json(404, {"error": "no such path"})

    def _json(self, status: int, payload: object) -> None:
        self._raw(status, json.dumps(payload).encode())

    def _raw(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream_forever(self) -> None:
        # No Content-Length: the client can only stop by counting what it reads.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(b'{"scores": [')
        for _ in range(2_000):  # 128 MiB if nobody stops reading
            self.wfile.write(b"0.5, " * 13_107)


@dataclass
class Server:
    """A running test vendor: its base url and what it received."""

    base: str
    received: Received

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    """Start the vendor on a free loopback port; stop it after the test."""
    received = Received()
    handler = type("BoundVendor", (Vendor,), {"received": received})
    with serving(handler) as base:
        yield Server(base, received)


def rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Return n rows with the scored column x, another feature and a column the endpoint never sees."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(0, 2, n),
            "age": rng.integers(18, 90, n),
            "secret_id": [f"id-{i}" for i in range(n)],
        }
    )
    # A shuffled, non-default index: scores must follow row position, not index labels.
    frame.index = rng.permutation(n) + 1000
    return frame


def model(url: str, log: IntakeLog | None = None, **spec: object) -> EndpointModel:
    """Return an endpoint model with fast test settings."""
    settings: dict[str, object] = {
        "url": url,
        "batch_size": 10,
        "concurrency": 4,
        # Generous for answers expected to arrive (the machine may be busy); /slow sets its own.
        "timeout_s": 2.0,
        "retries": 2,
        "backoff_s": 0.01,
        "max_response_bytes": CAP,
    }
    settings.update(spec)
    return EndpointModel(EndpointSpec(**settings), ["x", "age"], log)


def test_ok_scores_equal_the_function_in_row_order(server: Server) -> None:
    data = rows(237)
    m = model(server.url("/ok"), batch_size=20, concurrency=4)
    scores = m.predict_scores(data)
    assert scores.tolist() == [logistic(x) for x in data["x"]]
    assert server.received.count("/ok") == 12  # ceil(237 / 20)
    assert isinstance(m, ModelAccess) and m.native() is None
    summary = m.log.summary()
    assert summary["requests"] == 12 and summary["retries"] == 0 and summary["failures"] == 0
    assert summary["rows_scored"] == 237
    assert summary["total_bytes"] == summary["bytes_sent"] + summary["bytes_received"] > 0
    assert [e.status for e in m.log.entries()] == [200] * 12
    assert sorted(e.batch for e in m.log.entries()) == list(range(12))


def test_only_features_are_sent_and_values_are_json_safe(server: Server) -> None:
    data = pd.DataFrame(
        {
            "x": [0.25, np.nan, -1.0],
            "age": pd.array([30, None, 41], dtype="Int64"),
            "flag": np.array([True, False, True]),
            "group": pd.Categorical(["a", None, "b"]),
            "when": pd.to_datetime(["2024-01-02", None, "2024-03-04"]),
            "secret_id": ["p1", "p2", "p3"],
        }
    )
    m = EndpointModel(EndpointSpec(url=server.url("/ok")), ["x", "age", "flag", "group", "when"])
    assert m.predict_scores(data).tolist() == [logistic(0.25), 0.5, logistic(-1.0)]
    (_, body), *_ = server.received.bodies
    assert json.loads(body)["rows"] == [
        {"x": 0.25, "age": 30, "flag": True, "group": "a", "when": "2024-01-02T00:00:00"},
        {"x": None, "age": None, "flag": False, "group": None, "when": None},
        {"x": -1.0, "age": 41, "flag": True, "group": "b", "when": "2024-03-04T00:00:00"},
    ]
    assert b"secret_id" not in body and b"p1" not in body


def test_bad_data_is_refused_before_anything_is_sent(server: Server) -> None:
    data = rows(30)
    data.loc[data.index[7], "x"] = np.inf
    with pytest.raises(AssayInputError, match=r"column 'x': 1 infinite values .* \(first at row 7\)"):
        model(server.url("/ok")).predict_scores(data)
    with pytest.raises(AssayInputError, match="no column 'age'"):
        model(server.url("/ok")).predict_scores(data[["x"]])
    assert server.received.bodies == []
    assert model(server.url("/ok")).predict_scores(data.iloc[:0]).shape == (0,)


def test_log_hashes_are_the_bytes_the_server_received(server: Server) -> None:
    m = model(server.url("/flaky"), batch_size=7)
    m.predict_scores(rows(50))
    sent = sorted(e.request_sha256 for e in m.log.entries())
    received = sorted(hashlib.sha256(body).hexdigest() for _, body in server.received.bodies)
    assert sent == received and len(sent) == 16  # 8 batches, each tried twice
    assert all(e.request_bytes > 0 for e in m.log.entries())


def test_flaky_endpoint_succeeds_through_retries_and_the_log_shows_them(server: Server) -> None:
    data = rows(45)
    m = model(server.url("/flaky"), batch_size=10, concurrency=3)
    assert m.predict_scores(data).tolist() == [logistic(x) for x in data["x"]]
    entries = m.log.entries()
    assert sorted((e.batch, e.attempt, e.status) for e in entries) == [
        (b, a, s) for b in range(5) for a, s in ((1, 500), (2, 200))
    ]
    assert m.log.summary()["retries"] == 5 and m.log.summary()["failures"] == 5
    assert m.log.summary()["rows_scored"] == 45
    assert server.received.count("/flaky") == 10 == m.requests_sent
    assert [e.seq for e in entries] == list(range(10))


def _one_line_naming(exc: pytest.ExceptionInfo[EndpointError], url: str) -> str:
    message = str(exc.value)
    assert "\n" not in message and url in message
    assert isinstance(exc.value, AssayInputError)
    return message


def test_down_endpoint_fails_after_retries_with_one_line(server: Server) -> None:
    url = server.url("/down")
    m = model(url, retries=3)
    with pytest.raises(EndpointError) as exc:
        m.predict_scores(rows(5))
    message = _one_line_naming(exc, url)
    assert message == f"{url}: batch 0 failed after 4 attempts (last: HTTP 503)"
    assert server.received.count("/down") == 4
    assert [e.attempt for e in m.log.entries()] == [1, 2, 3, 4]
    assert exc.value.kind == "retries"


def test_many_failing_batches_stop_early(server: Server) -> None:
    m = model(server.url("/down"), batch_size=1, concurrency=2, retries=1)
    with pytest.raises(EndpointError, match="failed after 2 attempts"):
        m.predict_scores(rows(100))
    # Two batches in flight when the first gave up; no others were started.
    assert server.received.count("/down") <= 2 * 2 + 2


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/slow", r"batch 0 failed after 2 attempts \(last: timed out after 0.2 s\)"),
        ("/refuse", r"batch 0 got HTTP 422; not retried"),
        ("/malformed", r"batch 0 response is not JSON \(JSONDecodeError: "),
        ("/no-scores", r"batch 0 response has no 'scores' list"),
        ("/short", r"batch 0 response has 4 scores for 5 rows"),
        ("/huge", r"batch 0 response exceeds max_response_bytes \(20000 bytes\)"),
        ("/huge-stream", r"batch 0 response exceeds max_response_bytes \(20000 bytes\)"),
        ("/bad-range", r"batch 0 response has 1 scores outside \[0, 1\] \(first at data row 0: 1.5\)"),
        ("/nan", r"batch 0 response has 1 scores that are not finite \(first at data row 4: nan\)"),
        (
            "/text-score",
            r"batch 0 response has 1 scores that are not numbers \(first at data row 0: \"high\"\)",
        ),
    ],
)
def test_failure_modes_raise_one_line_naming_the_url(server: Server, path: str, expected: str) -> None:
    url = server.url(path)
    m = model(url, retries=1, timeout_s=0.2)
    start = time.monotonic()
    with pytest.raises(EndpointError) as exc:
        m.predict_scores(rows(5))
    message = _one_line_naming(exc, url)
    assert message.startswith(f"{url}: ")
    assert re.search(expected, message), message
    assert time.monotonic() - start < 2
    retried = path == "/slow"
    assert server.received.count(path) == (2 if retried else 1)
    assert m.log.entries()[-1].status == {
        "/slow": "timeout",
        "/refuse": 422,
        "/huge": "too_large",
        "/huge-stream": "too_large",
    }.get(path, "malformed")


def test_unreachable_endpoint_is_a_connection_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/score"  # nothing listens there any more
    m = model(url, retries=2)
    with pytest.raises(EndpointError) as exc:
        m.predict_scores(rows(3))
    assert "failed after 3 attempts (last: connection failed: ConnectError" in _one_line_naming(exc, url)
    assert [e.status for e in m.log.entries()] == ["connection"] * 3


def test_budget_smaller_than_the_batches_fails_before_sending(server: Server) -> None:
    url = server.url("/ok")
    m = model(url, batch_size=10, max_requests=3)
    with pytest.raises(EndpointError) as exc:
        m.predict_scores(rows(100))
    message = _one_line_naming(exc, url)
    assert "request budget of 3 exhausted" in message
    assert server.received.count("/ok") == 0 and m.requests_sent == 0


def test_budget_counts_retries_and_is_checked_before_each_send(server: Server) -> None:
    url = server.url("/flaky")
    m = model(url, batch_size=10, concurrency=2, max_requests=3)
    with pytest.raises(EndpointError, match=r"request budget of 3 exhausted \(batch \d attempt 2 not sent\)"):
        m.predict_scores(rows(20))
    assert server.received.count("/flaky") == 3 == m.requests_sent
    # The budget is the model's for the whole audit: nothing more goes out afterwards.
    with pytest.raises(EndpointError, match="request budget of 3 exhausted"):
        m.predict_scores(rows(5))
    assert server.received.count("/flaky") == 3


def test_determinism_check(server: Server) -> None:
    data = rows(200)
    steady = model(server.url("/ok"), batch_size=100)
    assert check_determinism(steady, data) == (True, 0)
    first, second = steady.log.entries()
    assert first.request_sha256 == second.request_sha256 and first.call == 0 and second.call == 1
    noisy = model(server.url("/noisy"), batch_size=100)
    same, differ = check_determinism(noisy, data, rows=40)
    assert not same and 30 <= differ <= 40
    with pytest.raises(AssayInputError, match="rows must be at least 1"):
        check_determinism(steady, data, rows=0)


def test_to_jsonl_is_deterministic_and_holds_no_values_or_headers(server: Server) -> None:
    log = IntakeLog()
    m = model(server.url("/flaky"), log, headers={"Authorization": "Bearer s3cret-token"})
    data = rows(30)
    m.predict_scores(data)
    first = log.to_jsonl()
    assert first == log.to_jsonl()
    lines = [json.loads(line) for line in first.decode().splitlines()]
    assert len(lines) == 6
    assert list(lines[0]) == [
        "seq",
        "call",
        "batch",
        "rows",
        "attempt",
        "request_sha256",
        "request_bytes",
        "status",
        "response_sha256",
        "response_bytes",
        "seconds",
    ]
    assert b"s3cret" not in first and str(round(data["x"].iloc[0], 6)).encode() not in first
    assert "s3cret" not in repr(m.spec) and "headers" not in m.spec.model_dump()
    assert m.spec.headers["Authorization"].endswith("s3cret-token")


def test_headers_reach_the_server() -> None:
    seen: list[str | None] = []

    class Echo(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            n = len(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["rows"])
            seen.append(self.headers["Authorization"])
            data = json.dumps({"scores": [0.5] * n}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/score?model=v2"
        m = model(url, headers={"Authorization": "Bearer t"})
        assert m.predict_scores(rows(3)).tolist() == [0.5] * 3
        assert seen == ["Bearer t"]
        assert m.url.endswith("/score?…")  # messages do not show the query, whatever it holds
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    "bad",
    [
        {"url": "ftp://vendor.example/score"},
        {"url": "not a url"},
        {"url": "http://x/s", "batch_size": 0},
        {"url": "http://x/s", "concurrency": 33},
        {"url": "http://x/s", "retry": 3},
        {"url": "http://x/s", "headers": {"Authorization": "Bearer s3cret\r\nX-Evil: 1"}},
        {"url": "http://x/s", "headers": {"Bad Name": "v"}},
    ],
)
def test_spec_refuses_bad_settings(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as exc:
        EndpointSpec(**bad)
    assert all("s3cret" not in e["msg"] for e in exc.value.errors())


def test_endpoint_error_survives_pickling() -> None:
    error = EndpointError("http://vendor.example/score", "batch 3 got HTTP 404; not retried", "status", "v-x")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.kind == "status" and copy.url == error.url
    assert str(copy).endswith("not retried (candidate v-x)") and copy.candidate == "v-x"
