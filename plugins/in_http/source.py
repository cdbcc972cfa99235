"""The ``http`` source: every 2xx means the posted events are durably spooled."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from agent.decoders import Decoder
from agent.model import utcnow
from agent.net import family_of, parse_address
from agent.sources import Source, SourceContext, SubmitStatus
from plugins.in_http.config import CONFIG_SCHEMA


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


class HttpSource(Source):
    type_name = "http"
    description = "HTTP listener for webhooks: POST JSON objects, arrays or NDJSON to configured paths."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        super().__init__(name, config, ctx)
        self.host, self.port = parse_address(config["address"])
        self.decoders: dict[str, Decoder] = {
            path: ctx.build_decoder(spec.get("decoder", "json")) for path, spec in config["paths"].items()}
        self.max_body = int(config["max_body_bytes"])
        self.submit_timeout = float(config["submit_timeout_s"])
        self.retry_after = int(config["retry_after_s"])
        self.dedup = bool(config["dedup"])
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def bound_port(self) -> int:
        return self._server.server_address[1] if self._server else self.port

    def start(self) -> None:
        source = self

        class Handler(_Handler):
            src = source

        _Server.address_family = family_of(self.host)
        self._server = _Server((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"source-{self.name}")
        self._thread.start()
        self.ctx.logger.info("listening on http://{}:{}{}", self.host, self.bound_port, ", ".join(self.decoders))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "siemrelay"
    sys_version = ""
    src: HttpSource

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def _reply(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None, close: bool = False) -> None:
        data = orjson.dumps(body) + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] in self.src.decoders:
            self._reply(405, {"error": "use POST"}, {"Allow": "POST"})
        else:
            self._reply(404, {"error": "unknown path"})

    do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815

    def do_POST(self) -> None:  # noqa: N802
        src = self.src
        path = self.path.split("?", 1)[0]
        decoder = src.decoders.get(path)
        if decoder is None:
            self._reply(404, {"error": "unknown path"}, close=True)
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._reply(411, {"error": "Content-Length required"}, close=True)
            return
        length = int(length_header)
        if length > src.max_body:
            src.ctx.logger.warning("refused a {}-byte body from {} (max_body_bytes is {})", length, self.client_address[0], src.max_body)
            self._reply(413, {"error": f"body too large (limit {src.max_body} bytes)"}, close=True)
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return
        record = src.make_record(body, decoder, {"path": path, "peer": self.client_address[0]}, utcnow())
        result = src.ctx.submit([record], timeout=src.submit_timeout, dedup=src.dedup)
        if result.status is SubmitStatus.ACCEPTED:
            if result.errors and not result.events and not result.duplicates:
                self._reply(400, {"error": result.errors[0][1]})
                return
            self._reply(200, {"status": "ok", "accepted": result.events, "duplicates": result.duplicates,
                              "errors": [r for _, r in result.errors]})
            return
        self._reply(503, {"error": "spool full, retry later" if result.status is SubmitStatus.FULL else "shutting down"},
                    {"Retry-After": str(src.retry_after)})
