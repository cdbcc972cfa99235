"""Options of the ``otlp`` sink."""

from __future__ import annotations

from typing import Any

from agent.sdk import TLS_SCHEMA, describe, otlp_missing, tls_check, url_check

__all__ = ["CONFIG_SCHEMA", "DEFAULTS", "SECRET_HEADER_NAMES", "check_config"]



#: Header names whose values are secrets (compared case-insensitively).
SECRET_HEADER_NAMES = frozenset({"authorization", "x-api-key", "api-key", "x-honeycomb-team", "dd-api-key",
                                 "signoz-access-token", "x-auth-token", "x-scope-orgid"})

CONFIG_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "required": True, "check_with": url_check,
            "meta": {**describe("The OTLP/HTTP logs endpoint, path included (a Collector's is http://HOST:4318/v1/logs)."),
                     "example": "http://127.0.0.1:4318/v1/logs"}},
    "encoding": {"type": "string", "default": "protobuf", "allowed": ["protobuf", "json"],
                 "meta": describe("Request body: protobuf (application/x-protobuf, OTLP's default) or json (OTLP/JSON).")},
    "gzip": {"type": "boolean", "default": True, "meta": describe("Compress request bodies (Content-Encoding: gzip).")},
    "body": {"type": "string", "default": "title", "allowed": ["title", "event"],
             "meta": describe("LogRecord body: title (a string; the other fields become siemrelay.* attributes) or "
                        "event (the whole native event as a map).")},
    "include_raw": {"type": "boolean", "default": False,
                    "meta": describe("With body: title, also send the vendor payload as the siemrelay.raw attribute (a map).")},
    "service_name": {"type": "string", "default": "siemrelay", "empty": False,
                     "meta": describe("Resource attribute service.name.")},
    "resource": {"type": "dict", "default": {}, "keysrules": {"type": "string", "empty": False},
                 "valuesrules": {"type": ["string", "integer", "float", "boolean"]},
                 "meta": describe("More resource attributes (e.g. deployment.environment.name: prod); host.name is this machine's.")},
    "headers": {"type": "dict", "default": {}, "keysrules": {"type": "string", "regex": r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"},
                "valuesrules": {"type": "string"},
                "meta": describe("Extra request headers (an API key for a vendor endpoint); Authorization and API-key values are redacted.")},
    "tls": TLS_SCHEMA,
}

#: OTLP/HTTP: only 429, 502, 503 and 504 may be retried (with Retry-After); every other
#: 4xx or 5xx must not be, so it goes to dead letters with the peer's reason.
DEFAULTS: dict[str, dict[str, Any]] = {
    "batch": {"max_events": 500, "max_bytes": 4 << 20, "max_wait_s": 0.5},
    "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 120.0, "timeout_s": 15.0,
              "retry_on": ["connection", "timeout", "429", "502", "503", "504"]},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """The protobuf messages must be installed; TLS files must exist."""
    problems = tls_check(config.get("tls") or {}, server=False)
    missing = otlp_missing()
    if missing:
        problems.append(missing)
    return problems
