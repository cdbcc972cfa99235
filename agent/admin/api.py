"""Admin API handlers: a route table of ``(method, path pattern, handler, admin-only)``.

Handlers take a :class:`Request` and return a :class:`Response`; the HTTP server
(``server.py``) owns sockets, authentication and streaming, so these functions
stay plain and unit-testable. Every answer that can carry user data passes through
the redactor: tokens and webhook URLs never leave in an API response.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson
from prometheus_client import CollectorRegistry

from agent.registry import ComponentType
from agent.version import __version__
from agent.admin import actions
from agent.admin.history import MinuteHistory
from agent.admin.metrics import CONTENT_TYPE as METRICS_TYPE
from agent.admin.metrics import render_metrics
from agent.admin.openapi import openapi_document
from agent.admin.page import render_page
from agent.admin.state import (AgentView, RateTracker, event_types, route_views, sink_views, source_views,
                               spool_snapshot)

__all__ = ["Request", "Response", "AdminApi", "ApiError"]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes = b""
    role: str = "read"


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """An error answer (status and message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(body: object, status: int = 200) -> Response:
    return Response(status, orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS) + b"\n")


def _int_param(query: dict[str, str], name: str, default: int, lo: int = 1, hi: int = 1000) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer from {lo} to {hi}") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be an integer from {lo} to {hi}")
    return value


Handler = Callable[[Request, dict[str, str]], Response]


