"""An httpx transport on which a request ends at its deadline, however slowly the server answers.

httpx's timeouts bound each phase and each socket read: a server sending its headers one byte a
second never lets a read time out, so a request could last hours. Here every connect, read and
write of the socket may wait only until the deadline of the request the current thread is making
(set with `deadline`), and past it raises httpx's own timeout exceptions.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

_current = threading.local()  # .at: the monotonic time by which this thread's request must end
_WRITE_PIECE = 64 * 1024  # one send of a large body could otherwise wait well past the deadline


@contextlib.contextmanager
def deadline(at: float) -> Iterator[None]:
    """Let the requests this thread makes inside wait on the network only until time.monotonic() `at`."""
    before = getattr(_current, "at", None)
    _current.at = at
    try:
        yield
    finally:
        _current.at = before


def deadline_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """Return httpx's transport (no proxies or .netrc from the environment) keeping `deadline`."""
    transport = httpx.HTTPTransport(limits=limits, trust_env=False)
    # httpx takes no network backend, but its httpcore pool does: wrap the one it made.
    pool = transport._pool
    pool._network_backend = _Backend(pool._network_backend)
    return transport


def _remaining(timeout: float | None, late: type[Exception]) -> float | None:
    """Return `timeout` shortened to the current request's deadline, or raise `late` if it passed."""
    at = getattr(_current, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise late("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A socket stream whose every wait ends at the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_PIECE):
            piece = buffer[start : start + _WRITE_PIECE]
            self._stream.write(piece, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        wait = _remaining(timeout, httpcore.ConnectTimeout)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Opens connections with httpcore's own backend and wraps them in deadline-keeping streams."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        wait = _remaining(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, wait, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        wait = _remaining(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, wait, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
