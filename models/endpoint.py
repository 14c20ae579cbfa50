"""Candidates that are only a vendor's HTTP scoring endpoint: batched, time-limited, retried, logged.

The protocol (JSON over HTTP/1.1, UTF-8):

    POST <url>
    Content-Type: application/json
    {"rows": [{"<feature>": <value>, ...}, ...]}

    200 OK
    {"scores": [<float>, ...]}

`rows` holds the candidate's input features in the order the manifest lists them; numpy and pandas
scalars are sent as plain JSON numbers, booleans and strings, timestamps as ISO 8601 strings, and
missing values (NaN, None, NA, NaT) as `null`. The answer's `scores` has one number per row, in the
same order, each in [0, 1]: the probability of the positive class. Any other field is ignored.

Rows go out in batches of `batch_size`, at most `concurrency` requests at a time. 5xx answers,
timeouts and connection errors are retried with exponential backoff; 4xx and 3xx answers, invalid
bodies and bodies over `max_response_bytes` stop the scoring at once. `timeout_s` bounds each request
from connecting to its last byte, and `deadline_s` all the time the audit spends waiting on the
endpoint, retries and backoff included; when it is used up the scoring stops. Every attempt counts
against `max_requests` and is written to an `IntakeLog` by the SHA-256 of the exact bytes sent and
received, never by the row values or the headers, so the record can prove what the vendor was asked
without holding personal data.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assay.checks.context import ModelAccess
from assay.checks.errors import AssayInputError
from assay.models.deadline import deadline, deadline_transport

MiB = 1024 * 1024
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Query parameters whose names (lowercased, letters and digits only) end so usually carry a secret;
# OAuth's `code` only as the whole name, so that `zipcode` or `countrycode` still pass.
_SECRET_PARAMETER = re.compile(
    r".*(key|token|secret|pass|password|passwd|pwd|sig|signature|auth|authorization|credential|"
    r"credentials|session|sessionid)|code"
)


class EndpointError(AssayInputError):
    """A vendor endpoint could not score the rows; the message names the url and what went wrong."""

    def __init__(self, url: str, problem: str, kind: str, candidate: str | None = None) -> None:
        whose = f" (candidate {candidate})" if candidate else ""
        super().__init__(_one_line(f"{url}: {problem}{whose}"))
        self.url = url
        self.problem = problem
        self.kind = kind  # budget, deadline, retries, status, too_large, malformed
        self.candidate = candidate

    def __reduce__(self) -> tuple[Any, ...]:
        # Task runners pickle errors between processes; the default would call __init__ with the message only.
        return (type(self), (self.url, self.problem, self.kind, self.candidate))


class EndpointSpec(BaseModel):
    """Where a vendor's scoring endpoint is and how hard Assay may call it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="http:// or https:// URL that accepts POSTed batches of rows")
    batch_size: int = Field(500, ge=1, le=10_000, description="rows per request")
    concurrency: int = Field(4, ge=1, le=32, description="requests in flight at most")
    timeout_s: float = Field(
        10.0, gt=0, le=600, description="seconds allowed for one request, from connecting to its last byte"
    )
    retries: int = Field(
        3, ge=0, le=10, description="further attempts after a 5xx, timeout or lost connection"
    )
    backoff_s: float = Field(0.5, ge=0, le=60, description="the n-th retry waits backoff_s × 2^(n-1)")
    max_requests: int = Field(
        2000, ge=1, description="every attempt the model may ever send, retries included"
    )
    deadline_s: float = Field(
        1800.0,
        gt=0,
        le=86_400,
        description="seconds the whole audit may spend waiting on the endpoint, retries and backoff included",
    )
    max_response_bytes: int = Field(8 * MiB, ge=1, description="largest response body accepted")
    # Credentials: kept out of repr and of model_dump so they never reach a log or the record.
    headers: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        exclude=True,
        description="sent with every request; ${NAME} in a value is read from the environment variable NAME",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parsed = httpx.URL(value)
        except Exception:
            raise ValueError("must be an http:// or https:// URL") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("must be an http:// or https:// URL")
        # The url is sealed in the record, where a secret could never be removed again.
        where = ""
        if parsed.userinfo:
            where = "a user name or password before '@'"
        else:
            secret = next((k for k, _ in parsed.params.multi_items() if _is_secret_name(k)), None)
            if secret is not None:
                where = f"the query parameter {secret!r}"
        if where:
            raise ValueError(
                f"holds a credential ({where}), which would be sealed in the audit record; send it in "
                "'headers' instead, taking its value from an environment variable, e.g. "
                "Authorization: 'Bearer ${VENDOR_TOKEN}'"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _plain_headers(cls, value: dict[str, str]) -> dict[str, str]:
        expanded = {}
        for name, text in value.items():
            if not _TOKEN.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            text = _expand_environment(name, text)
            # Never echo the value: it is usually a credential.
            if not _HEADER_VALUE.fullmatch(text):
                raise ValueError(f"header {name!r}: the value must be printable ASCII on one line")
            expanded[name] = text
        return expanded


class IntakeEntry(BaseModel):
    """One request attempt as the record keeps it: hashes and sizes, never row values or headers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(description="position in the log, in the order attempts finished")
    call: int = Field(description="which predict_scores call of the model sent it")
    batch: int = Field(description="batch index within that call")
    rows: int
    attempt: int = Field(description="1 for the first try of a batch, 2 for its first retry, ...")
    request_sha256: str
    request_bytes: int
    status: int | str = Field(description="HTTP status, or timeout / connection / too_large / malformed")
    response_sha256: str | None
    response_bytes: int
    seconds: float


class IntakeLog:
    """Thread-safe, append-only record of every request attempt made to an endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[IntakeEntry] = []
        self._calls = 0
        self._spans: dict[int, tuple[float, float]] = {}

    def begin_call(self) -> int:
        """Return the number of a new scoring call (0, 1, ...) to tag its attempts with."""
        with self._lock:
            self._calls += 1
            return self._calls - 1

    def record(
        self,
        *,
        call: int,
        batch: int,
        rows: int,
        attempt: int,
        request_sha256: str,
        request_bytes: int,
        status: int | str,
        response_sha256: str | None,
        response_bytes: int,
        started: float,
        ended: float,
    ) -> IntakeEntry:
        """Append one attempt (times from time.monotonic) and return its entry."""
        with self._lock:
            entry = IntakeEntry(
                seq=len(self._entries),
                call=call,
                batch=batch,
                rows=rows,
                attempt=attempt,
                request_sha256=request_sha256,
                request_bytes=request_bytes,
                status=status,
                response_sha256=response_sha256,
                response_bytes=response_bytes,
                seconds=round(ended - started, 6),
            )
            self._entries.append(entry)
            first, last = self._spans.get(call, (started, ended))
            self._spans[call] = (min(first, started), max(last, ended))
            return entry

    def entries(self) -> tuple[IntakeEntry, ...]:
        """Return every attempt so far, in log order."""
        with self._lock:
            return tuple(self._entries)

    def summary(self) -> dict[str, int | float]:
        """Return counts of requests, retries, failures, rows scored, bytes and wall seconds."""
        with self._lock:
            entries = list(self._entries)
            spans = list(self._spans.values())
        ok = [e for e in entries if _succeeded(e.status)]
        sent = sum(e.request_bytes for e in entries)
        received = sum(e.response_bytes for e in entries)
        return {
            "requests": len(entries),
            "retries": sum(1 for e in entries if e.attempt > 1),
            "failures": len(entries) - len(ok),
            "rows_scored": sum(e.rows for e in ok),
            "bytes_sent": sent,
            "bytes_received": received,
            "total_bytes": sent + received,
            # Per call, first send to last answer: idle time between calls is not the endpoint's.
            "wall_seconds": round(sum(end - start for start, end in spans), 6),
        }

    def to_jsonl(self) -> bytes:
        """Return the log as JSON lines, one attempt each, fields in a fixed order."""
        lines = [json.dumps(e.model_dump(), separators=(",", ":")) + "\n" for e in self.entries()]
        return "".join(lines).encode("utf-8")


@dataclass(frozen=True)
class _Answer:
    """What one attempt got back: a status or error kind, the body if read, and a reason."""

    status: int | str
    body: bytes | None
    size: int
    detail: str = ""


class EndpointModel:
    """A candidate scored by a vendor's HTTP endpoint, queried like any ModelAccess."""

    def __init__(
        self,
        spec: EndpointSpec,
        features: list[str],
        log: IntakeLog | None = None,
        candidate: str | None = None,
    ) -> None:
        if not features or len(set(features)) != len(features):
            raise AssayInputError(
                f"{_display(spec.url)}: input features must be a non-empty list of distinct names"
            )
        self.spec = spec
        self.features = list(features)
        self.log = log if log is not None else IntakeLog()
        self.url = _display(spec.url)
        self.candidate = candidate  # named in errors, beside the url
        self._lock = threading.Lock()
        self._sent = 0
        self._waited = 0.0  # seconds spent in scoring calls so far, against deadline_s
        headers = httpx.Headers(spec.headers)
        # The body is JSON and is hashed as received: ask for it uncompressed so the size cap counts
        # the bytes that are parsed (no decompression bomb) and the hash is of the plain answer.
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
        headers["Accept-Encoding"] = "identity"
        self._headers = headers

    @property
    def requests_sent(self) -> int:
        """Return how many requests this model has sent, retries included."""
        with self._lock:
            return self._sent

    def native(self) -> Any:
        """Return None: an endpoint has no estimator the audit can inspect."""
        return None

    def _error(self, problem: str, kind: str) -> EndpointError:
        """Return the error for a failed scoring, naming the url and the candidate."""
        return EndpointError(self.url, problem, kind, self.candidate)

    def _out_of_time(self, index: int) -> EndpointError:
        """Return the error for a batch stopped because deadline_s is used up."""
        return self._error(
            f"batch {index} stopped: the endpoint took all of deadline_s ({self.spec.deadline_s:g} s) "
            "for the audit's requests",
            "deadline",
        )

    def predict_scores(self, data: pd.DataFrame) -> np.ndarray:
        """Return the probability of the positive class for each row, in the rows' order."""
        frame = self._frame(data)
        n = len(frame)
        if n == 0:
            return np.empty(0, dtype=float)
        size = self.spec.batch_size
        starts = list(range(0, n, size))
        with self._lock:
            remaining = self.spec.max_requests - self._sent
            time_left = self.spec.deadline_s - self._waited
        if len(starts) > remaining:
            raise self._error(
                f"request budget of {self.spec.max_requests} exhausted: {n} rows need {len(starts)} "
                f"requests of {size} rows and {remaining} remain",
                "budget",
            )
        if time_left <= 0:
            raise self._error(
                f"deadline_s ({self.spec.deadline_s:g} s) for the audit's requests is used up; nothing sent",
                "deadline",
            )
        began = time.monotonic()
        try:
            return self._score(frame, starts, began + time_left)
        finally:
            with self._lock:
                self._waited += time.monotonic() - began

    def _score(self, frame: pd.DataFrame, starts: list[int], until: float) -> np.ndarray:
        """Score the batches starting at `starts` concurrently, all done by time.monotonic() `until`."""
        n = len(frame)
        size = self.spec.batch_size
        call = self.log.begin_call()
        scores = np.empty(n, dtype=float)
        stop = threading.Event()
        workers = min(self.spec.concurrency, len(starts))
        client = httpx.Client(
            headers=self._headers,
            timeout=httpx.Timeout(self.spec.timeout_s),
            # Environment proxies and .netrc credentials, and redirects elsewhere, are not the vendor's
            # contract: the audit talks to exactly the url in the manifest.
            transport=deadline_transport(
                httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
            ),
            trust_env=False,
            follow_redirects=False,
        )
        # Exits in reverse: the pool drains its in-flight attempts before the client closes.
        with client, ThreadPoolExecutor(workers, thread_name_prefix="assay-endpoint") as pool:
            futures = {
                pool.submit(
                    self._score_batch, client, call, i, start, frame.iloc[start : start + size], stop, until
                ): start
                for i, start in enumerate(starts)
            }
            try:
                for future in as_completed(futures):
                    batch = future.result()
                    start = futures[future]
                    scores[start : start + len(batch)] = batch
            except BaseException:
                stop.set()
                for future in futures:
                    future.cancel()
                raise
        return scores

    def _frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """Return the feature columns, refusing missing columns and infinities JSON cannot carry."""
        missing = [f for f in self.features if f not in data.columns]
        if missing:
            raise AssayInputError(
                f"{self.url}: the data has no column {missing[0]!r} (an input feature of the endpoint)"
            )
        frame = data[self.features]
        for name in self.features:
            column = frame[name]
            if pd.api.types.is_float_dtype(column.dtype):
                values = column.to_numpy(dtype=float, na_value=np.nan)
                bad = np.flatnonzero(np.isinf(values))
                if bad.size:
                    raise AssayInputError(
                        f"column {name!r}: {bad.size} infinite values cannot be sent to {self.url} "
                        f"(first at row {int(bad[0])})"
                    )
        return frame

    def _score_batch(
        self,
        client: httpx.Client,
        call: int,
        index: int,
        start: int,
        frame: pd.DataFrame,
        stop: threading.Event,
        until: float,
    ) -> np.ndarray | None:
        """Send one batch until it is scored, retrying what may pass on a second try, until `until`."""
        body = _request_body(frame, self.features, start, self.url)
        digest = hashlib.sha256(body).hexdigest()
        attempts = self.spec.retries + 1
        last = ""
        for attempt in range(1, attempts + 1):
            if stop.is_set():
                return None
            if time.monotonic() >= until:
                raise self._out_of_time(index)
            self._reserve(index, attempt)
            started = time.monotonic()
            answer = self._send(client, body, min(started + self.spec.timeout_s, until))
            status: int | str = answer.status
            scores = None
            detail = answer.detail
            if isinstance(status, int) and _succeeded(status):
                assert answer.body is not None
                scores, detail = _parse_scores(answer.body, len(frame), start)
                if scores is None:
                    status = "malformed"
            self.log.record(
                call=call,
                batch=index,
                rows=len(frame),
                attempt=attempt,
                request_sha256=digest,
                request_bytes=len(body),
                status=status,
                response_sha256=None if answer.body is None else hashlib.sha256(answer.body).hexdigest(),
                response_bytes=answer.size,
                started=started,
                ended=time.monotonic(),
            )
            if scores is not None:
                return scores
            if status in ("malformed", "too_large"):
                raise self._error(f"batch {index} {detail}", str(status))
            if isinstance(status, int) and status < 500:
                why = " (redirects are not followed)" if 300 <= status < 400 else ""
                raise self._error(f"batch {index} got HTTP {status}{why}; not retried", "status")
            if status == "timeout" and time.monotonic() >= until:
                raise self._out_of_time(index)
            last = f"HTTP {status}" if isinstance(status, int) else detail
            if attempt < attempts:
                backoff = self.spec.backoff_s * 2 ** (attempt - 1)
                if stop.wait(max(0.0, min(backoff, until - time.monotonic()))):
                    return None
        raise self._error(f"batch {index} failed after {attempts} attempts (last: {last})", "retries")

    def _reserve(self, index: int, attempt: int) -> None:
        """Count one request against the budget before it is sent, or refuse to send it."""
        with self._lock:
            if self._sent >= self.spec.max_requests:
                raise self._error(
                    f"request budget of {self.spec.max_requests} exhausted "
                    f"(batch {index} attempt {attempt} not sent)",
                    "budget",
                )
            self._sent += 1

    def _send(self, client: httpx.Client, body: bytes, until: float) -> _Answer:
        """POST one body and read the answer by monotonic time `until`, capped; network failures return."""
        cap = self.spec.max_response_bytes
        try:
            with deadline(until), client.stream("POST", self.spec.url, content=body) as response:
                status = response.status_code
                ok = _succeeded(status)
                declared = response.headers.get("Content-Length", "")
                if ok and declared.isdigit() and int(declared) > cap:
                    return _Answer("too_large", None, 0, _too_large(cap))
                encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_raw():
                    size += len(chunk)
                    if size > cap:
                        # An error page too big to keep still tells its status; an answer does not.
                        if ok:
                            return _Answer("too_large", None, size, _too_large(cap))
                        return _Answer(status, None, size)
                    chunks.append(chunk)
                if ok and encoding not in ("", "identity"):
                    return _Answer(
                        "malformed",
                        b"".join(chunks),
                        size,
                        f"response is compressed ({encoding}), not plain JSON",
                    )
                return _Answer(status, b"".join(chunks), size)
        except httpx.TimeoutException:
            return _Answer("timeout", None, 0, f"timed out after {self.spec.timeout_s:g} s")
        except httpx.TransportError as exc:
            return _Answer("connection", None, 0, f"connection failed: {type(exc).__name__}: {exc}")


def check_determinism(
    model: ModelAccess, data: pd.DataFrame, rows: int = 50, seed: int = 0
) -> tuple[bool, int]:
    """Say whether scoring the same seeded sample twice gives identical scores, and how many differ."""
    if rows < 1:
        raise AssayInputError(f"check_determinism: rows must be at least 1 (got {rows})")
    if len(data) == 0:
        raise AssayInputError("check_determinism: the data has no rows to sample")
    sample = data.sample(n=min(rows, len(data)), random_state=seed)
    first = np.asarray(model.predict_scores(sample), dtype=float)
    second = np.asarray(model.predict_scores(sample), dtype=float)
    same = (first == second) | (np.isnan(first) & np.isnan(second))
    differ = int((~same).sum())
    return differ == 0, differ


def _request_body(frame: pd.DataFrame, features: list[str], start: int, url: str) -> bytes:
    """Return the exact JSON bytes for a batch: features in manifest order, compact, no NaN."""
    columns = [_json_column(frame[name], name, start, url) for name in features]
    rows = [dict(zip(features, values, strict=True)) for values in zip(*columns, strict=True)]
    return json.dumps({"rows": rows}, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _json_column(column: pd.Series, name: str, start: int, url: str) -> list[Any]:
    """Return a column's values as JSON-ready Python objects (missing values as None)."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return column.to_numpy().tolist()
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = column.to_numpy()
        out = values.tolist()
        for i in np.flatnonzero(np.isnan(values)):
            out[i] = None
        return out
    out = []
    for i, value in enumerate(column.to_numpy(dtype=object)):
        try:
            out.append(_json_value(value))
        except ValueError as exc:
            raise AssayInputError(
                f"column {name!r} row {start + i}: {exc}, cannot be sent to {url}"
            ) from None
    return out


def _json_value(value: Any) -> Any:
    """Return one value as a JSON-ready Python object."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isinf(number):
            raise ValueError("an infinite value")
        return number
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    raise ValueError(f"a {type(value).__name__} value")


def _parse_scores(body: bytes, n: int, start: int) -> tuple[np.ndarray | None, str]:
    """Return the scores of a 2xx answer, or None and what is wrong with it."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return None, f"response is not JSON ({type(exc).__name__}: {exc})"
    scores = payload.get("scores") if isinstance(payload, dict) else None
    if not isinstance(scores, list):
        return None, "response has no 'scores' list"
    if len(scores) != n:
        return None, f"response has {len(scores)} scores for {n} rows"
    odd = [i for i, v in enumerate(scores) if isinstance(v, bool) or not isinstance(v, int | float)]
    if odd:
        return None, (
            f"response has {len(odd)} scores that are not numbers "
            f"(first at data row {start + odd[0]}: {json.dumps(scores[odd[0]])[:40]})"
        )
    values = np.array([_to_float(v) for v in scores], dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        return None, (
            f"response has {bad.size} scores that are not finite "
            f"(first at data row {start + int(bad[0])}: {values[bad[0]]})"
        )
    bad = np.flatnonzero((values < 0) | (values > 1))
    if bad.size:
        return None, (
            f"response has {bad.size} scores outside [0, 1] "
            f"(first at data row {start + int(bad[0])}: {values[bad[0]]:g})"
        )
    return values, ""


def _to_float(value: int | float) -> float:
    """Return a JSON number as a float; integers too big for one become infinity."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _succeeded(status: int | str) -> bool:
    """Say whether a logged status is an accepted answer."""
    return isinstance(status, int) and 200 <= status < 300


def _too_large(cap: int) -> str:
    """Return the reason for an answer over the size cap."""
    return f"response exceeds max_response_bytes ({cap} bytes)"


def _display(url: str) -> str:
    """Return the url as messages show it: without user info or query, which may hold secrets."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{parts.path}{query}"


def _is_secret_name(name: str) -> bool:
    """Say whether a query parameter's name is one that usually carries a credential."""
    return bool(_SECRET_PARAMETER.fullmatch(re.sub(r"[^a-z0-9]", "", name.lower())))


def _expand_environment(header: str, text: str) -> str:
    """Return a header value with each ${NAME} replaced by the environment variable NAME."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ValueError(f"header {header!r}: the environment variable {name} is not set")
        return os.environ[name]

    return _ENV_REFERENCE.sub(value, text)


def _one_line(text: str) -> str:
    """Return text folded onto one line."""
    return " ".join(text.split())
