"""Options of the ``otlp`` source and of the ``otlp`` decoder."""

from __future__ import annotations

from typing import Any

from agent.sdk import ADDRESS_RULES, TLS_SCHEMA, describe, otlp_missing, tls_check

__all__ = ["CONFIG_SCHEMA", "DECODER_SCHEMA", "check_config"]



CONFIG_SCHEMA: dict[str, Any] = {
    "address": {**ADDRESS_RULES, "default": "127.0.0.1:4318",
                "meta": describe("Listen address, host:port (4318 is OTLP/HTTP's port; [::1]:4318 for IPv6).")},
    "path": {"type": "string", "default": "/v1/logs", "regex": "^/.*",
             "meta": describe("URL path of the logs endpoint (OTLP's is /v1/logs).")},
    "decoder": {"type": ["string", "dict"], "default": "otlp",
                "meta": describe("Decoder of each LogRecord (as a JSON object: time_unix_nano, severity_number, body, attributes, resource, ...).")},
    "bearer": {"type": ["string", "list"], "schema": {"type": "string", "empty": False}, "empty": False,
               "nullable": True, "default": None,
               "meta": describe("Required 'Authorization: Bearer <token>' (the Collector's bearertokenauth); a list accepts any of several.")},
    "tls": {**TLS_SCHEMA, "meta": describe("HTTPS: cert_file and key_file; with ca_file, client certificates are required.")},
    "max_body_bytes": {"type": "integer", "default": 10 * 1024 * 1024, "min": 1,
                       "meta": describe("Largest request, compressed or not (413 beyond).")},
    "read_timeout_s": {"type": "number", "default": 10.0, "min": 0.1,
                       "meta": describe("A request must arrive within this time (slow senders are cut off).")},
    "submit_timeout_s": {"type": "number", "default": 2.0, "min": 0, "max": 9,
                         "meta": describe("How long a request waits for spool space before it is answered 503.")},
    "retry_after_s": {"type": "integer", "default": 5, "min": 1,
                      "meta": describe("Retry-After sent with 503 when the spool is full (OTLP senders retry 503).")},
    "dedup": {"type": "boolean", "default": True,
              "meta": describe("Acknowledge but do not forward again a record whose id was seen within agent.dedup.window_s "
                         "(a sender retrying after a timeout).")},
}

DECODER_SCHEMA: dict[str, Any] = {
    "source": {"type": "string", "default": "otlp", "empty": False,
               "meta": describe("Event source of plain log records (records a siemrelay otlp sink sent keep their own).")},
    "event_type": {"type": "string", "default": "log", "empty": False,
                   "meta": describe("Event type of plain log records.")},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """TLS files must exist; the protobuf messages must be installed."""
    problems: list[str] = []
    tls = config.get("tls") or {}
    if tls.get("enabled") or tls.get("cert_file"):
        problems += tls_check(tls, server=True)
    missing = otlp_missing()
    if missing:
        problems.append(missing)
    return problems
