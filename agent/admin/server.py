"""The admin HTTP server: stdlib threads (the Radicale model), token auth, NDJSON taps.

Every request needs a token (``Authorization: Bearer``, or HTTP Basic with the
token as password so a browser can open the status page). A missing or wrong
token gets 401; the read-only token gets 403 on anything that changes state, and a
state-changing request that may come from a foreign page is refused
(:mod:`agent.admin.crosssite`).
The server binds to loopback unless told otherwise, refuses more than
``max_connections`` concurrent requests, and never logs a request's credentials.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Sequence

from loguru import logger

from agent.admin.api import AdminApi, ApiError, Request, Response, json_response
from agent.admin.auth import Tokens, load_or_create_token, role_of
from agent.admin.crosssite import cross_site_refusal
from agent.admin.history import MinuteHistory
from agent.admin.metrics import AgentCollector, LatencyHistograms, register_runtime_collectors
from agent.admin.state import AgentView, RateTracker, counters_for_history, counters_for_rates, spool_snapshot
from agent.admin.tap import TapHub
from agent.logging import Redactor
from agent.sdk.http_server import DrainingHandler, DrainingHTTPServer
from agent.sdk.listeners import Listeners
from agent.sdk.net import parse_address

__all__ = ["AdminServer"]

MAX_BODY = 1 << 20


class _Server(DrainingHTTPServer):
    def __init__(self, listener: socket.socket,
                 handler: Any,  # Any: socketserver's RequestHandlerClass, typed so by typeshed
                 limit: int, tls: ssl.SSLContext | None = None) -> None:
        """Serve on ``listener`` (from :class:`~agent.sdk.listeners.Listeners`, so a restart hands it over)."""
        self.slots = threading.BoundedSemaphore(limit)
        self.tls = tls
        super().__init__(listener, handler)

    def get_request(self) -> Any:
        sock, addr = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request(self, request: Any, client_address: Any) -> None:  # Any: both typed so by typeshed's socketserver
        if not self.slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:  # Any: as process_request
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class AdminServer:
    """Serves the admin API of one agent; ``start()`` binds, ``stop()`` ends everything."""

    def __init__(self, agent: AgentView, config: dict[str, Any], state_dir: Path, *,
                 taps: list[Callable[[str, Sequence[tuple[int, bytes]]], None]],
                 redactor: Redactor | None = None, extra: Callable[[], dict[str, Any]] | None = None,
                 sample_interval_s: float = 1.0, history_interval_s: float = 10.0,
                 wall: Callable[[], float] = time.time, listeners: Listeners | None = None) -> None:
        """:param history_interval_s: how often the per-minute history is fed; each feed counts
            every sink's queue in the spool, so it runs less often than the rate sampler.
        :param listeners: where the listening socket comes from: a reload that restarts the
            API hands the previous server's socket over through it, so no client is refused."""
        self.agent = agent
        self.config = config
        self.state_dir = state_dir
        self.redactor = redactor
        self.host, self.port = parse_address(config["address"])
        self.tokens: Tokens | None = None
        self.rates = RateTracker(window_s=max(2.0, 5 * sample_interval_s))
        self.sample_interval_s = sample_interval_s
        self.history_interval_s = history_interval_s
        self.wall = wall
        self.history = MinuteHistory(clock=wall)
        self.hub = TapHub(taps, lambda: dict(agent.spool.sinks))
        self.histograms = LatencyHistograms()
        self._extra = extra or (lambda: {})
        self.listeners = listeners or Listeners()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.log = logger.bind(component="admin")

    def _extra_metrics(self) -> dict[str, Any]:
        return {**self._extra(), "tap_watchers": self.hub.watchers}

    @property
    def bound_port(self) -> int:
        return int(self._server.server_address[1]) if self._server else self.port

    @property
    def tls_enabled(self) -> bool:
        """Whether the server speaks HTTPS (its origin's scheme)."""
        return self._server is not None and self._server.tls is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls_enabled else "http"
        return f"{scheme}://{host}:{self.bound_port}"

    def start(self) -> None:
        """Resolve tokens (generating the admin token if none is configured), bind, serve.

        :raises OSError: the address cannot be bound.
        """
        from prometheus_client import CollectorRegistry

        admin = self.config.get("token") or load_or_create_token(self.state_dir)
        self.tokens = Tokens(admin, self.config.get("read_token") or None)
        if self.redactor is not None:
            self.redactor.add(self.tokens.values())
        registry = CollectorRegistry(auto_describe=False)
        registry.register(AgentCollector(self.agent, self.histograms, self._extra_metrics))
        register_runtime_collectors(registry)
        self.histograms.update(self.agent.spool.path)  # count only this run's attempts
        self.api = AdminApi(self.agent, self.rates, registry, started_at=time.monotonic(), history=self.history,
                            quiet_after_s=float(self.config.get("quiet_after_s", 900.0)), wall=self.wall)
        tls_ctx = None
        tls_cfg = self.config.get("tls") or {}
        if tls_cfg.get("enabled") or tls_cfg.get("cert_file"):
            from agent.sdk.tls import server_context

            tls_ctx = server_context(tls_cfg)
        server = self

        class Handler(_Handler):
            admin = server

        listener = self.listeners.stream(self.host, self.port, backlog=_Server.request_queue_size)
        self._server = _Server(listener, Handler, int(self.config.get("max_connections", 32)), tls_ctx)
        self._stop.clear()
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="admin-http")
        sampler = threading.Thread(target=self._sample, name="admin-sampler")
        self._threads = [serve, sampler]
        for t in self._threads:
            t.start()
        if self.host not in ("127.0.0.1", "::1", "localhost"):
            self.log.warning("admin API listens on {} (not loopback): anyone who can reach it and holds a token can operate "
                             "this agent; prefer a loopback address or enable tls", self.host)
        self.log.info("admin API on {} (token: {})", self.url,
                      "configured" if self.config.get("token") else f"generated in {self.state_dir}/admin.token")

    def _sample(self) -> None:
        next_history = 0.0
        while True:
            try:
                self.rates.sample(counters_for_rates(self.agent))
                if time.monotonic() >= next_history:
                    next_history = time.monotonic() + self.history_interval_s
                    self.history.record(counters_for_history(self.agent, spool_snapshot(self.agent.spool.path)))
            except Exception as exc:  # never let a view bug end the sampler
                self.log.debug("rate sampling failed: {}", exc)
            if self._stop.wait(self.sample_interval_s):
                return

    def stop(self) -> None:
        """End taps, stop serving, join the threads. Idempotent."""
        self._stop.set()
        self.hub.close()
        server, self._server = self._server, None
        if server is not None:
            # closes this server's duplicate of the listening socket, and ends its connections
            # once their requests are answered: none is served on with the tokens of before
            server.stop_and_drain()
        for t in self._threads:
            t.join()
        self._threads = []
        self.listeners.close()  # kept open instead while a restart hands it over


