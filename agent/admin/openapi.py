"""The OpenAPI 3.0 description of the admin API, served at ``GET /openapi.json``.

It is the contract the tests hold the server to (schemathesis generates requests
from it and checks every answer against it), so it is written by hand, next to
the handlers, rather than generated from them.
"""

from __future__ import annotations

from typing import Any

from agent.version import __version__

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = {"$ref": "#/components/responses/Error"}
_AUTH = {"401": {"$ref": "#/components/responses/Unauthorized"}}
_ADMIN = {**_AUTH, "403": {"$ref": "#/components/responses/Forbidden"},
          "415": {"$ref": "#/components/responses/NeedsJsonOrBearer"}}
_SINK_PARAM = {"name": "name", "in": "path", "required": True, "description": "The sink's name in the configuration.",
               "schema": {"type": "string"}}
_LIMIT = {"name": "limit", "in": "query", "required": False, "description": "Most rows returned (newest first).",
          "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}}

_SINK_PROPS: dict[str, Any] = {
    "name": {"type": "string"}, "type": {"type": "string"}, "enabled": {"type": "boolean"},
    "state": {"type": "string", "enum": ["ok", "retrying", "half_open", "circuit_open", "stopped", "disabled"]},
    "circuit": {"type": "string", "enum": ["closed", "half_open", "open"]},
    "consecutive_failures": {"type": "integer"}, "queue_depth": {"type": "integer"},
    "oldest_age_s": {"type": "number"}, "events_sent": {"type": "integer"}, "batches_sent": {"type": "integer"},
    "failures": {"type": "integer"}, "retries": {"type": "integer"}, "dead_lettered": {"type": "integer"},
    "dead_letters_stored": {"type": "integer"}, "rate_per_s": {"type": "number"},
    "last_error": {"type": "string", "nullable": True}, "last_success": {"type": "string", "nullable": True},
    "last_latency_ms": {"type": "number", "nullable": True},
    "last_error_plain": {"type": "string", "nullable": True,
                         "description": "last_error in plain words (connection refused by host:port, HTTP status meaning)."},
    "last_success_age_s": {"type": "number", "nullable": True}, "bytes_sent": {"type": "integer"},
    "next_retry_in_s": {"type": "number", "nullable": True,
                        "description": "Seconds until the next attempt while the sink waits (backoff or open circuit)."},
    "circuit_opened_at": {"type": "string", "nullable": True, "description": "When the circuit opened in this outage."},
    "oldest_queued_at": {"type": "string", "nullable": True},
}
_WINDOWS: dict[str, Any] = {f"{what}_{window}": {"type": "integer", "description": f"{what.capitalize()} in the last {words}."}
                            for what in ("events", "bytes") for window, words in (("5m", "5 minutes"), ("1h", "hour"))}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Sink": {"type": "object", "required": list(_SINK_PROPS), "properties": {**_SINK_PROPS, **_WINDOWS}},
    "SinkDetail": {"allOf": [_ref("Sink"), {"type": "object", "required": ["config", "description", "plugin"], "properties": {
        "config": {"type": "object", "description": "The validated section, secrets replaced by ***."},
        "description": {"type": "string"}, "plugin": {"type": "string"}}}]},
    "Source": {"type": "object", "required": ["name", "type", "enabled", "running", "events", "rate_per_s"], "properties": {
        "name": {"type": "string"}, "type": {"type": "string"}, "enabled": {"type": "boolean"}, "running": {"type": "boolean"},
        "records": {"type": "integer"}, "events": {"type": "integer"}, "decode_errors": {"type": "integer"},
        "duplicates": {"type": "integer"}, "unrouted": {"type": "integer"}, "refused_full": {"type": "integer"},
        "rate_per_s": {"type": "number"}, "bytes": {"type": "integer", "description": "Raw bytes received and accepted."},
        "last_event_at": {"type": "string", "nullable": True}, "last_event_age_s": {"type": "number", "nullable": True},
        "quiet": {"type": "boolean", "description": "Running, and nothing received for agent.admin.quiet_after_s."},
        **_WINDOWS}},
    "Route": {"type": "object", "required": ["name", "to", "matched", "queued"], "properties": {
        "name": {"type": "string"}, "to": {"type": "array", "items": {"type": "string"}},
        "matched": {"type": "integer", "description": "Events the route matched."},
        "queued": {"type": "integer", "description": "Events it queued for its sinks (not dropped by its transform)."}}},
    "Delivery": {"type": "object", "required": ["time", "batch_size", "status", "success", "attempt", "latency_ms"], "properties": {
        "id": {"type": "integer"}, "time": {"type": "string"}, "batch_size": {"type": "integer"},
        "event_ids": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string", "description": "ok, retry or reject."}, "code": {"type": "integer", "nullable": True},
        "success": {"type": "boolean"}, "attempt": {"type": "integer"}, "latency_ms": {"type": "number"},
        "error": {"type": "string", "nullable": True}}},
    "TestResult": {"type": "object", "required": ["sink", "status", "ok", "reason", "latency_ms", "event_id"], "properties": {
        "sink": {"type": "string"}, "status": {"type": "string", "enum": ["ok", "retry", "reject"]}, "ok": {"type": "boolean"},
        "reason": {"type": "string"}, "code": {"type": "integer", "nullable": True}, "latency_ms": {"type": "number"},
        "event_id": {"type": "string"}}},
    "DeadLetter": {"type": "object", "required": ["id", "reason", "attempts", "created"], "properties": {
        "id": {"type": "integer"}, "sink": {"type": "string", "nullable": True}, "input": {"type": "string", "nullable": True},
        "event_id": {"type": "string", "nullable": True}, "reason": {"type": "string"}, "attempts": {"type": "integer"},
        "first_attempt": {"type": "string", "nullable": True}, "last_attempt": {"type": "string", "nullable": True},
        "last_error": {"type": "string", "nullable": True}, "created": {"type": "string"},
        "data": {"type": "string", "description": "The stored bytes as text (an event's native JSON, or the undecodable record)."}}},
    "Status": {"type": "object", "required": ["version", "uptime_s", "spool", "sinks", "sources", "dead_letters"], "properties": {
        "version": {"type": "string"}, "uptime_s": {"type": "number"},
        "host": {"type": "string", "description": "The agent's host name (the status page's title)."},
        "routes": {"type": "array", "items": _ref("Route")},
        "spool": {"type": "object", "required": ["pending_bytes", "max_bytes", "full"], "properties": {
            "pending_bytes": {"type": "integer"}, "max_bytes": {"type": "integer"}, "full": {"type": "boolean"}}},
        "sinks": {"type": "array", "items": _ref("Sink")}, "sources": {"type": "array", "items": _ref("Source")},
        "dead_letters": {"type": "object", "required": ["total", "recent"], "properties": {
            "total": {"type": "integer"}, "recent": {"type": "array", "items": _ref("DeadLetter")}}}}},
}


