"""A small HTTP/1.1 server protocol on asyncio: keep-alive, pipelining, chunked bodies, limits.

Why not ``http.server``: its thread per connection and ``email``-based header parsing
cost more than the whole rest of a webhook request, and it has no notion of a
request deadline, so one client sending a byte per second holds a thread forever.
Here one event loop parses every connection, a request must arrive whole within
``read_timeout_s`` (else 408), an idle keep-alive connection is closed after
``idle_timeout_s``, and a body over the limit is refused (413) from its headers,
before it is read: with ``Expect: 100-continue`` the client never even sends it.

The application is two callables: ``precheck(head)`` decides from the request line
and headers alone (404, 405, 413, 415, 401 for header-only auth), and
``handle(request)`` is awaited for a complete request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Awaitable, Callable

import orjson

__all__ = ["Request", "Response", "HttpProtocol", "ServerState", "json_response"]

MAX_HEAD_BYTES = 32 * 1024
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required", 413: "Content Too Large",
           415: "Unsupported Media Type", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names; a repeated header keeps the last value
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
                 on_refusal: Callable[[Request | None, str, int, str], None]) -> None:
        self.precheck = precheck
        self.handle = handle
        self.max_body = max_body
        self.max_connections = max_connections
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.on_refusal = on_refusal
        self.connections: set["HttpProtocol"] = set()
        self.tasks: set[asyncio.Task[None]] = set()  # requests being handled (awaited at shutdown)
        self._date = ""
        self._date_at = 0.0

    def date(self) -> str:
        now = time.time()
        if now - self._date_at >= 1.0:
            self._date, self._date_at = formatdate(now, usegmt=True), now
        return self._date


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection; requests are handled one at a time, in order."""

    def __init__(self, state: ServerState) -> None:
        self.s = state
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.buf = bytearray()
        self.req: Request | None = None  # head parsed, body being read
        self.body = bytearray()
        self.chunk_left = -1  # chunked: bytes left in the current chunk, -1 = expecting a size line, -2 = trailers
        self.busy = False
        self.closing = False
        self.timer: asyncio.TimerHandle | None = None
        self.paused = False
        self.reading = False  # a request has started arriving: its read deadline is armed

    # ----------------------------------------------------------------- connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if peer else "?"
        if len(self.s.connections) >= self.s.max_connections:
            self.s.on_refusal(None, self.peer, 503, "max_connections reached")
            self._send(json_response(503, {"error": "too many connections"}, {"Retry-After": "1"}, close=True))
            return
        self.s.connections.add(self)
        self._arm(self.s.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.s.connections.discard(self)
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.buf += data
        if self.busy:
            if len(self.buf) > MAX_HEAD_BYTES + self.s.max_body and not self.paused:
                self.paused = True
                self.transport.pause_reading()  # type: ignore[union-attr]
            return
        self._advance()

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
        if self.busy or self.closing:
            return
        if self.req is None and not self.buf:
            self.close()  # idle keep-alive connection
            return
        self.s.on_refusal(self.req, self.peer, 408, "request not received in time (read_timeout_s)")
        self._send(json_response(408, {"error": "request timeout"}, close=True))

    # ----------------------------------------------------------------- parsing
    def _advance(self) -> None:
        while not self.busy and not self.closing:
            if self.req is None:
                if not self.buf:
                    self._arm(self.s.idle_timeout)
                    return
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buf) > MAX_HEAD_BYTES:
                        self._refuse(None, 431, "request head too large")
                    elif not self.reading:
                        self.reading = True
                        self._arm(self.s.read_timeout)
                    return
                if not self._parse_head(bytes(self.buf[:end])):
                    return
                del self.buf[:end + 4]
                if not self.reading:
                    self.reading = True
                    self._arm(self.s.read_timeout)
                if self.req is None:
                    return
            if not self._read_body():
                return
            req = self.req
            assert req is not None
            req.body = bytes(self.body)
            self.req = None
            self.body = bytearray()
            self.busy = True
            self.reading = False
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            task = asyncio.get_running_loop().create_task(self._run(req))
            self.s.tasks.add(task)
            task.add_done_callback(self.s.tasks.discard)

    def _refuse(self, req: Request | None, status: int, reason: str) -> None:
        self.s.on_refusal(req, self.peer, status, reason)
        self._send(json_response(status, {"error": reason}, close=True))

    def _parse_head(self, head: bytes) -> bool:
        try:
            text = head.decode("latin-1")
            line, _, rest = text.partition("\r\n")
            method, target, version = line.split(" ")
        except ValueError:
            self._refuse(None, 400, "malformed request line")
            return False
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            self._refuse(None, 505 if version.startswith("HTTP/") else 400, "only HTTP/1.0 and HTTP/1.1 are served")
            return False
        headers: dict[str, str] = {}
        if rest:
            for h in rest.split("\r\n"):
                name, sep, value = h.partition(":")
                if not sep or not name or name[-1] in " \t":
                    self._refuse(None, 400, "malformed header line")
                    return False
                headers[name.lower()] = value.strip()
        path, _, query = target.partition("?")
        conn = headers.get("connection", "").lower()
        keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        req = Request(method, path, query, headers, self.peer, keep_alive=keep)
        te = headers.get("transfer-encoding")
        if te is not None:
            if te.lower() != "chunked":
                self._refuse(req, 501, "only chunked transfer-encoding is supported")
                return False
            req.chunked = True
            self.chunk_left = -1
        else:
            cl = headers.get("content-length")
            if cl is not None:
                if not (cl.isascii() and cl.isdigit()):
                    self._refuse(req, 400, "invalid Content-Length")
                    return False
                req.content_length = int(cl)
        refusal = self.s.precheck(req)
        if refusal is not None:
            refusal.close = True  # the body, if any, was not read: the connection cannot be reused
            self._send(refusal)
            return False
        if headers.get("expect", "").lower() == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[union-attr]
        self.req = req
        return True

    def _read_body(self) -> bool:
        """Move body bytes from the buffer; True once the body is complete."""
        req = self.req
        assert req is not None
        if not req.chunked:
            need = (req.content_length or 0) - len(self.body)
            if need > 0:
                take = self.buf[:need]
                self.body += take
                del self.buf[:len(take)]
            return len(self.body) >= (req.content_length or 0)
        while True:
            if self.chunk_left == -1 or self.chunk_left == -2:
                nl = self.buf.find(b"\r\n")
                if nl < 0:
                    if len(self.buf) > 4096:
                        self._refuse(req, 400, "malformed chunked body")
                    return False
                line = bytes(self.buf[:nl])
                del self.buf[:nl + 2]
                if self.chunk_left == -2:
                    if not line:
                        return True  # end of trailers
                    continue
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self._refuse(req, 400, "malformed chunk size")
                    return False
                if len(self.body) + size > self.s.max_body:
                    self._refuse(req, 413, f"body too large (limit {self.s.max_body} bytes)")
                    return False
                self.chunk_left = size if size else -2
                continue
            if self.chunk_left > 0:
                take = self.buf[:self.chunk_left]
                self.body += take
                del self.buf[:len(take)]
                self.chunk_left -= len(take)
                if self.chunk_left:
                    return False
            if len(self.buf) < 2:
                return False
            if self.buf[:2] != b"\r\n":
                self._refuse(req, 400, "malformed chunked body")
                return False
            del self.buf[:2]
            self.chunk_left = -1

    # ----------------------------------------------------------------- responses
    async def _run(self, req: Request) -> None:
        try:
            resp = await self.s.handle(req)
        except Exception as exc:  # an application bug answers 500, the server goes on
            self.s.on_refusal(req, self.peer, 500, f"internal error: {type(exc).__name__}: {exc}")
            resp = json_response(500, {"error": "internal error"}, close=True)
        if not req.keep_alive:
            resp.close = True
        self.busy = False
        self._send(resp)
        if self.closing:
            return
        if self.paused:
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        self._advance()

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
            self.closing = True
            if self.timer is not None:
                self.timer.cancel()
            self.transport.close()