class _Handler(DrainingHandler):
    protocol_version = "HTTP/1.1"
    server_version = "siemrelay-admin"
    sys_version = ""
    server: _Server

    def version_string(self) -> str:
        return self.server_version  # not "siemrelay-admin " with the empty sys_version appended
    timeout = 30
    admin: AdminServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass

    def _send(self, resp: Response, head: bool = False) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(resp.body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        resp = json_response({"error": message}, status)
        resp.headers.update(headers or {})
        self._send(resp, self.command == "HEAD")

    def _handle(self) -> None:
        srv = self.admin
        assert srv.tokens is not None
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path) or "/"
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        length = self.headers.get("Content-Length")
        body = b""
        if length:
            if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:
                self.close_connection = True
                self._error(413 if length.isascii() and length.isdigit() else 400, f"body too large or bad Content-Length (limit {MAX_BODY} bytes)")
                return
            body = self.rfile.read(int(length))
        role = role_of({"Authorization": self.headers.get("Authorization") or ""}, srv.tokens)
        if role is None:
            self._error(401, "missing or wrong token: send 'Authorization: Bearer TOKEN'",
                        {"WWW-Authenticate": 'Basic realm="siemrelay admin", charset="UTF-8"'})
            return
        handler, params, admin_only = srv.api.match(self.command, path)
        if handler is None:
            if params:
                self._error(405, f"method {self.command} not allowed here", {"Allow": ", ".join(sorted(set(params)))})
            elif path == "/api/v1/tap" and self.command in ("GET", "HEAD"):
                self._tap(query)
            else:
                self._error(404, f"no such endpoint: {path}")
            return
        refusal = cross_site_refusal(self.command, self.headers, scheme="https" if srv.tls_enabled else "http")
        if refusal is not None:
            srv.log.warning("admin API: refused {} {} from {}: {}", self.command, path, self.client_address[0],
                            refusal.message)
            self._error(refusal.status, refusal.message)
            return
        if admin_only and role != "admin":
            self._error(403, "this action needs the admin token; the read-only token may only look")
            return
        try:
            resp = handler(Request(self.command, path, query, body, role), params)  # type: ignore[arg-type]
        except ApiError as exc:
            self._error(exc.status, exc.message)
            return
        except Exception as exc:
            srv.log.opt(exception=exc).error("admin API {} {} failed", self.command, path)
            self._error(500, f"internal error: {type(exc).__name__}")
            return
        if admin_only:
            srv.log.info("admin API: {} {} → {}", self.command, path, resp.status)
        self._send(resp, self.command == "HEAD")

    def _tap(self, query: dict[str, str]) -> None:
        srv = self.admin
        source, sink = query.get("source") or None, query.get("sink") or None
        try:
            limit = int(query["limit"]) if "limit" in query else None
            duration = float(query["duration_s"]) if "duration_s" in query else None
            if (limit is not None and limit < 1) or (duration is not None and not duration >= 0):
                raise ValueError
        except ValueError:
            self._error(400, "limit must be a positive integer and duration_s a number of seconds")
            return
        if source is not None and source not in srv.agent.cfg.sources:
            self._error(404, f"no source named {source!r}")
            return
        try:
            sub = srv.hub.subscribe(source=source, sink=sink)
        except KeyError:
            self._error(404, f"no running sink named {sink!r}")
            return
        deadline = time.monotonic() + duration if duration is not None else None
        sent = 0
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command == "HEAD":
                return
            self.wfile.flush()
            idle = 0.0
            while not sub.closed:
                wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
                lines = sub.get(wait)
                if limit is not None:
                    lines = lines[: limit - sent]
                if lines:
                    self.wfile.write(b"".join(line + b"\n" for line in lines))
                    self.wfile.flush()
                    sent += len(lines)
                    idle = 0.0
                else:
                    idle += wait
                    if idle >= 5.0:  # keep-alive: also how we notice a reader that went away
                        self.wfile.write(b"\n")
                        self.wfile.flush()
                        idle = 0.0
                if (limit is not None and sent >= limit) or (deadline is not None and time.monotonic() >= deadline):
                    break
        except OSError:
            pass  # the reader went away
        finally:
            srv.hub.unsubscribe(sub)
            if sub.dropped:
                srv.log.info("tap ended; {} events were not shown because the reader fell behind", sub.dropped)

    def do_GET(self) -> None:  # noqa: N802
        try:
            self._handle()
        except OSError:
            self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_TRACE = do_CONNECT = do_GET  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        """Any other method (``QUERY``, made-up ones) gets 401/404/405 like the rest, not 501."""
        if name.startswith("do_"):
            return self.do_GET
        raise AttributeError(name)
