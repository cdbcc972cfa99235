"""Capturing receivers on loopback: what a sink's tests send to instead of the real service.

:class:`HTTPReceiver` records every request and answers from a script of
:class:`Reply` objects (``503, 503, 200``; ``429`` with ``Retry-After``; a reply that
stalls until the client gives up), so a test can drive every outcome a sink must
classify without a network. :class:`TCPReceiver` records the bytes a socket sink
writes. Both bind an ephemeral port on 127.0.0.1, run on their own threads, and are
context managers so nothing outlives the test.
"""

from __future__ import annotations

import gzip
import json
import socket
import socketserver
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping, Self

__all__ = ["Reply", "CapturedRequest", "HTTPReceiver", "TCPReceiver"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    :ivar status: HTTP status code.
    :ivar body: bytes, text, or a JSON-serialisable value (sent as JSON).
    :ivar headers: extra response headers, e.g. ``{"Retry-After": "7"}``.
    :ivar stall: hold the request open (no answer) until :meth:`HTTPReceiver.release`
        or ``stall_s`` passes, then answer; this is how a client timeout is provoked.
    :ivar stall_s: the longest a stalled request is held.
    :ivar echo: answer with the request's own body (peers that quote what they refused).
    """

    status: int = 200
    body: Any = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    stall: bool = False
    stall_s: float = 10.0
    echo: bool = False

    def encoded(self, request_body: bytes = b"") -> tuple[bytes, str]:
        if self.echo:
            return request_body, "application/json"
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain; charset=utf-8"
        return json.dumps(self.body).encode(), "application/json"


@dataclass(frozen=True)
class CapturedRequest:
    """A request as the receiver saw it; ``body`` is decompressed when it was gzip/deflate."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    raw_body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup."""
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return default

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """Stay quiet: tests read :attr:`HTTPReceiver.requests`, not stderr."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        raw = self._read_body()
        encoding = self.headers.get("Content-Encoding", "").lower()
        body = raw
        try:
            if encoding == "gzip":
                body = gzip.decompress(raw)
            elif encoding == "deflate":
                body = zlib.decompress(raw)
        except (OSError, zlib.error):
            body = raw
        reply = self.server.owner._record(CapturedRequest(self.command, self.path, dict(self.headers.items()), body, raw))
        if reply.stall:
            self.server.owner._released.wait(reply.stall_s)
        data, ctype = reply.encoded(body)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:  # the client gave up (that is what a stall is for)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "HTTPReceiver"


class _ServedReceiver:
    """A socketserver on an ephemeral loopback port, served by its own thread.

    Subclasses set ``_server_class``, ``_handler`` and ``_thread_name``, and
    ``_stopping`` (an Event handlers watch so that stalled or looping ones end).
    """

    _server_class: type[socketserver.BaseServer]
    _handler: type[socketserver.BaseRequestHandler]
    _thread_name: str
    _stopping: threading.Event

    def __init__(self, host: str) -> None:
        self.host = host
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        server = self._server_class((self.host, 0), self._handler)
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self._thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release waiting handlers, stop serving and close the socket (idempotent)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the receiver first"
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class HTTPReceiver(_ServedReceiver):
    """A loopback HTTP server that records requests and answers from a script.

    ``script(*replies)`` queues answers used in order; once the queue is empty every
    request gets ``default`` (``200`` unless set with :meth:`reply_always`).
    """

    _server_class = _Server
    _handler = _Handler
    _thread_name = "http-receiver"

    def __init__(self, host: str = "127.0.0.1", default: Reply | None = None) -> None:
        super().__init__(host)
        self._default = default or Reply(200, {"status": "ok"})
        self._queue: deque[Reply] = deque()
        self._requests: list[CapturedRequest] = []
        self._lock = threading.Condition()
        self._released = threading.Event()
        self._stopping = self._released

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT`` (append any path)."""
        return f"http://{self.address}"

    # ------------------------------------------------------------ scripting
    def script(self, *replies: Reply | int) -> None:
        """Queue answers for the next requests; a bare int is ``Reply(status)``."""
        with self._lock:
            self._queue.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def reply_always(self, reply: Reply | int) -> None:
        """Answer every request not covered by the script with ``reply``."""
        with self._lock:
            self._default = reply if isinstance(reply, Reply) else Reply(reply)

    def release(self) -> None:
        """Let stalled requests answer now."""
        self._released.set()

    def reset(self) -> None:
        """Forget requests and script, answer 200 again, re-arm stalls."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._default = Reply(200, {"status": "ok"})
            self._released.clear()

    def _record(self, request: CapturedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            reply = self._queue.popleft() if self._queue else self._default
            self._lock.notify_all()
            return reply

    # ------------------------------------------------------------ reading
    @property
    def requests(self) -> list[CapturedRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for_requests(self, n: int = 1, timeout: float = 10.0) -> list[CapturedRequest]:
        """Block until at least ``n`` requests arrived; raise AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} requests at {self.url}, got {len(self._requests)} in {timeout}s")
                self._lock.wait(left)
            return list(self._requests)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: "_TCPServer"

    def handle(self) -> None:
        self.request.settimeout(0.2)
        while not self.server.owner._closed.is_set():
            try:
                chunk = self.request.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            if not chunk:
                return
            self.server.owner._add(chunk)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "TCPReceiver"


class TCPReceiver(_ServedReceiver):
    """A loopback TCP server that records every byte received (all connections)."""

    _server_class = _TCPServer
    _handler = _TCPHandler
    _thread_name = "tcp-receiver"

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self._data = bytearray()
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self._stopping = self._closed

    def _add(self, chunk: bytes) -> None:
        with self._cond:
            self._data.extend(chunk)
            self._cond.notify_all()

    @property
    def data(self) -> bytes:
        with self._cond:
            return bytes(self._data)

    def wait_for_bytes(self, n: int = 1, timeout: float = 10.0) -> bytes:
        """Block until at least ``n`` bytes arrived; raise AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._data) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} bytes at {self.address}, got {len(self._data)} in {timeout}s")
                self._cond.wait(left)
            return bytes(self._data)
