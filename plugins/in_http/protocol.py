"""A small HTTP/1.1 server protocol on asyncio: keep-alive, pipelining, chunked bodies, limits.

Framing (request line, headers, ``Content-Length``, chunked bodies) is parsed by
``httptools``, the binding of Node's llhttp that uvicorn uses, in its strict mode:
two ``Content-Length`` headers, ``Content-Length`` with ``Transfer-Encoding``, chunk
sizes that are not plain hex (``0x1e``, ``+2a``, ``-5``), bare LF line ends and
obsolete line folding are errors, answered 400 and followed by closing the
connection (RFC 9112 §6.3, §11.2): a proxy in front that reads the framing
differently cannot smuggle a second request past us. On top of it this module adds
what llhttp leaves to the server: a ``Host`` header is required of HTTP/1.1
(RFC 9112 §3.2), the request head may not exceed :data:`MAX_HEAD_BYTES` however it
arrives, and siemrelay's deadlines and limits.

Deadlines: a connection must complete each request within ``read_timeout_s`` of its
first byte, and a new connection its first request within ``read_timeout_s`` of the
accept (an idle socket is closed, it does not hold a slot for ``idle_timeout_s``); a
keep-alive connection between requests is closed after ``idle_timeout_s``. Limits:
``max_connections`` in all (503) and ``max_connections_per_client`` per peer address
(429), both refused at once; a body over the limit is refused (413) from its headers,
before it is read: with ``Expect: 100-continue`` the client never even sends it.

The application is two callables: ``precheck(head)`` decides from the request line
and headers alone (404, 405, 413, 415, 401 for header-only auth), and
``handle(request)`` is awaited for a complete request. Requests on one connection
are answered one at a time, in order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Awaitable, Callable

import httptools
import orjson

__all__ = ["Request", "Response", "HttpProtocol", "ServerState", "json_response", "MAX_HEAD_BYTES"]

MAX_HEAD_BYTES = 32 * 1024
LINGER_S = 2.0  # how long a refused client's remaining input is drained before the socket closes
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required", 413: "Content Too Large",
           415: "Unsupported Media Type", 429: "Too Many Requests", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
           505: "HTTP Version Not Supported"}


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names (framing headers are unique: the parser refuses duplicates)
    peer: str
    body: bytes = b""
    keep_alive: bool = True
    content_length: int | None = None
    chunked: bool = False


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None, close: bool = False) -> Response:
    return Response(status, orjson.dumps(payload) + b"\n", headers or {}, close)


class ServerState:
    """What every connection of one listener shares: limits, the app, counters."""

    def __init__(self, precheck: Callable[[Request], Response | None], handle: Callable[[Request], Awaitable[Response]],
                 *, max_body: int, max_connections: int, read_timeout: float, idle_timeout: float,
                 on_refusal: Callable[[Request | None, str, int, str], None], max_per_client: int = 64) -> None:
        self.precheck = precheck
        self.handle = handle
        self.max_body = max_body
        self.max_connections = max_connections
        self.max_per_client = max_per_client
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.on_refusal = on_refusal
        self.connections: set["HttpProtocol"] = set()
        self.per_client: dict[str, int] = {}  # open connections by peer address
        self.tasks: set[asyncio.Task[None]] = set()  # requests being handled (awaited at shutdown)
        self._date = ""
        self._date_at = 0.0

    def date(self) -> str:
        now = time.time()
        if now - self._date_at >= 1.0:
            self._date, self._date_at = formatdate(now, usegmt=True), now
        return self._date


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal is already queued."""


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection; requests are handled one at a time, in order."""

    def __init__(self, state: ServerState) -> None:
        self.s = state
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Request | Response] = deque()  # complete requests and refusals, in arrival order
        self.req: Request | None = None  # head parsed, body being read
        self.url = b""
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.in_body = False  # between headers complete and message complete
        self.head_bytes = 0  # bytes fed while the current head is incomplete
        self.heads_seen = 0  # heads completed on this connection
        self.started = False  # some byte of the current request has arrived
        self.continue_due = False  # the request being read waits for 100 Continue
        self.busy = False
        self.closing = False
        self.done = False  # a refusal ends this connection: nothing more is parsed
        self.counted = False
        self.served = 0  # requests answered on this connection
        self.timer: asyncio.TimerHandle | None = None
        self.paused = False

    # ----------------------------------------------------------------- connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else "?"
        if len(self.s.connections) >= self.s.max_connections:
            self.s.on_refusal(None, self.peer, 503, "max_connections reached")
            self._send(json_response(503, {"error": "too many connections"}, {"Retry-After": "1"}, close=True))
            return
        if self.s.per_client.get(self.peer, 0) >= self.s.max_per_client:
            self.s.on_refusal(None, self.peer, 429, "max_connections_per_client reached")
            self._send(json_response(429, {"error": "too many connections from this address"}, {"Retry-After": "1"},
                                     close=True))
            return
        self.counted = True
        self.s.per_client[self.peer] = self.s.per_client.get(self.peer, 0) + 1
        self.s.connections.add(self)
        self._arm(self.s.read_timeout)  # the first request must come within read_timeout_s, not idle_timeout_s

    def connection_lost(self, exc: Exception | None) -> None:
        self.s.connections.discard(self)
        if self.counted:
            self.counted = False
            left = self.s.per_client.get(self.peer, 1) - 1
            if left > 0:
                self.s.per_client[self.peer] = left
            else:
                self.s.per_client.pop(self.peer, None)
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self.closing or self.done:
            return
        if not self.started and not self.in_body:
            self.started = True
            if not self.busy and not self.queue:
                self._arm(self.s.read_timeout)
        self._feed(data)
        self._next()
        if self.queue and not self.paused and not self.closing:
            self.paused = True  # one request at a time: let TCP push back on a pipelining client
            self.transport.pause_reading()  # type: ignore[union-attr]

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    # ----------------------------------------------------------------- timers
    def _arm(self, delay: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(delay, self._timeout)

    def _timeout(self) -> None:
        self.timer = None
        if self.busy or self.closing or self.queue:
            return
        if not self.started:
            if not self.served:  # connected and never sent a byte: it holds a slot for nothing
                self.s.on_refusal(None, self.peer, 408, "no request within read_timeout_s of connecting")
            self.close()
            return
        self.s.on_refusal(self.req, self.peer, 408, "request not received in time (read_timeout_s)")
        self._send(json_response(408, {"error": "request timeout"}, close=True))

    # ----------------------------------------------------------------- parsing
    def _feed(self, data: bytes) -> None:
        """Give ``data`` to the parser in pieces, so that no head grows past MAX_HEAD_BYTES unseen.

        llhttp has no size limit of its own. In a head, at most the room left is fed at
        once; a ``Content-Length`` body is fed exactly, a chunked one by MAX_HEAD_BYTES, so
        a head that follows a body in the same read is counted too (within one piece).
        """
        view = memoryview(data)
        while view and not self.done:
            req = self.req
            if self.in_body and req is not None and req.content_length is not None:
                size = max(1, req.content_length - len(self.body))
            elif self.in_body:
                size = MAX_HEAD_BYTES
            else:
                size = MAX_HEAD_BYTES - self.head_bytes
            piece, view = view[:size], view[size:]
            heads = self.heads_seen
            in_head = not self.in_body
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserCallbackError as exc:
                if not self.done:  # not a refusal: a bug in the application's precheck answers 500, the server goes on
                    bug = exc.__context__
                    self._refuse(self.req, 500, f"internal error: {type(bug).__name__}: {bug}")
                return
            except httptools.HttpParserUpgrade:
                last = self.queue[-1] if self.queue else None
                upgrade = last if isinstance(last, Request) else None
                if upgrade is not None:
                    self.queue.pop()
                # llhttp completes an upgrade request without its body: it must not be handled
                self._refuse(upgrade, 400, "protocol upgrade (Upgrade, CONNECT) is not supported")
                return
            except httptools.HttpParserError as exc:
                self._refuse(self.req, 400, f"malformed request: {exc}")
                return
            if in_head and self.heads_seen == heads:
                self.head_bytes += len(piece)
                if self.head_bytes >= MAX_HEAD_BYTES:
                    self._refuse(None, 431, f"request head larger than {MAX_HEAD_BYTES} bytes")
                    return

    # httptools callbacks ------------------------------------------------
    def on_message_begin(self) -> None:
        self.started = True
        self.url = b""
        self.raw_headers = []
        self.body = bytearray()
        self.req = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_bytes = 0
        self.heads_seen += 1
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            self._refuse(None, 505, "only HTTP/1.0 and HTTP/1.1 are served")
            raise _Refused
        headers: dict[str, str] = {}
        hosts = 0
        for name, value in self.raw_headers:
            key = name.decode("latin-1").lower()
            hosts += key == "host"
            text = value.decode("latin-1").strip()
            headers[key] = f"{headers[key]}, {text}" if key in headers and key not in ("host",) else text
        try:
            url = httptools.parse_url(self.url)
        except httptools.HttpParserInvalidURLError:
            self._refuse(None, 400, "malformed request target")
            raise _Refused from None
        path = (url.path or b"/").decode("latin-1")
        query = (url.query or b"").decode("latin-1")
        req = Request(self.parser.get_method().decode("latin-1"), path, query, headers, self.peer,
                      keep_alive=self.parser.should_keep_alive())
        if version == "1.1" and hosts != 1:
            self._refuse(req, 400, "HTTP/1.1 requires exactly one Host header")
            raise _Refused
        te = headers.get("transfer-encoding")
        if te is not None:
            if te.lower() != "chunked":
                self._refuse(req, 501, "only chunked transfer-encoding is supported")
                raise _Refused
            req.chunked = True
        elif "content-length" in headers:
            req.content_length = int(headers["content-length"])  # the parser checked it is plain digits
        refusal = self.s.precheck(req)
        if refusal is not None:
            refusal.close = True  # the body, if any, was not read: the connection cannot be reused
            self._queue(refusal)
            raise _Refused
        self.req = req
        self.in_body = True
        if headers.get("expect", "").lower() == "100-continue":
            if self.busy or self.queue:
                self.continue_due = True  # sent once the answers before it are out
            else:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[union-attr]

    def on_body(self, body: bytes) -> None:
        if len(self.body) + len(body) > self.s.max_body:
            self._refuse(self.req, 413, f"body too large (limit {self.s.max_body} bytes)")
            raise _Refused
        self.body += body

    def on_message_complete(self) -> None:
        req = self.req
        self.in_body = False
        self.continue_due = False
        self.started = False
        self.head_bytes = 0
        self.url, self.raw_headers = b"", []
        if req is None:
            return
        req.body = bytes(self.body)
        self.req = None
        self.body = bytearray()
        self.queue.append(req)

    # ----------------------------------------------------------------- answering
    def _refuse(self, req: Request | None, status: int, reason: str) -> None:
        self.s.on_refusal(req, self.peer, status, reason)
        self._queue(json_response(status, {"error": reason}, close=True))

    def _queue(self, resp: Response) -> None:
        """A refusal ends the connection once the answers queued before it are sent."""
        self.done = True
        self.queue.append(resp)
        self._next()

    def _next(self) -> None:
        """Answer the next queued item unless a request is being handled."""
        if self.busy or self.closing or not self.queue:
            return
        item = self.queue.popleft()
        if isinstance(item, Response):
            self._send(item)
            return
        self.busy = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        task = asyncio.get_running_loop().create_task(self._run(item))
        self.s.tasks.add(task)
        task.add_done_callback(self.s.tasks.discard)

    async def _run(self, req: Request) -> None:
        try:
            resp = await self.s.handle(req)
        except Exception as exc:  # an application bug answers 500, the server goes on
            self.s.on_refusal(req, self.peer, 500, f"internal error: {type(exc).__name__}: {exc}")
            resp = json_response(500, {"error": "internal error"}, close=True)
        if not req.keep_alive:
            resp.close = True
        self.busy = False
        self.served += 1
        self._send(resp)
        if self.closing:
            return
        self._next()
        if self.busy or self.closing:
            return
        if self.continue_due:
            self.continue_due = False
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[union-attr]
        self._arm(self.s.read_timeout if self.started or self.in_body else self.s.idle_timeout)
        if self.paused:
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]

    def _send(self, resp: Response) -> None:
        if self.transport is None or self.transport.is_closing():
            self.closing = True
            return
        parts = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Unknown')}\r\nDate: {self.s.date()}\r\n"
                 f"Server: siemrelay\r\nContent-Type: application/json\r\nContent-Length: {len(resp.body)}\r\n"]
        for k, v in resp.headers.items():
            parts.append(f"{k}: {v}\r\n")
        if resp.close:
            parts.append("Connection: close\r\n")
        parts.append("\r\n")
        self.transport.write("".join(parts).encode("latin-1") + resp.body)
        if resp.close:
            self._linger()

    def _linger(self) -> None:
        """Close after an answer, reading and dropping what the client still sends for a moment.

        Closing a socket with unread input makes the kernel send a reset, which can
        destroy our answer before the client reads it (RFC 9112 §9.6): so half-close,
        drain for at most LINGER_S, then close.
        """
        transport = self.transport
        assert transport is not None
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not transport.can_write_eof():
            transport.close()
            return
        if self.paused:
            self.paused = False
            transport.resume_reading()
        transport.write_eof()
        self.timer = asyncio.get_running_loop().call_later(LINGER_S, transport.close)
