"""The core keys of every sink section (batch, retry, circuit breaker, rate limit, flood) and
how a sink type's own schema is composed with them.

In the SDK because plugins compose their schema with it (``agent.sdk.compose_sink_schema``,
the conformance suite) and the configuration package validates with it: both import it
from here, so neither imports the other.
"""

from __future__ import annotations

import copy
from typing import Any

from agent.sdk.describe import describe as _d  # the one description helper, short at the many call sites

__all__ = ["SINK_CORE_SCHEMA", "RETRY_SCHEMA", "BATCH_SCHEMA", "CIRCUIT_SCHEMA", "RATE_SCHEMA", "FLOOD_SCHEMA",
           "compose_sink_schema", "with_nested_defaults"]


def _attempts(value: object) -> Any:
    """``max_attempts``: ``unlimited`` is stored as -1; any other word is an error."""
    if isinstance(value, str):
        if value.strip().lower() == "unlimited":
            return -1
        raise ValueError(f"expected 0-10 or unlimited, found {value!r}")
    return value


RETRY_SCHEMA: dict[str, Any] = {
    "max_attempts": {"type": ["integer", "string"], "coerce": _attempts, "min": -1, "max": 10, "default": "unlimited",
                     "meta": _d("Retries after the first send before a batch goes to dead letters: 0-10 (like a "
                                "retry_count), or unlimited (-1). A sink whose circuit is open keeps its events queued whatever this says.")},
    "initial_backoff_s": {"type": "number", "default": 1.0, "min": 0,
                          "meta": _d("Delay before the first retry.")},
    "multiplier": {"type": "number", "default": 2.0, "min": 1.0,
                   "meta": _d("Each delay is the previous one times this (ZeroPath: 30 s x 2 = 1, 2, 4, 8, 16 min).")},
    "max_backoff_s": {"type": "number", "default": 300.0, "min": 0,
                      "meta": _d("Upper bound of one computed delay.")},
    "jitter": {"type": "string", "default": "full", "allowed": ["full", "equal", "none"],
               "meta": _d("full: each delay is drawn uniformly from 0 to the computed delay (AWS full jitter); "
                          "equal: half fixed, half random; none: exact delays.")},
    "timeout_s": {"type": "number", "default": 10.0, "min": 1, "max": 30,
                  "meta": _d("Per-attempt timeout of the sink's transport, 1-30 s (like timeout_ms 1000-30000).")},
    "retry_on": {"type": "list", "default": ["connection", "timeout", "408", "429", "5xx"],
                 "schema": {"type": "string", "regex": r"^(connection|timeout|[1-5]xx|[1-5][0-9][0-9])$"},
                 "meta": _d("Failures that are retried: connection, timeout, a status code (503) or a class (5xx). "
                            "Anything else (other 4xx, malformed data) goes straight to dead letters.")},
    "max_retry_after_s": {"type": "number", "default": 900.0, "min": 0,
                          "meta": _d("A peer's Retry-After (429, 503) replaces the computed delay, up to this many seconds.")},
    "schedule_s": {"type": "list", "default": [], "schema": {"type": "number", "min": 0},
                   "meta": _d("Explicit delays before retries 1..N (the last one repeats); overrides the exponential settings.")},
}

BATCH_SCHEMA: dict[str, Any] = {
    "max_events": {"type": "integer", "default": 500, "min": 1, "meta": _d("Most events per batch sent to the sink.")},
    "max_bytes": {"type": "integer", "default": 1 << 20, "min": 1, "meta": _d("Most bytes (native JSON size) per batch.")},
    "max_wait_s": {"type": "number", "default": 0.2, "min": 0,
                   "meta": _d("How long a partial batch may wait for more events before it is sent.")},
}

CIRCUIT_SCHEMA: dict[str, Any] = {
    "failure_threshold": {"type": "integer", "default": 5, "min": 1,
                          "meta": _d("Consecutive failed deliveries that open the circuit (the sink is marked unhealthy; events keep spooling).")},
    "cooldown_s": {"type": "number", "default": 30.0, "min": 0,
                   "meta": _d("Time an open circuit waits before a half-open probe; `siemrelay sinks enable` closes it at once.")},
}

