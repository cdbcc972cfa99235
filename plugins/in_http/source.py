"""The ``http`` source: webhooks in, and every 2xx means the events are durably spooled.

An asyncio loop in one thread parses HTTP (see :mod:`plugins.in_http.protocol`) and
turns each request into records; the requests of all connections that arrive in one
loop iteration go in one batch (see :mod:`plugins.in_http.batcher`), which the loop
hands to ``submit_async`` (decode, route, queue for the spool's next group commit)
without waiting: they share one commit (one fsync for many webhooks), and the loop
reads the next requests while it runs. The answer is written only when that commit
is done: ACCEPTED → 2xx, FULL → 503 with Retry-After, and never later than
``response_timeout_s`` (a sender that times out and retries is de-duplicated by
event id). No request costs a task or a timer of its own: :meth:`HttpSource.handle`
is a plain function that queues the records with a reply.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

import orjson

from agent.sdk import LogWindow
from agent.sdk.decoder import Decoder
from agent.sdk import utcnow
from agent.sdk.net import parse_address
from agent.sdk.record import RawRecord
from agent.sdk.source import Source, SourceContext, SubmitStatus
from agent.sdk.tls import server_context
from plugins.in_http.auth import Authenticator
from plugins.in_http.batcher import LARGE_INFLIGHT, Batcher, Outcome, RequestResult, Refusal
from plugins.in_http.config import CONFIG_SCHEMA, check_config
from plugins.in_http.hec import HEC_OK_BODY, HecError, hec_answer, hec_auth_refusal, split_envelopes
from plugins.in_http.protocol import Answer, HttpProtocol, Request, Response, ServerState, json_response

DEFAULT_TYPES = ("application/json", "application/x-ndjson", "application/ndjson", "application/jsonl",
                 "application/x-jsonlines", "text/plain", "application/cloudevents+json")
HEC_EVENT = ("/services/collector", "/services/collector/event", "/services/collector/event/1.0")
HEC_RAW = ("/services/collector/raw", "/services/collector/raw/1.0")
HEC_HEALTH = ("/services/collector/health", "/services/collector/health/1.0")
LOG_PER_SECOND = 20
IDLE_GRACE_S = 0.5  # stopping: how long a keep-alive connection between requests may still send one


class _Route:
    __slots__ = ("path", "decoder", "auth", "types", "dedup", "kind", "keep")

    def __init__(self, path: str, decoder: Decoder | None, auth: Authenticator | None, types: tuple[str, ...] | None,
                 dedup: bool, kind: str, keep: tuple[str, ...] = ()) -> None:
        self.path, self.decoder, self.auth, self.types, self.dedup, self.kind = path, decoder, auth, types, dedup, kind
        self.keep = keep


def _kept_headers(spec: dict[str, Any]) -> tuple[str, ...]:
    """Header names to copy to ``origin.headers``, minus any that carry a secret."""
    auth = spec.get("auth") or {}
    secret = {"authorization", "cookie", "proxy-authorization"}
    for block, key in (("hmac", "header"), ("header", "name")):
        if auth.get(block):
            secret.add(str(auth[block].get(key, "")).lower())
    return tuple(h.lower() for h in spec.get("keep_headers") or () if h.lower() not in secret)


class HttpSource(Source):
    type_name = "http"
    description = "HTTP(S) webhook listener: per-path decoders and authentication (HMAC, bearer, header, query secret), Splunk HEC intake."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    SECRET_KEYS = Source.SECRET_KEYS | {"query_secret", "token"}
    check_config = staticmethod(check_config)

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        super().__init__(name, config, ctx)
        self.host, self.port = parse_address(config["address"])
        self.clock = time.time
        self.max_body = int(config["max_body_bytes"])
        self.submit_timeout = float(config["submit_timeout_s"])
        self.response_timeout = float(config["response_timeout_s"])
        self.retry_after = str(int(config["retry_after_s"]))
        dedup = bool(config["dedup"])
        self.routes: dict[str, _Route] = {}
        for path, spec in config["paths"].items():
            types = tuple(t.lower() for t in spec.get("content_types") or DEFAULT_TYPES)
            auth = Authenticator(spec.get("auth") or {}, lambda: self.clock())
            self.routes[path.rstrip("/") or "/"] = _Route(
                path, ctx.build_decoder(spec.get("decoder", "json"), ("paths", path, "decoder")), auth, None if "*/*" in types else types,
                dedup if spec.get("dedup") is None else bool(spec["dedup"]), "path", _kept_headers(spec))
        hec = config.get("hec") or {}
        if hec.get("enabled"):
            tokens = hec["token"] if isinstance(hec["token"], list) else [hec["token"]]
            auth = Authenticator({"header": {"name": "Authorization", "value": [f"Splunk {t}" for t in tokens]}}, self.clock)
            ev_dec = ctx.build_decoder(hec["decoder"], ("hec", "decoder"))
            raw_dec = ctx.build_decoder(hec["raw_decoder"], ("hec", "raw_decoder"))
            hec_dedup = bool(hec.get("dedup", False))
            for p in HEC_EVENT:
                self.routes[p] = _Route(p, ev_dec, auth, None, hec_dedup, "hec_event")
            for p in HEC_RAW:
                self.routes[p] = _Route(p, raw_dec, auth, None, hec_dedup, "hec_raw")
            for p in HEC_HEALTH:
                self.routes[p] = _Route(p, None, None, None, False, "hec_health")
        tls = config.get("tls") or {}
        self.ssl_context = server_context(tls) if tls.get("enabled") or tls.get("cert_file") else None
        self.stats: dict[str, int] = {"requests": 0, "accepted": 0, "events": 0, "duplicates": 0}
        self._ok_bodies: dict[tuple[int, int | None], bytes] = {}
        self._state = ServerState(self.precheck, self.handle, max_body=self.max_body,
                                  max_connections=int(config["max_connections"]),
                                  max_per_client=int(config["max_connections_per_client"]),
                                  read_timeout=float(config["read_timeout_s"]), idle_timeout=float(config["idle_timeout_s"]),
                                  on_refusal=self._refused)
        workers = config["workers"]
        self._batcher = Batcher(ctx.submit_async, 1 if workers == "auto" else int(workers), self.submit_timeout,
                                self.response_timeout, max_inflight_large=LARGE_INFLIGHT if workers == "auto" else None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._log_window = LogWindow(LOG_PER_SECOND, 1.0, lambda: self.clock())

    @property
    def bound_port(self) -> int:
        return self._server.sockets[0].getsockname()[1] if self._server else self.port

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        # the socket comes from the context: a reload hands the predecessor's to this instance
        sock = self.ctx.listeners.stream(self.host, self.port, backlog=1024, v6only=True)
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(loop.create_server(
                lambda: HttpProtocol(self._state), sock=sock,
                ssl=self.ssl_context, ssl_handshake_timeout=float(self.config["read_timeout_s"]) if self.ssl_context else None,
                backlog=1024))
        except OSError:
            sock.close()
            loop.close()
            self._loop = None
            raise
        self._thread = threading.Thread(target=loop.run_forever, name=f"source-{self.name}", daemon=True)
        self._thread.start()
        scheme = "https" if self.ssl_context else "http"
        open_paths = [r.path for r in self.routes.values() if r.kind == "path" and r.auth is not None and r.auth.open]
        self.ctx.logger.info("listening on {}://{}:{} for {}", scheme, self.host, self.bound_port,
                             ", ".join(sorted({r.path for r in self.routes.values() if r.kind != "hec_health"})))
        if open_paths and self.host not in ("127.0.0.1", "::1", "localhost"):
            self.ctx.logger.warning("paths {} accept unauthenticated POSTs on {}; set auth: for each", ", ".join(open_paths), self.host)

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            self.ctx.listeners.close()  # start() may have failed after taking the socket
            return

        async def shutdown() -> None:
            # graceful drain: stop accepting (only this instance's duplicate of the listening
            # socket closes: a reload's successor accepts what queues meanwhile), answer every
            # request already arriving with "Connection: close"; a connection with no request
            # under way (just opened, or keep-alive between requests) gets IDLE_GRACE_S to send
            # one (a sender posting in a loop does), then closes as its idle timeout would
            server = self._server
            if server is not None:  # stop accepting, but close the server only once its accepts are set up:
                for sock in server.sockets:  # asyncio drops a connection accepted just before close()
                    loop.remove_reader(sock.fileno())
            handle = self._state.handle

            def last_answer(req: Request, answer: Answer) -> Response | None:
                # copies, not the answers themselves: common answers are shared objects
                resp = handle(req, lambda late: answer(replace(late, close=True)))
                return None if resp is None else replace(resp, close=True)

            self._state.handle = last_answer
            grace_end = loop.time() + min(IDLE_GRACE_S, self.response_timeout)
            deadline = loop.time() + self.response_timeout
            me = asyncio.current_task()
            # a connection the server accepted just before it closed is still being set up by a
            # task of its own (TLS handshake, connection_made): wait for those too, not only for
            # the connections already known, or one would be left open on a stopped loop
            while ((self._state.connections or any(t is not me for t in asyncio.all_tasks()))
                   and loop.time() < deadline):
                idle_ends = loop.time() >= grace_end
                for conn in list(self._state.connections):
                    if idle_ends and not (conn.closing or conn.busy or conn.queue or conn.started or conn.in_body):
                        conn.close()
                await asyncio.sleep(0.01)
            if server is not None:
                server.close()  # closes this instance's duplicate of the listening socket only
            for conn in list(self._state.connections):
                conn.close()
            await asyncio.sleep(0)  # let the transports close their sockets before the loop stops

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(self.response_timeout + 2)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        loop.close()
        self._server = None
        self.ctx.listeners.close()

    # ----------------------------------------------------------------- refusals
    def _refused(self, req: Request | None, peer: str, status: int, reason: str) -> None:
        """Count and log a refusal: path, peer, status and reason; never the body or a secret."""
        key = f"refused_{status}"
        self.stats[key] = self.stats.get(key, 0) + 1
        admitted = self._log_window.admit()
        if admitted.suppressed:
            self.ctx.logger.warning("{} more refusals not logged in the last {:.0f} s", admitted.suppressed,
                                    admitted.closed_after_s)
        if admitted.log:
            path = req.path if req is not None else "-"
            self.ctx.logger.warning("refused {} {} from {}: {} {}", req.method if req else "-", self.ctx.redact(path), peer,
                                    status, self.ctx.redact(reason))

    # ----------------------------------------------------------------- app
    def _route(self, path: str) -> _Route | None:
        return self.routes.get(path) or self.routes.get(path.rstrip("/") or "/")

    def precheck(self, req: Request) -> Response | None:
        """Decide from the head alone, before the body is read."""
        self.stats["requests"] += 1
        route = self._route(req.path)
        if route is None:
            return self._refuse(req, 404, "unknown path")
        if route.kind == "hec_health":
            return None if req.method in ("GET", "HEAD") else self._refuse(req, 405, "use GET", {"Allow": "GET"})
        if req.method != "POST":
            return self._refuse(req, 405, "use POST", {"Allow": "POST"})
        if req.content_length is None and not req.chunked:
            return self._refuse(req, 411, "Content-Length required")
        if (req.content_length or 0) > self.max_body:
            return self._refuse(req, 413, f"body too large (limit {self.max_body} bytes)")
        if route.types is not None:
            ctype = req.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if ctype and ctype not in route.types and not (ctype.startswith("application/") and ctype.endswith("+json")):
                return self._refuse(req, 415, f"unsupported content type {ctype[:60]}; expected one of {', '.join(route.types)}, application/*+json")
        auth = route.auth
        if auth is not None and not auth.hmac_secrets and not auth.open:  # header-only checks: refuse before reading
            reason = auth.check(req.headers, req.query, b"")
            if reason is not None:
                return self._unauthorized(req, route, reason)
        return None

    def _refuse(self, req: Request, status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
        self._refused(req, req.peer, status, reason)
        route = self._route(req.path)
        if route is not None and route.kind.startswith("hec"):
            return json_response(status, hec_answer(reason, 6 if status < 500 else 9), headers)
        return json_response(status, {"error": reason}, headers)

    def _unauthorized(self, req: Request, route: _Route, reason: str) -> Response:
        if route.kind.startswith("hec"):
            status, answer = hec_auth_refusal(req.headers.get("authorization"))
            self._refused(req, req.peer, status, reason)
            return json_response(status, answer)
        self._refused(req, req.peer, 401, reason)
        return json_response(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"} if route.auth and route.auth.bearer else None)

    def handle(self, req: Request, answer: Answer) -> Response | None:
        """Answer at once (health, a signature refused) or queue the records and answer once they are committed."""
        route = self._route(req.path)
        assert route is not None
        if route.kind == "hec_health":
            return json_response(200, hec_answer("HEC is healthy", 17))
        if route.auth is not None and route.auth.hmac_secrets:
            reason = route.auth.check(req.headers, req.query, req.body)
            if reason is not None:
                return self._unauthorized(req, route, reason)
        received = utcnow()
        origin: dict[str, Any] = {"input": self.name, "path": route.path, "peer": req.peer}
        if route.keep:
            kept = {h: req.headers[h] for h in route.keep if h in req.headers}
            if kept:
                origin["headers"] = kept
        assert route.decoder is not None
        if route.kind == "hec_event":
            try:
                envelopes = split_envelopes(req.body)
            except HecError as exc:
                extra = {"invalid-event-number": exc.index} if exc.index is not None else {}
                self._keep_refused(req, route, origin, received, f"HEC: {exc}", answer,
                                   json_response(400, hec_answer(str(exc), exc.code, **extra)))
                return None
            records = [self._hec_record(ev, meta, route.decoder, origin, received) for ev, meta in envelopes]
        elif route.kind == "hec_raw":
            records = [RawRecord(line, route.decoder, origin, received) for line in req.body.splitlines() if line.strip()]
            if not records:
                self._keep_refused(req, route, origin, received, "HEC: No data", answer,
                                   json_response(400, hec_answer("No data", 5)))
                return None
        else:
            empty = not req.body.strip()  # refused, but kept as a dead letter like any refused body
            records = [RawRecord(req.body, Refusal("empty body") if empty else route.decoder, origin, received)]
        self._spool(req, route, records, route.dedup, answer, lambda outcome: self._answer(req, route, outcome))
        return None

    def _keep_refused(self, req: Request, route: _Route, origin: dict[str, Any], received: datetime, reason: str,
                      answer: Answer, refusal: Response) -> None:
        """Keep a body refused on sight in the dead-letter store, then answer ``refusal`` (or 503 if it could not be kept)."""
        def refuse(_: RequestResult) -> Response:
            self._refused(req, req.peer, refusal.status, reason)
            return refusal

        self._spool(req, route, [RawRecord(req.body, Refusal(reason), origin, received)], False, answer, refuse)

    def _spool(self, req: Request, route: _Route, records: list[RawRecord], dedup: bool, answer: Answer,
               then: Callable[[RequestResult], Response]) -> None:
        """Queue ``records`` for the next commit; ``answer`` gets ``then(result)`` once they are committed, else a 503."""
        def reply(outcome: Outcome) -> None:
            if outcome is None:
                self._refused(req, req.peer, 503, "the spool did not commit within response_timeout_s")
                answer(self._busy(route, "spool is slow, retry later"))
            elif isinstance(outcome, Exception):
                self._refused(req, req.peer, 500, f"internal error: {type(outcome).__name__}: {outcome}")
                answer(json_response(500, {"error": "internal error"}, close=True))
            elif outcome.status is not SubmitStatus.ACCEPTED:
                text = "spool full, retry later" if outcome.status is SubmitStatus.FULL else "shutting down"
                self._refused(req, req.peer, 503, text)
                answer(self._busy(route, text))
            else:
                try:
                    resp = then(outcome)
                except Exception as exc:  # an application bug answers 500, the server goes on
                    self._refused(req, req.peer, 500, f"internal error: {type(exc).__name__}: {exc}")
                    resp = json_response(500, {"error": "internal error"}, close=True)
                answer(resp)

        self._batcher.add(records, dedup, reply)

    def _busy(self, route: _Route, text: str) -> Response:
        headers = {"Retry-After": self.retry_after}
        if route.kind.startswith("hec"):
            return json_response(503, hec_answer("Server is busy", 9), headers)
        return json_response(503, {"error": text}, headers)

    def _answer(self, req: Request, route: _Route, outcome: RequestResult) -> Response:
        errors = outcome.errors
        if outcome.failed_all:
            # nothing usable: the sender should fix it (the body is in the dead-letter store)
            self._refused(req, req.peer, 400, errors[0])
            if route.kind.startswith("hec"):
                return json_response(400, hec_answer("Invalid data format", 6, detail=errors[0]))
            return json_response(400, {"error": errors[0], "errors": errors[:20]})
        self.stats["accepted"] += 1
        self.stats["events"] += outcome.events
        if route.kind.startswith("hec"):
            return Response(200, HEC_OK_BODY)
        if outcome.duplicates:
            self.stats["duplicates"] += outcome.duplicates
        if errors:
            body: dict[str, Any] = {"status": "ok", "accepted": outcome.events}
            if outcome.duplicates is not None:
                body["duplicates"] = outcome.duplicates
            body["errors"] = errors[:20]
            return json_response(200, body)
        return Response(200, self._ok_body(outcome.events, outcome.duplicates))

    def _ok_body(self, events: int, duplicates: int | None) -> bytes:
        """The body of a plain 2xx, made once per (events, duplicates): most answers are alike."""
        key = (events, duplicates)
        body = self._ok_bodies.get(key)
        if body is None:
            answer: dict[str, Any] = {"status": "ok", "accepted": events}
            if duplicates is not None:
                answer["duplicates"] = duplicates
            body = orjson.dumps(answer) + b"\n"
            if len(self._ok_bodies) < 1024:
                self._ok_bodies[key] = body
        return body

    def _hec_record(self, event: object, meta: dict[str, Any], decoder: Decoder, origin: dict[str, Any],
                    received: datetime) -> RawRecord:
        o = {**origin, "hec": meta} if meta else origin
        if isinstance(event, str):
            return RawRecord(event.encode("utf-8"), decoder, o, received)
        return RawRecord(orjson.dumps(event), decoder, o, received, parsed=event)
