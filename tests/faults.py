"""A fault-injecting HTTP proxy for tests, placed in front of a real server (SeaweedFS).

The proxy forwards every request unchanged (headers included, so SigV4 signatures stay valid) and
injects faults by rule. A rule matches a request by method and by regular expressions on the path
and on the query string, and affects its first ``times`` matches (``times=None``: all of them)::

    proxy.inject(Fault("reset", method="GET", path=r"/bucket/key$", times=1))

Faults (``action``):

``reset``      close the connection with a TCP reset before answering (nothing reaches the server)
``status``     answer ``status`` (default 503 SlowDown) without forwarding the request
``lost``       forward the request (the server applies it), then reset instead of answering
``short``      forward, send the headers (full length) and only the first half of the body, then
               close the connection cleanly: a well-formed but short answer
``stall``      forward, send the headers and half the body, then send nothing until the client
               gives up or the proxy stops (tests the client's stall timeout)
``overwrite``  forward, then run ``hook()`` (which typically overwrites the object on the real
               server) before answering: every later request sees the new version
``no-ranges``  forward, and answer a ranged GET as a server without range support would: a 206
               becomes a 200 without ``Content-Range`` (its body unchanged; exact for a range
               that covers the whole object)

``proxy.log`` records ``(method, path, query, action)`` for every request, so a test can assert how
many attempts were made and which were faulted. No sleeps: a stall waits on an event that is set
when the proxy stops.
"""

from __future__ import annotations

import http.client
import http.server
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Fault", "FaultProxy"]

_ACTIONS = ("reset", "status", "lost", "short", "stall", "overwrite", "no-ranges")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"}


@dataclass
class Fault:
    """One injection rule; see the module docstring."""

    action: str
    method: str | None = None
    path: str | None = None
    query: str | None = None
    times: int | None = 1
    status: int = 503
    code: str = "SlowDown"
    hook: Callable[[], None] | None = None
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; expected one of {_ACTIONS}")

    def matches(self, method: str, path: str, query: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and re.search(self.path, path) is None:
            return False
        return self.query is None or re.search(self.query, query) is not None


class FaultProxy:
    """A threaded HTTP/1.1 proxy on 127.0.0.1 that forwards to ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.hostname is None or parsed.port is None:
            raise ValueError(f"upstream needs a host and a port: {upstream!r}")
        self.upstream = (parsed.hostname, parsed.port)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.stopped = threading.Event()
        self.log: list[tuple[str, str, str, str]] = []
        self._times: list[tuple[str, float]] = []
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """The URL clients use instead of the real server's."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(self, fault: Fault) -> Fault:
        """Add a rule (checked in the order added); returns it so a test can read ``hits``."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Drop every rule and the request log."""
        with self._lock:
            self._faults.clear()
            self.log.clear()
            self._times.clear()

    def requests(self, method: str | None = None, action: str | None = None) -> list[tuple[str, str, str]]:
        """Logged requests, optionally filtered by method and by the fault applied (``"pass"``: none)."""
        with self._lock:
            return [
                (m, p, q)
                for m, p, q, a in self.log
                if (method is None or m == method) and (action is None or a == action)
            ]

    def times(self, method: str | None = None) -> list[float]:
        """``time.monotonic()`` at the arrival of each logged request (optionally of one method)."""
        with self._lock:
            return [t for m, t in self._times if method is None or m == method]

    def _pick(self, method: str, path: str, query: str) -> Fault | None:
        with self._lock:
            chosen = next((f for f in self._faults if f.matches(method, path, query)), None)
            if chosen is not None:
                chosen.hits += 1
            self.log.append((method, path, query, chosen.action if chosen else "pass"))
            self._times.append((method, time.monotonic()))
            return chosen

    def stop(self) -> None:
        """Release stalled answers, stop serving and close the listening socket."""
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[_Handler], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), like a crashed middlebox."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.server.proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, response.reason, kept, data
        finally:
            conn.close()

    def _send(self, status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status, reason)
        for key, value in headers:
            if key.lower() != "content-length" or self.command == "HEAD":
                self.send_header(key, value)  # a HEAD answer's length is the object's, not its body's
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _handle(self) -> None:
        proxy = self.server.proxy
        split = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        fault = proxy._pick(self.command, urllib.parse.unquote(split.path), split.query)
        action = fault.action if fault else "pass"
        if action == "reset":
            return self._reset()
        if action == "status":
            assert fault is not None
            xml = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{fault.code}</Code>'
                f"<Message>injected by the fault proxy</Message></Error>"
            ).encode()
            return self._send(fault.status, "Injected", [("Content-Type", "application/xml")], xml)
        status, reason, headers, data = self._forward(body)
        if action == "lost":
            return self._reset()
        if action == "overwrite":
            assert fault is not None and fault.hook is not None
            fault.hook()
        if action == "no-ranges" and status == 206:
            status, reason = 200, "OK"
            headers = [(key, value) for key, value in headers if key.lower() != "content-range"]
        if action in ("short", "stall"):
            self.send_response_only(status, reason)
            for key, value in headers:
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if action == "stall":
                proxy.stopped.wait(120)
                return self._reset()
            # short: a clean close (FIN), so the client surely receives the half it was sent
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)
            return None
        self._send(status, reason, headers, data)

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_GET
