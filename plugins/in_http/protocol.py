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
``handle(request, answer)`` takes a complete request and either returns its answer
at once or returns ``None`` and calls ``answer(response)`` later, on the loop's
thread. Requests on one connection are answered one at a time, in order.

Cost per request: this is the hot path of webhook intake (thousands of requests per
second on one event loop), so a request creates no task, no future and no timer.
Each connection has at most one timer, which is not moved per request: it fires at
or before the connection's deadline, looks at the deadline then, and re-arms itself
if the deadline moved on (see :meth:`HttpProtocol._timeout`). The head of an answer
is cached per status and length for the current second (:meth:`ServerState.head`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from functools import partial
from typing import Callable, Mapping

import httptools
import orjson

__all__ = ["Request", "Response", "Answer", "HttpProtocol", "ServerState", "json_response", "MAX_HEAD_BYTES"]

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


Answer = Callable[[Response], None]
"""Called once, on the loop's thread, with the answer to a request ``handle`` did not answer at once."""


def json_response(status: int, payload: Mapping[str, object], headers: dict[str, str] | None = None, close: bool = False) -> Response:
    return Response(status, orjson.dumps(payload) + b"\n", headers or {}, close)



class ServerState:
    """What every connection of one listener shares: limits, the app, counters."""

    def __init__(self, precheck: Callable[[Request], Response | None],
                 handle: Callable[[Request, Answer], Response | None],
                 *, max_body: int, max_connections: int, read_timeout: float, idle_timeout: float,
                 on_refusal: Callable[[Request | None, str, int, str], None], max_per_client: int = 64,
                 clock: Callable[[], float] = time.time) -> None:
        self.precheck = precheck
        self.handle = handle
        self.max_body = max_body
        self.max_connections = max_connections
        self.max_per_client = max_per_client
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.on_refusal = on_refusal
        self.clock = clock
        self.connections: set["HttpProtocol"] = set()
        self.per_client: dict[str, int] = {}  # open connections by peer address
        self._date = ""
        self._date_at = 0.0
        self._heads: dict[tuple[int, int, bool], bytes] = {}  # answer heads of the current second

    @property
    def busy(self) -> bool:
        """True while some connection waits for the answer to a request (shutdown lets those finish)."""
        return any(conn.busy for conn in self.connections)

    def date(self) -> str:
        now = self.clock()
        if now - self._date_at >= 1.0:
            self._date, self._date_at = formatdate(now, usegmt=True), now
            self._heads.clear()
        return self._date

    def head(self, resp: Response) -> bytes:
        """The status line and headers of ``resp``; those without extra headers are built once a second."""
        date = self.date()
        if resp.headers:
            return self._build_head(resp, date)
        key = (resp.status, len(resp.body), resp.close)
        cached = self._heads.get(key)
        if cached is None:
            if len(self._heads) >= 256:  # answers with many different lengths: keep the cache small
                self._heads.clear()
            cached = self._heads[key] = self._build_head(resp, date)
        return cached

    @staticmethod
    def _build_head(resp: Response, date: str) -> bytes:
        parts = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Unknown')}\r\nDate: {date}\r\n"
                 f"Server: siemrelay\r\nContent-Type: application/json\r\nContent-Length: {len(resp.body)}\r\n"]
        for k, v in resp.headers.items():
            parts.append(f"{k}: {v}\r\n")
        if resp.close:
            parts.append("Connection: close\r\n")
        parts.append("\r\n")
        return "".join(parts).encode("latin-1")


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the refusal is already queued."""


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection; requests are handled one at a time, in order."""

    def __init__(self, state: ServerState) -> None:
        self.s = state
        self.transport: asyncio.Transport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.peer = "?"
        self.parser = httptools.HttpRequestParser(self)
        self.queue: deque[Request | Response] = deque()  # complete requests and refusals, in arrival order
        self.req: Request | None = None  # head parsed, body being read
        self.current: Request | None = None  # the request being handled (busy)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.hosts = 0  # Host headers in the current head
        self.body: bytes | bytearray = b""  # one piece is kept as it came; more are joined
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
        self.deadline = 0.0  # loop time by which the request being read (or the next one) must be complete
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.paused = False

    # ----------------------------------------------------------------- connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
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
            self.timer = None

    def data_received(self, data: bytes) -> None:
        if self.closing or self.done:
            return
        if not self.started and not self.in_body:
            self.started = True
            if not self.busy and not self.queue:  # the request must be whole within read_timeout_s of this byte
                self.deadline = self.loop.time() + self.s.read_timeout  # type: ignore[union-attr]
        self._feed(data)
        self._next()
        if self.queue and not self.paused and not self.closing:
            self.paused = True  # one request at a time: let TCP push back on a pipelining client
            self.transport.pause_reading()  # type: ignore[union-attr]
        elif not self.busy and not self.closing and (self.started or self.in_body):
            self._watch()  # a partial request: the timer must fire by its deadline

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    # ----------------------------------------------------------------- timers
    def _arm(self, delay: float) -> None:
        """Set the deadline ``delay`` from now and make sure the timer fires by then."""
        self.deadline = self.loop.time() + delay  # type: ignore[union-attr]
        self._watch()

    def _watch(self) -> None:
        """Make sure the timer fires by the deadline; a timer due earlier stays (it re-arms itself)."""
        if self.timer is None or self.timer_at > self.deadline:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = self.deadline
            self.timer = self.loop.call_at(self.deadline, self._timeout)  # type: ignore[union-attr]

    def _timeout(self) -> None:
        self.timer = None
        if self.busy or self.closing or self.queue:
            return  # answering re-arms it
        if self.loop.time() < self.deadline:  # type: ignore[union-attr]  # requests came meanwhile
            self._watch()
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
        if not self.in_body and len(data) <= MAX_HEAD_BYTES - self.head_bytes:
            self._feed_piece(data)  # the common case: one read, one piece, no copy
            return
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
            if not self._feed_piece(piece):
                return

    def _feed_piece(self, piece: bytes | memoryview) -> bool:
        """Parse one piece; ``False`` once the connection is refused."""
        heads = self.heads_seen
        in_head = not self.in_body
        try:
            self.parser.feed_data(piece)
        except httptools.HttpParserCallbackError as exc:
            if not self.done:  # not a refusal: a bug in the application's precheck answers 500, the server goes on
                bug = exc.__context__
                self._refuse(self.req, 500, f"internal error: {type(bug).__name__}: {bug}")
            return False
        except httptools.HttpParserUpgrade:
            last = self.queue[-1] if self.queue else None
            upgrade = last if isinstance(last, Request) else None
            if upgrade is not None:
                self.queue.pop()
            # llhttp completes an upgrade request without its body: it must not be handled
            self._refuse(upgrade, 400, "protocol upgrade (Upgrade, CONNECT) is not supported")
            return False
        except httptools.HttpParserError as exc:
            self._refuse(self.req, 400, f"malformed request: {exc}")
            return False
        if in_head and self.heads_seen == heads:
            self.head_bytes += len(piece)
            if self.head_bytes >= MAX_HEAD_BYTES:
                self._refuse(None, 431, f"request head larger than {MAX_HEAD_BYTES} bytes")
                return False
        return True

    # httptools callbacks ------------------------------------------------
    def on_message_begin(self) -> None:
        self.started = True
        self.url = b""
        self.headers = {}
        self.hosts = 0
        self.body = b""
        self.req = None

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        headers = self.headers
        if key == "host":
            self.hosts += 1
            headers[key] = text
        elif key in headers:
            headers[key] = f"{headers[key]}, {text}"
        else:
            headers[key] = text

    def on_headers_complete(self) -> None:
        self.head_bytes = 0
        self.heads_seen += 1
        version = self.parser.get_http_version()
        if version not in ("1.1", "1.0"):
            self._refuse(None, 505, "only HTTP/1.0 and HTTP/1.1 are served")
            raise _Refused
        headers = self.headers
        url = self.url
        if url[:1] == b"/" and b"?" not in url and b"#" not in url:  # origin form without a query: nothing to split
            path, query = url.decode("latin-1"), ""
        else:
            try:
                parts = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                self._refuse(None, 400, "malformed request target")
                raise _Refused from None
            path = (parts.path or b"/").decode("latin-1")
            query = (parts.query or b"").decode("latin-1")
        req = Request(self.parser.get_method().decode("latin-1"), path, query, headers, self.peer,
                      keep_alive=self.parser.should_keep_alive())
        if version == "1.1" and self.hosts != 1:
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
                self.transport.write(CONTINUE)  # type: ignore[union-attr]

    def on_body(self, body: bytes) -> None:
        have = len(self.body)
        if have + len(body) > self.s.max_body:
            self._refuse(self.req, 413, f"body too large (limit {self.s.max_body} bytes)")
            raise _Refused
        if not have:
            self.body = body  # kept as it came: most bodies arrive in one piece
        elif isinstance(self.body, bytearray):
            self.body += body
        else:
            self.body = bytearray(self.body) + body

    def on_message_complete(self) -> None:
        req = self.req
        self.in_body = False
        self.continue_due = False
        self.started = False
        self.head_bytes = 0
        self.url = b""
        if req is None:
            return
        body = self.body
        req.body = body if type(body) is bytes else bytes(body)
        self.req = None
        self.body = b""
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
        self.current = item
        try:
            resp = self.s.handle(item, partial(self._answer, item))
        except Exception as exc:  # an application bug answers 500, the server goes on
            self.s.on_refusal(item, self.peer, 500, f"internal error: {type(exc).__name__}: {exc}")
            resp = json_response(500, {"error": "internal error"}, close=True)
        if resp is not None:
            self._answer(item, resp)

    def _answer(self, req: Request, resp: Response) -> None:
        """Send the answer to ``req``, then go on with the next request; a late second answer is ignored."""
        if req is not self.current:
            return  # answered already
        self.current = None
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
            self.transport.write(CONTINUE)  # type: ignore[union-attr]
        self._arm(self.s.read_timeout if self.started or self.in_body else self.s.idle_timeout)
        if self.paused:
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]

    def _send(self, resp: Response) -> None:
        if self.transport is None or self.transport.is_closing():
            self.closing = True
            return
        self.transport.write(self.s.head(resp) + resp.body)
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
