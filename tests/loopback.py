"""A real HTTP server on a free loopback port, and misbehaviours to serve, for tests of vendor endpoints."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler], poll_interval: float = 0.01) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1 in a daemon thread; yield its base url; stop it afterwards."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def send_json(handler: BaseHTTPRequestHandler, body: bytes, status: int = 200) -> None:
    """Answer with a JSON body; a client that already hung up (a deadline passed) is no error."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def drip_headers(handler: BaseHTTPRequestHandler, interval: float = 1.0) -> None:
    """Read the request's body, then answer with headers sent one byte every `interval` s.

    Every read the client makes succeeds, so only a deadline on the whole request stops it before
    the headers end, ten minutes later.
    """
    length = int(handler.headers.get("Content-Length") or 0)
    handler.rfile.read(length)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"." * 600 + b"\r\n\r\n"
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for byte in head:
            handler.wfile.write(bytes([byte]))
            time.sleep(interval)
    handler.close_connection = True
