"""A strict Splunk HTTP Event Collector for tests, following Splunk's documented protocol.

Endpoints: ``/services/collector/event`` (and ``/services/collector``, ``…/event/1.0``),
``/services/collector/ack``, ``/services/collector/health``. Authentication is
``Authorization: Splunk <token>`` only (query-string tokens get code 16, as on a stock
indexer). Bodies are concatenated JSON event objects, optionally gzip'd; every object
is checked the way Splunk checks it (``event`` present and not blank, ``time`` a
number, ``index`` allowed, ``fields`` flat, metadata strings) and the first bad one is
reported with ``invalid-event-number``. Answers are ``{"text": ..., "code": N}`` with
the documented HTTP status of each code. Tests can script faults (busy, throttled,
unhealthy) and slow acknowledgements, and read back every request byte for byte.

Faults answer event requests, in order: a HEC code with its documented HTTP status
(:meth:`HecReceiver.fail_next`), a bare HTTP answer as a proxy or load balancer in
front of Splunk would give (:meth:`HecReceiver.fail_next_http`), or a transport fault
(:meth:`HecReceiver.fail_next_transport`: ``"reset"`` half-way through the request
body, ``"hang"`` without answering).
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import struct
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CODES: dict[int, tuple[int, str]] = {
    0: (200, "Success"), 1: (403, "Token disabled"), 2: (401, "Token is required"),
    3: (401, "Invalid authorization"), 4: (403, "Invalid token"), 5: (400, "No data"),
    6: (400, "Invalid data format"), 7: (400, "Incorrect index"), 8: (500, "Internal server error"),
    9: (503, "Server is busy"), 10: (400, "Data channel is missing"), 11: (400, "Invalid data channel"),
    12: (400, "Event field is required"), 13: (400, "Event field cannot be blank"), 14: (400, "ACK is disabled"),
    15: (400, "Error in handling indexed fields"), 16: (400, "Query string authorization is not enabled"),
    17: (200, "HEC is healthy"), 18: (503, "HEC is unhealthy, queues are full"),
    19: (503, "HEC is unhealthy, ack service unavailable"),
    20: (503, "HEC is unhealthy, queues are full, ack service unavailable"),
    21: (400, "Invalid token"), 22: (400, "Token disabled"), 23: (503, "Server is shutting down"),
    24: (200, "HEC queue is approaching its capacity limit"), 25: (200, "HEC ACK is approaching its capacity limit"),
    26: (429, "HEC queue is at capacity and cannot process any more requests"),
    27: (429, "HEC ACK channel is at capacity and cannot process any more requests"),
}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_META = ("host", "source", "sourcetype", "index")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes                       # as received (compressed if it was)
    decoded: bytes = b""              # after Content-Encoding
    events: list[dict[str, Any]] = field(default_factory=list)
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)


class HecReceiver:
    """Run with ``with HecReceiver(port, tokens={...}) as hec:``; ``hec.url`` is the base URL."""

    def __init__(self, port: int, *, tokens: dict[str, dict[str, Any]] | None = None, host: str = "127.0.0.1",
                 indexes: tuple[str, ...] = ("main", "security"), ssl_context: Any = None,
                 max_content_length: int | None = None) -> None:
        # token → {"ack": bool, "disabled": bool}
        self.tokens = tokens if tokens is not None else {"good-token": {"ack": False}}
        self.indexes = set(indexes)
        self.max_content_length = max_content_length  # limits.conf [http_input] max_content_length: 413 above it
        self.requests: list[Request] = []
        self.indexed: list[dict[str, Any]] = []
        # consumed in order: ("hec", code, headers) | ("http", status, headers, body) | ("reset",) | ("hang", s)
        self.faults: list[tuple[Any, ...]] = []
        self._stopping = threading.Event()
        self.health_code = 17
        self.outage: tuple[int, dict[str, str]] | None = None  # (HEC code, headers) answered while set
        self.ack_after_polls = 0
        self._acks: dict[tuple[str, int], int] = {}  # (channel, ackId) → polls seen
        self._next_ack: dict[str, int] = {}
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                receiver._handle(self, "GET")

            def do_POST(self) -> None:
                receiver._handle(self, "POST")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://{host}:{port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    # ------------------------------------------------------------------ control
    def __enter__(self) -> "HecReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def fail_next(self, code: int, **headers: str) -> None:
        """Answer the next event request with HEC ``code`` (e.g. 9 busy) instead of indexing it."""
        with self._lock:
            self.faults.append(("hec", code, headers))

    def fail_next_http(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        """Answer the next event request with a bare HTTP ``status`` (no HEC code), as a proxy would."""
        with self._lock:
            self.faults.append(("http", status, dict(headers or {}), body))

    def fail_next_transport(self, kind: str, seconds: float = 30.0) -> None:
        """``"reset"``: read half the next event request's body, then reset the connection;
        ``"hang"``: read it and answer nothing for ``seconds`` (the client times out first)."""
        assert kind in ("reset", "hang")
        with self._lock:
            self.faults.append((kind, seconds))

    def wait_indexed(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.indexed) >= count, timeout):
                raise AssertionError(f"HEC receiver: {len(self.indexed)} events indexed, expected {count}")
            return list(self.indexed)

    # ------------------------------------------------------------------ protocol
    def _reply(self, h: BaseHTTPRequestHandler, req: Request, code: int, extra: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None, status: int | None = None) -> None:
        http_status, text = CODES[code]
        answer = {"text": text, "code": code, **(extra or {})}
        self._send(h, req, status or http_status, answer, headers)

    def _send(self, h: BaseHTTPRequestHandler, req: Request, status: int, answer: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(answer).encode()
        req.status, req.answer = status, answer
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=UTF-8")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _transport_fault(self, h: BaseHTTPRequestHandler, path: str, length: int) -> bool:
        """Play a scripted reset or hang on an event request; True when one was played."""
        if path.rstrip("/") not in ("/services/collector", "/services/collector/event", "/services/collector/event/1.0"):
            return False
        with self._lock:
            if not self.faults or self.faults[0][0] not in ("reset", "hang"):
                return False
            kind, seconds = self.faults.pop(0)
        req = Request("POST", path, {k: v for k, v in h.headers.items()}, b"", status=0)
        with self.changed:
            self.requests.append(req)
            self.changed.notify_all()
        h.close_connection = True
        if kind == "reset":
            h.rfile.read(length // 2)
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()  # RST: the client sees "connection reset" mid-request
            return True
        h.rfile.read(length)
        self._stopping.wait(float(seconds))
        return True

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        if method == "POST" and self._transport_fault(h, parts.path, length):
            return
        body = h.rfile.read(length) if length else b""
        req = Request(method, parts.path, {k: v for k, v in h.headers.items()}, body)
        with self.changed:
            self.requests.append(req)
            self.changed.notify_all()
        path = parts.path.rstrip("/")
        query = parse_qs(parts.query)
        if path not in ("/services/collector", "/services/collector/event", "/services/collector/event/1.0",
                        "/services/collector/ack", "/services/collector/health", "/services/collector/health/1.0"):
            return self._send(h, req, 404, {"text": "The requested URL was not found on this server.", "code": 404})
        if path.startswith("/services/collector/health"):
            return self._health(h, req, query)
        if method != "POST":
            return self._send(h, req, 405, {"text": "Method Not Allowed", "code": 405})
        token = self._auth(h, req, query)
        if token is None:
            return
        settings = self.tokens[token]
        channel = h.headers.get("X-Splunk-Request-Channel") or (query.get("channel") or [None])[0]
        if channel is not None and not _GUID.match(channel):
            return self._reply(h, req, 11)
        if path == "/services/collector/ack":
            return self._ack(h, req, settings, channel)
        if settings.get("ack") and channel is None:
            return self._reply(h, req, 10)
        if self.max_content_length is not None and length > self.max_content_length:
            answer = f"Content-Length of {length} too large (maximum is {self.max_content_length})".encode()
            with self._lock:
                self.faults.insert(0, ("http", 413, {}, answer))
        encoding = (h.headers.get("Content-Encoding") or "").lower()
        data = body
        if encoding == "gzip":
            try:
                data = gzip.decompress(body)
            except (OSError, EOFError, zlib.error):
                return self._reply(h, req, 6)
        elif encoding not in ("", "identity"):
            return self._send(h, req, 415, {"text": "Unsupported Media Type", "code": 6})
        req.decoded = data
        if not data.strip():
            return self._reply(h, req, 5)
        events, error = _parse_events(data, self.indexes)
        if error is not None:
            code, index = error
            return self._reply(h, req, code, {"invalid-event-number": index} if index is not None else None)
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
            if fault is None and self.outage is not None:
                fault = ("hec", self.outage[0], self.outage[1])
        if fault is not None and fault[0] == "http":
            _, status, headers, answer = fault
            req.status = status
            h.send_response(status)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(answer)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(answer)
            return None
        if fault is not None:
            _, code, headers = fault
            return self._reply(h, req, code, headers=dict(headers))
        req.events = events
        extra: dict[str, Any] = {}
        if settings.get("ack"):
            with self._lock:
                ack_id = self._next_ack.get(channel or "", 0)
                self._next_ack[channel or ""] = ack_id + 1
                self._acks[(channel or "", ack_id)] = 0
            extra["ackId"] = ack_id
        with self.changed:
            self.indexed.extend(events)
            self.changed.notify_all()
        self._reply(h, req, 0, extra)

    def _auth(self, h: BaseHTTPRequestHandler, req: Request, query: dict[str, list[str]]) -> str | None:
        header = h.headers.get("Authorization")
        if header is None:
            if query.get("token"):
                token = query["token"][0]
                self._reply(h, req, 16 if token in self.tokens else 4)
                return None
            self._reply(h, req, 2)
            return None
        if not header.startswith("Splunk ") or not header[7:].strip():
            self._reply(h, req, 3)
            return None
        token = header[7:].strip()
        if token not in self.tokens:
            self._reply(h, req, 4)
            return None
        if self.tokens[token].get("disabled"):
            self._reply(h, req, 1)
            return None
        return token

    def _ack(self, h: BaseHTTPRequestHandler, req: Request, settings: dict[str, Any], channel: str | None) -> None:
        if not settings.get("ack"):
            return self._reply(h, req, 14)
        if channel is None:
            return self._reply(h, req, 10)
        try:
            asked = json.loads(req.body)["acks"]
            assert isinstance(asked, list) and all(isinstance(a, int) for a in asked)
        except Exception:
            return self._reply(h, req, 6)
        result = {}
        with self._lock:
            for ack_id in asked:
                key = (channel, ack_id)
                if key not in self._acks:
                    result[str(ack_id)] = False
                    continue
                self._acks[key] += 1
                result[str(ack_id)] = self._acks[key] > self.ack_after_polls
        self._send(h, req, 200, {"acks": result})

    def _health(self, h: BaseHTTPRequestHandler, req: Request, query: dict[str, list[str]]) -> None:
        header = h.headers.get("Authorization")
        if header is not None:
            token = header[7:].strip() if header.startswith("Splunk ") else ""
            if token not in self.tokens:
                return self._reply(h, req, 21)
            if self.tokens[token].get("disabled"):
                return self._reply(h, req, 22)
        self._reply(h, req, self.health_code)


def _parse_events(data: bytes, indexes: set[str]) -> tuple[list[dict[str, Any]], tuple[int, int | None] | None]:
    """Concatenated JSON objects → events, or (HEC code, invalid-event-number) of the first bad one."""
    decoder = json.JSONDecoder()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], (6, 0)
    events: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            break
        number = len(events)
        try:
            obj, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            return [], (6, number)
        if not isinstance(obj, dict):
            return [], (6, number)
        if "event" not in obj:
            return [], (12, number)
        if obj["event"] is None or obj["event"] == "" or obj["event"] == {}:
            return [], (13, number)
        if "time" in obj:
            t = obj["time"]
            if isinstance(t, str):
                try:
                    float(t)
                except ValueError:
                    return [], (6, number)
            elif isinstance(t, bool) or not isinstance(t, (int, float)):
                return [], (6, number)
        for key in _META:
            if key in obj and not isinstance(obj[key], str):
                return [], (6, number)
        if "index" in obj and obj["index"] not in indexes:
            return [], (7, number)
        if "fields" in obj:
            f = obj["fields"]
            if not isinstance(f, dict) or any(isinstance(v, dict) for v in f.values()):
                return [], (15, number)
        extra = set(obj) - {"time", "host", "source", "sourcetype", "index", "event", "fields"}
        if extra:
            return [], (6, number)
        events.append(obj)
    return events, None