RATE_SCHEMA: dict[str, Any] = {
    "per_second": {"type": "number", "default": 0, "min": 0,
                   "meta": _d("Sustained rate in `unit`s per second; 0 means unlimited.")},
    "burst": {"type": "integer", "default": 1, "min": 1, "meta": _d("Units allowed at once above the sustained rate (bucket size).")},
    "unit": {"type": "string", "default": "requests", "allowed": ["requests", "events"],
             "meta": _d("requests: one token per send (batch); events: one token per event, and a batch never holds more than burst events.")},
}

FLOOD_SCHEMA: dict[str, Any] = {
    "per_scan": {"type": "integer", "default": 0, "min": 0,
                 "meta": _d("Most finding events per scan delivered to this sink (Detectify: 100); 0 means no cap.")},
    "per_finding_type": {"type": "integer", "default": 0, "min": 0,
                         "meta": _d("Most finding events per finding type within a scan (Detectify: 10); 0 means no cap.")},
    "finding_types": {"type": "string", "default": "finding.",
                      "meta": _d("Event types counted as finding messages: those starting with this prefix.")},
    "type_field": {"type": "string", "default": "finding.category",
                   "meta": _d("Event field that names the finding type (falls back to the title).")},
    "window_s": {"type": "number", "default": 86400, "min": 1,
                 "meta": _d("A scan's counters are forgotten after this long without events (or when its scan.completed event passes).")},
    "suppressed": {"type": "string", "default": "dead_letter", "allowed": ["dead_letter", "drop"],
                   "meta": _d("What becomes of events over a cap: kept as dead letters (reason flood control) or dropped; "
                              "either way one summary event per scan and cap is delivered instead.")},
}

SINK_CORE_SCHEMA: dict[str, Any] = {
    "type": {"type": "string", "required": True, "meta": _d("Sink type, e.g. file, syslog, splunk_hec.")},
    "enabled": {"type": "boolean", "default": True, "meta": _d("false keeps the section but routes nothing to it.")},
    "batch": {"type": "dict", "default": {}, "schema": BATCH_SCHEMA, "meta": _d("How events are grouped per send.")},
    "retry": {"type": "dict", "default": {}, "schema": RETRY_SCHEMA, "meta": _d("Retry policy for failed sends.")},
    "circuit_breaker": {"type": "dict", "default": {}, "schema": CIRCUIT_SCHEMA, "meta": _d("When to stop trying for a while.")},
    "rate_limit": {"type": "dict", "default": {}, "schema": RATE_SCHEMA, "meta": _d("Token bucket on deliveries.")},
    "encode_in": {"type": "string", "default": "main", "allowed": ["auto", "child", "main"],
                  "meta": _d("Where this sink's batches are encoded: child (a process of its own, so a second core does "
                             "the work; for sinks with a pure encoder such as syslog and cef, others always encode in the "
                             "main process), main (in the agent's process, the default: measured on a busy 2-core machine the "
                             "child did not pay for its CPU and memory), or auto (child when the agent may use "
                             "more than one core).")},
    "flood": {"type": "dict", "default": {}, "schema": FLOOD_SCHEMA,
              "meta": _d("Caps on finding messages per scan and per finding type; a summary event replaces what is cut.")},
}


def with_nested_defaults(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy where every optional dict field with a sub-schema defaults to ``{}``.

    cerberus fills nested defaults only inside a dict that exists; this makes an
    absent ``retry:`` block come out with all its defaults.
    """
    out = copy.deepcopy(schema)
    for rules in out.values():
        if isinstance(rules, dict) and rules.get("type") == "dict" and isinstance(rules.get("schema"), dict):
            rules["schema"] = with_nested_defaults(rules["schema"])
            if not rules.get("required") and "default" not in rules:
                rules["default"] = {}
    return out


def _override_defaults(schema: dict[str, Any], defaults: dict[str, Any]) -> None:
    for block, values in (defaults or {}).items():
        rules = schema.get(block)
        if not rules or not isinstance(values, dict):
            continue
        sub = rules.get("schema", {})
        for key, value in values.items():
            if key in sub:
                sub[key]["default"] = value


def compose_sink_schema(plugin_schema: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Core sink keys plus the plugin's keys, with the sink type's defaults applied."""
    schema = copy.deepcopy(SINK_CORE_SCHEMA)
    schema.update(copy.deepcopy(plugin_schema))
    _override_defaults(schema, defaults or {})
    return with_nested_defaults(schema)
