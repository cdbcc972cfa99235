"""The ``otlp`` source: an OTLP/HTTP logs receiver (``POST /v1/logs``) for Collectors, Vector, Fluent Bit.

Each LogRecord becomes one raw record for the configured decoder. The answer is
written only after the spool committed the batch: 200 with an
``ExportLogsServiceResponse`` (its ``partial_success`` counts the records that failed
to decode; they are in the dead-letter store with their content), 503 with
``Retry-After`` when the spool is full (OTLP senders retry 503), 400 with a
``google.rpc.Status`` for a body that is not an OTLP request. The response uses the
request's encoding (protobuf or JSON), as the OTLP specification asks.

Why ``http.server`` and not the asyncio server of the ``http`` source: OTLP senders
post few, large, batched requests over a handful of connections, so a thread per
connection costs nothing here, and a plugin may not import another plugin.
"""

from __future__ import annotations

import hmac
import socket
import ssl
import threading
from typing import Any

import orjson

from agent.sdk import (DrainingHandler, DrainingHTTPServer, Source, SourceContext, SubmitStatus, otlp_modules,
                       parse_address, server_context, utcnow)
from plugins.in_otlp.config import CONFIG_SCHEMA, check_config
from plugins.in_otlp.request import BadRequest, decode_body, log_dicts, parse_request, to_json

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


def rpc_status(code: int, message: str, json_body: bool) -> bytes:
    """A ``google.rpc.Status`` (code, message) in the request's encoding, written by hand
    because its generated class lives in another package (googleapis-common-protos)."""
    if json_body:
        return orjson.dumps({"code": code, "message": message})
    text = message.encode("utf-8")
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Server(DrainingHTTPServer):
    request_queue_size = 128

    def __init__(self, listener: socket.socket, handler: type["_Handler"], source: "OtlpSource") -> None:
        """Serve on ``listener`` (from the source context, so a reload hands it over) instead of binding."""
        self.source = source
        super().__init__(listener, handler)