def _op(summary: str, ok: dict[str, Any], *, admin: bool = False, params: list[Any] | None = None,
        extra: dict[str, Any] | None = None, body: dict[str, Any] | None = None, tag: str = "agent") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": {**ok, **(_ADMIN if admin else _AUTH), **(extra or {})}}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    if admin:
        op["description"] = ("Needs the admin token; the read-only token gets 403. Refused as cross-site (403) when "
                             "Origin or Sec-Fetch-Site names a foreign page; needs Authorization: Bearer or "
                             "Content-Type: application/json (415 otherwise).")
    return op


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.0.3 document (a fresh dict each call)."""
    not_found = {"404": _ERR}
    paths: dict[str, Any] = {
        "/health": {"get": _op("Liveness: the process answers.", {"200": _json({"type": "object", "required": ["status"], "properties": {
            "status": {"type": "string", "enum": ["ok"]}, "version": {"type": "string"}, "uptime_s": {"type": "number"}}}, "Alive.")})},
        "/ready": {"get": _op("Readiness: the spool takes events; sinks' circuit states.", {
            "200": _json(_ref("Ready"), "Ready."), "503": _json(_ref("Ready"), "Not ready; `reasons` says why.")})},
        "/metrics": {"get": _op("Prometheus metrics.", {"200": {"description": "Prometheus text format 0.0.4.",
                                                                "content": {"text/plain": {"schema": {"type": "string"}}}}})},
        "/openapi.json": {"get": _op("This document.", {"200": _json({"type": "object"}, "OpenAPI 3.0 document.")})},
        "/api/v1/status": {"get": _op("Everything `siemrelay top` and the status page show.", {"200": _json(_ref("Status"), "Snapshot.")})},
        "/api/v1/sinks": {"get": _op("List sinks with state, rate, queue depth and last error.", {
            "200": _json({"type": "object", "required": ["sinks"], "properties": {"sinks": {"type": "array", "items": _ref("Sink")}}}, "Sinks.")},
            tag="sinks")},
        "/api/v1/sinks/{name}": {"get": _op("One sink, with its configuration (secrets hidden).", {
            "200": _json(_ref("SinkDetail"), "The sink.")}, params=[_SINK_PARAM], extra=not_found, tag="sinks")},
        "/api/v1/sinks/{name}/test": {"post": _op(
            "Send a test event through the sink's real encoder and transport; recorded in its delivery history.",
            {"200": _json(_ref("TestResult"), "The outcome (ok false when the destination failed).")},
            admin=True, params=[_SINK_PARAM], extra=not_found, tag="sinks")},
        "/api/v1/sinks/{name}/deliveries": {"get": _op("Recent delivery attempts, newest first.", {
            "200": _json({"type": "object", "required": ["sink", "deliveries"], "properties": {
                "sink": {"type": "string"}, "deliveries": {"type": "array", "items": _ref("Delivery")}}}, "History.")},
            params=[_SINK_PARAM, _LIMIT], extra={**not_found, "400": _ERR}, tag="sinks")},
        "/api/v1/sinks/{name}/enable": {"post": _op("Re-enable: close the circuit, reset its failure count, retry now.", {
            "200": _json({"type": "object", "required": ["sink", "circuit"], "properties": {
                "sink": {"type": "string"}, "circuit": {"type": "string"}}}, "Re-enabled.")},
            admin=True, params=[_SINK_PARAM], extra=not_found, tag="sinks")},
        "/api/v1/sources": {"get": _op("List sources with counters and rate.", {"200": _json({"type": "object", "required": ["sources"],
            "properties": {"sources": {"type": "array", "items": _ref("Source")}}}, "Sources.")}, tag="sources")},
        "/api/v1/event-types": {"get": _op("Normalised event types the decoders produce.", {"200": _json({
            "type": "object", "required": ["event_types"], "properties": {"event_types": {"type": "array", "items": {
                "type": "object", "required": ["type", "description", "vendor_types"], "properties": {
                    "type": {"type": "string"}, "description": {"type": "string"},
                    "vendor_types": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                                     "description": "Vendor → the vendor's own event types that map to this type."}}}}}}, "Types.")})},
        "/api/v1/dlq": {"get": _op("Dead letters, newest first.", {"200": _json({"type": "object", "required": ["dead_letters"], "properties": {
            "dead_letters": {"type": "array", "items": _ref("DeadLetter")}}}, "Dead letters.")},
            params=[{"name": "sink", "in": "query", "required": False, "schema": {"type": "string"},
                     "description": "Only this sink's dead letters."}, _LIMIT], extra={"400": _ERR}, tag="dlq")},
        "/api/v1/dlq/replay": {"post": _op("Put dead letters back on their sinks' queues.", {"200": _json({
            "type": "object", "required": ["replayed"], "properties": {"replayed": {"type": "integer"}, "not_replayed": {
                "type": "array", "items": {"type": "object", "required": ["id", "reason"], "properties": {
                    "id": {"type": "integer"}, "reason": {"type": "string"}}}}}},
            "How many were requeued, and the named decode dead letters that were kept.")},
            admin=True, extra={"400": _ERR, "404": _ERR}, tag="dlq", body={"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "properties": {
                    "ids": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 10000,
                            "description": "Dead-letter ids (default: all, or all of `sink`)."},
                    "sink": {"type": "string", "description": "Only this sink's dead letters."}}}}}})},
        "/api/v1/tap": {"get": _op("Live events as they are spooled, one native JSON event per line (streams until closed).", {
            "200": {"description": "NDJSON stream; blank lines are keep-alives.", "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
            params=[{"name": "source", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Only events from this source."},
                    {"name": "sink", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Only events routed to this sink."},
                    {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1},
                     "description": "End the stream after this many events."},
                    {"name": "duration_s", "in": "query", "required": False, "schema": {"type": "number", "minimum": 0},
                     "description": "End the stream after this many seconds."}],
            extra={"400": _ERR, "404": _ERR}, tag="tap")},
        "/": {"get": _op("The status page (HTML).", {"200": {"description": "HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}})},
    }
    schemas = dict(SCHEMAS)
    schemas["Ready"] = {"type": "object", "required": ["ready", "reasons", "spool", "sinks"], "properties": {
        "ready": {"type": "boolean"}, "reasons": {"type": "array", "items": {"type": "string"}},
        "spool": {"type": "object", "required": ["open", "writable", "full"], "properties": {
            "open": {"type": "boolean"}, "writable": {"type": "boolean"}, "full": {"type": "boolean"}}},
        "sinks": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Sink name → circuit state."}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "siemrelay admin API", "version": __version__,
                 "description": "Operate a running siemrelay agent. Every endpoint needs a token: "
                                "`Authorization: Bearer TOKEN` (or HTTP Basic with the token as password, for browsers). "
                                "The read-only token may call every GET; POSTs need the admin token."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"basic": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "basic": {"type": "http", "scheme": "basic"}},
            "schemas": schemas,
            "responses": {
                "Error": _json(_ref("Error"), "Error."),
                "Unauthorized": _json(_ref("Error"), "Missing or wrong token."),
                "Forbidden": _json(_ref("Error"), "The read-only token may not change anything, or the request came "
                                                  "from a foreign page (Origin, Sec-Fetch-Site)."),
                "NeedsJsonOrBearer": _json(_ref("Error"), "A state-changing request with Basic credentials and no JSON "
                                                          "content type (what an HTML form sends)."),
            },
        },
    }