class AdminApi:
    """The handlers, bound to one running agent."""

    def __init__(self, agent: AgentView, rates: RateTracker, registry: CollectorRegistry, *, started_at: float,
                 history: MinuteHistory | None = None, quiet_after_s: float = 900.0,
                 wall: Callable[[], float] = time.time) -> None:
        """:param history: the per-minute ring the page's charts and 5-minute/1-hour totals come from.
        :param quiet_after_s: a source silent this long is flagged quiet (``agent.admin.quiet_after_s``).
        """
        self.agent = agent
        self.rates = rates
        self.registry = registry
        self.started_at = started_at
        self.history = history if history is not None else MinuteHistory()
        self.quiet_after_s = quiet_after_s
        self.wall = wall
        self.watching_since = wall()
        s = r"(?P<name>[^/]+)"
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = [
            ("GET", re.compile(r"/"), self.page, False),
            ("GET", re.compile(r"/health"), self.health, False),
            ("GET", re.compile(r"/ready"), self.ready, False),
            ("GET", re.compile(r"/metrics"), self.metrics, False),
            ("GET", re.compile(r"/openapi\.json"), self.openapi, False),
            ("GET", re.compile(r"/api/v1/status"), self.status, False),
            ("GET", re.compile(r"/api/v1/sinks"), self.list_sinks, False),
            ("GET", re.compile(rf"/api/v1/sinks/{s}"), self.get_sink, False),
            ("POST", re.compile(rf"/api/v1/sinks/{s}/test"), self.test_sink, True),
            ("GET", re.compile(rf"/api/v1/sinks/{s}/deliveries"), self.deliveries, False),
            ("POST", re.compile(rf"/api/v1/sinks/{s}/enable"), self.enable_sink, True),
            ("GET", re.compile(r"/api/v1/sources"), self.list_sources, False),
            ("GET", re.compile(r"/api/v1/event-types"), self.list_event_types, False),
            ("GET", re.compile(r"/api/v1/dlq"), self.list_dlq, False),
            ("POST", re.compile(r"/api/v1/dlq/replay"), self.replay_dlq, True),
        ]

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str], bool] | tuple[None, list[str], bool]:
        """Find the handler; when only the method is wrong, return the allowed methods."""
        allowed: list[str] = []
        for m, pattern, handler, admin in self.routes:
            found = pattern.fullmatch(path)
            if found:
                if m == method or (method == "HEAD" and m == "GET"):
                    return handler, found.groupdict(), admin
                allowed.append(m)
        return None, allowed, False

    # ----------------------------------------------------------------- helpers
    def _sink(self, name: str) -> tuple[ComponentType, dict[str, Any]]:
        found = self.agent.cfg.sinks.get(name)
        if found is None:
            raise ApiError(404, f"no sink named {name!r}")
        return found

    def status_doc(self) -> dict[str, Any]:
        agent = self.agent
        snap = spool_snapshot(agent.spool.path)
        redact = agent.redactor
        recent = [actions.dead_letter_view(d, redact, max_data=512) for d in agent.spool.dead_letters(None, 10)]
        now = self.wall()
        return {"version": __version__, "host": socket.gethostname(),
                "uptime_s": round(time.monotonic() - self.started_at, 3),
                "spool": {"pending_bytes": int(agent.spool.pending_bytes), "max_bytes": int(agent.spool.max_bytes),
                          "full": bool(agent.spool.is_full)},
                "sinks": sink_views(agent, snap, self.rates, history=self.history, now=now),
                "sources": source_views(agent, self.rates, history=self.history, quiet_after_s=self.quiet_after_s,
                                        since=self.watching_since, now=now),
                "routes": route_views(agent),
                "dead_letters": {"total": snap.dead_total, "recent": recent}}

    # ----------------------------------------------------------------- handlers
    def page(self, req: Request, _: dict[str, str]) -> Response:
        html = render_page(self.status_doc(), self.history, role=req.role)
        return Response(200, html.encode("utf-8"), "text/html; charset=utf-8",
                        {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                         "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"})

    def health(self, req: Request, _: dict[str, str]) -> Response:
        return json_response({"status": "ok", "version": __version__, "uptime_s": round(time.monotonic() - self.started_at, 3)})

    def ready(self, req: Request, _: dict[str, str]) -> Response:
        spool = self.agent.spool
        reasons: list[str] = []
        is_open = not spool.closed
        writable = os.access(spool.dir, os.W_OK | os.X_OK) and (not spool.path.exists() or os.access(spool.path, os.W_OK))
        if not is_open:
            reasons.append("the spool is closed (stopping or reloading)")
        if not writable:
            reasons.append(f"the state directory {spool.dir} is not writable")
        if spool.is_full:
            reasons.append("the spool is over its quota: sources are pushed back until sinks catch up")
        stopped = [n for n, w in dict(self.agent.workers).items() if not w.alive]
        if stopped and is_open:
            reasons.append("sink workers not running: " + ", ".join(sorted(stopped)))
        circuits = {n: w.circuit.state for n, w in dict(self.agent.workers).items()}
        body = {"ready": not reasons, "reasons": reasons, "spool": {"open": is_open, "writable": writable, "full": bool(spool.is_full)},
                "sinks": circuits}
        return json_response(body, 200 if not reasons else 503)

    def metrics(self, req: Request, _: dict[str, str]) -> Response:
        return Response(200, render_metrics(self.registry), METRICS_TYPE)

    def openapi(self, req: Request, _: dict[str, str]) -> Response:
        return json_response(openapi_document())

    def status(self, req: Request, _: dict[str, str]) -> Response:
        return json_response(self.status_doc())

    def list_sinks(self, req: Request, _: dict[str, str]) -> Response:
        snap = spool_snapshot(self.agent.spool.path)
        return json_response({"sinks": sink_views(self.agent, snap, self.rates, history=self.history)})

    def get_sink(self, req: Request, p: dict[str, str]) -> Response:
        self._sink(p["name"])
        snap = spool_snapshot(self.agent.spool.path)
        for view in sink_views(self.agent, snap, self.rates, detail=True, history=self.history):
            if view["name"] == p["name"]:
                return json_response(view)
        raise ApiError(404, f"no sink named {p['name']!r}")

    def test_sink(self, req: Request, p: dict[str, str]) -> Response:
        self._sink(p["name"])
        try:
            return json_response(actions.send_test(self.agent, p["name"]))
        except KeyError:
            raise ApiError(404, f"sink {p['name']!r} is disabled") from None

    def deliveries(self, req: Request, p: dict[str, str]) -> Response:
        self._sink(p["name"])
        limit = _int_param(req.query, "limit", 50)
        rows = self.agent.spool.deliveries(p["name"], limit)
        return json_response({"sink": p["name"], "deliveries": [actions.delivery_view(r, self.agent.redactor) for r in rows]})

    def enable_sink(self, req: Request, p: dict[str, str]) -> Response:
        self._sink(p["name"])
        worker = dict(self.agent.workers).get(p["name"])
        if worker is None:
            raise ApiError(404, f"sink {p['name']!r} is disabled")
        worker.reenable()
        return json_response({"sink": p["name"], "circuit": worker.circuit.state})

    def list_sources(self, req: Request, _: dict[str, str]) -> Response:
        return json_response({"sources": source_views(self.agent, self.rates, history=self.history,
                                                      quiet_after_s=self.quiet_after_s, since=self.watching_since)})

    def list_event_types(self, req: Request, _: dict[str, str]) -> Response:
        return json_response({"event_types": event_types(self.agent)})

    def list_dlq(self, req: Request, _: dict[str, str]) -> Response:
        limit = _int_param(req.query, "limit", 50)
        rows = self.agent.spool.dead_letters(req.query.get("sink"), limit)
        return json_response({"dead_letters": [actions.dead_letter_view(d, self.agent.redactor) for d in rows]})

    def replay_dlq(self, req: Request, _: dict[str, str]) -> Response:
        body: Any = {}
        if req.body.strip():
            try:
                body = orjson.loads(req.body)
            except orjson.JSONDecodeError:
                raise ApiError(400, "the body must be JSON: {\"ids\": [1, 2], \"sink\": \"name\"}") from None
        if not isinstance(body, dict) or set(body) - {"ids", "sink"}:
            raise ApiError(400, "the body may only have 'ids' (list of integers) and 'sink' (string)")
        ids, sink = body.get("ids"), body.get("sink")
        if "ids" in body and (not isinstance(ids, list) or len(ids) > 10000
                              or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in ids)):
            raise ApiError(400, "'ids' must be a list of positive integers (at most 10000)")
        if "sink" in body:
            if not isinstance(sink, str):
                raise ApiError(400, "'sink' must be a string")
            self._sink(sink)
        undecodable: list[int] = []
        if ids and sink is None:  # named decode errors are kept, and the answer says so (not a silent 0)
            undecodable = sorted(d.id for d in self.agent.spool.dead_letters(None, len(ids), ids) if d.sink is None)
        n = self.agent.spool.requeue_dead_letters(ids, sink)
        answer: dict[str, Any] = {"replayed": int(n)}
        if undecodable:
            answer["not_replayed"] = [{"id": i, "reason": "a record that could not be decoded: replay re-sends events "
                                                          "to sinks and cannot decode it again"} for i in undecodable]
        return json_response(answer)