class _Handler(DrainingHandler):
    protocol_version = "HTTP/1.1"
    server_version = "siemrelay-otlp"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.source.read_timeout)  # a slow client cannot hold a thread

    def do_POST(self) -> None:  # noqa: N802
        status, body, ctype, headers = self.server.source.handle(self.command, self.path, self.headers, self.rfile,
                                                                 self.client_address[0])
        self._answer(status, body, ctype, headers)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(405, b'{"code":12,"message":"use POST"}', JSON, {"Allow": "POST"})

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _answer(self, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        if status >= 400 and status not in (429, 503):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


class OtlpSource(Source):
    type_name = "otlp"
    description = "OpenTelemetry logs in over OTLP/HTTP (/v1/logs, protobuf or JSON, gzip); answered after the spool commit."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    SECRET_KEYS = Source.SECRET_KEYS | {"bearer"}
    check_config = staticmethod(check_config)

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        super().__init__(name, config, ctx)
        self.pb = otlp_modules()
        self.host, self.port = parse_address(config["address"])
        self.path = config["path"].rstrip("/") or "/"
        self.decoder = ctx.build_decoder(config["decoder"], "decoder")
        tokens = config.get("bearer")
        self.tokens = [tokens] if isinstance(tokens, str) else list(tokens or [])
        self.max_body = int(config["max_body_bytes"])
        self.read_timeout = float(config["read_timeout_s"])
        self.submit_timeout = float(config["submit_timeout_s"])
        self.retry_after = str(int(config["retry_after_s"]))
        self.dedup = bool(config["dedup"])
        tls = config.get("tls") or {}
        self.ssl_context: ssl.SSLContext | None = server_context(tls) if tls.get("enabled") or tls.get("cert_file") else None
        self.stats: dict[str, int] = {"requests": 0, "records": 0, "rejected": 0, "refused": 0}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def bound_port(self) -> int:
        return int(self._server.server_address[1]) if self._server else self.port

    def start(self) -> None:
        server = _Server(self.ctx.listeners.stream(self.host, self.port, backlog=_Server.request_queue_size), _Handler, self)
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"source-{self.name}")
        self._thread.start()
        scheme = "https" if self.ssl_context else "http"
        self.ctx.logger.info("OTLP/HTTP logs receiver on {}://{}:{}{}", scheme, self.host, self.bound_port, self.path)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            self.ctx.listeners.close()  # start() may have failed after taking the socket
            return
        # closes this instance's duplicate of the socket; requests under way are answered, then every
        # connection closes: none is served on by a stopped source with the settings of before
        server.stop_and_drain()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.ctx.listeners.close()

    # ----------------------------------------------------------------- requests
    def _refuse(self, peer: str, status: int, reason: str, json_body: bool,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, str, dict[str, str]]:
        with self._lock:
            self.stats["refused"] += 1
        self.ctx.logger.warning("refused OTLP request from {}: {} {}", peer, status, self.ctx.redact(reason))
        code = {400: 3, 401: 16, 404: 5, 405: 12, 411: 3, 413: 8, 415: 3, 503: 14}.get(status, 2)
        return status, rpc_status(code, reason, json_body), JSON if json_body else PROTOBUF, headers or {}

    def handle(self, method: str, path: str, headers: Any, rfile: Any,  # Any: the server's header map and body file
               peer: str) -> tuple[int, bytes, str, dict[str, str]]:
        """Answer one request: ``(status, body, content type, extra headers)``."""
        with self._lock:
            self.stats["requests"] += 1
        ctype = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        json_body = ctype == JSON
        if (path.split("?", 1)[0].rstrip("/") or "/") != self.path:
            return self._refuse(peer, 404, f"unknown path; logs are received on {self.path}", json_body)
        if ctype not in (PROTOBUF, JSON):
            return self._refuse(peer, 415, f"unsupported Content-Type {ctype[:60] or '(none)'}; "
                                           f"use {PROTOBUF} or {JSON}", json_body)
        if self.tokens and not self._authorized(headers.get("Authorization") or ""):
            return self._refuse(peer, 401, "missing or wrong bearer token", json_body, {"WWW-Authenticate": "Bearer"})
        length = headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()):
            return self._refuse(peer, 411, "Content-Length required", json_body)
        if int(length) > self.max_body:
            return self._refuse(peer, 413, f"body too large (limit {self.max_body} bytes)", json_body)
        try:
            raw = rfile.read(int(length))
            if len(raw) < int(length):
                return self._refuse(peer, 400, "body shorter than Content-Length", json_body)
            body = decode_body(raw, headers.get("Content-Encoding") or "", self.max_body)
            logs = log_dicts(parse_request(body, json_body, self.pb))
        except BadRequest as exc:
            return self._refuse(peer, 400, str(exc), json_body)
        except OSError as exc:  # the sender stalled past read_timeout_s or went away
            return self._refuse(peer, 408, f"request not received: {type(exc).__name__}", json_body)
        return self._submit(logs, peer, json_body)

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        given = token.strip().encode()
        return any(hmac.compare_digest(given, t.encode()) for t in self.tokens)

    def _submit(self, logs: list[dict[str, Any]], peer: str, json_body: bool) -> tuple[int, bytes, str, dict[str, str]]:
        received = utcnow()
        records = [self.make_record(to_json(item), self.decoder, {"input": self.name, "path": self.path, "peer": peer},
                                    received) for item in logs]
        if records:
            result = self.ctx.submit(records, timeout=self.submit_timeout, dedup=self.dedup)
            if result.status is not SubmitStatus.ACCEPTED:
                text = "spool full, retry later" if result.status is SubmitStatus.FULL else "shutting down, retry later"
                return self._refuse(peer, 503, text, json_body, {"Retry-After": self.retry_after})
            errors = result.errors
        else:
            errors = []
        with self._lock:
            self.stats["records"] += len(records)
            self.stats["rejected"] += len(errors)
        answer = self.pb.service.ExportLogsServiceResponse()
        if errors:
            answer.partial_success.rejected_log_records = len(errors)
            answer.partial_success.error_message = "; ".join(f"record {i}: {r}" for i, r in errors[:5])[:1000]
            self.ctx.logger.warning("{} of {} OTLP log records from {} did not decode; they are in the dead letters",
                                    len(errors), len(records), peer)
        if json_body:
            body: bytes = self.pb.json_format.MessageToJson(answer, indent=None).encode()
        else:
            body = answer.SerializeToString()
        return 200, body, JSON if json_body else PROTOBUF, {}
