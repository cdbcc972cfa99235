"""Options of the ``elasticsearch`` sink."""

from __future__ import annotations

from typing import Any

from agent.sdk import SCHEMA_RULES, TEMPLATE_CHECK, TLS_SCHEMA, describe, tls_check, url_check

__all__ = ["CONFIG_SCHEMA", "DEFAULTS", "check_config"]



CONFIG_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "required": True, "check_with": url_check,
            "meta": {**describe("Base URL of the cluster (the sink POSTs to <url>/_bulk)."), "example": "https://127.0.0.1:9200"}},
    "index": {"type": "string", "default": "logs-siemrelay-default", "empty": False, "check_with": TEMPLATE_CHECK,
              "meta": describe("Data stream or index of each event, lower-cased; a template is allowed "
                         "(logs-siemrelay-{{ source }}, siemrelay-{{ year }}.{{ month }}).")},
    "schema": {**SCHEMA_RULES, "default": "ecs"},
    "api_key": {"type": "string", "nullable": True, "default": None, "empty": False,
                "meta": describe("Encoded API key (the 'encoded' value Elasticsearch returns), sent as 'Authorization: ApiKey ...'.")},
    "username": {"type": "string", "nullable": True, "default": None, "empty": False,
                 "meta": describe("Basic authentication user (with password); not with api_key.")},
    "password": {"type": "string", "nullable": True, "default": None,
                 "meta": describe("Basic authentication password.")},
    "gzip": {"type": "boolean", "default": True, "meta": describe("Compress request bodies (Content-Encoding: gzip).")},
    "tls": TLS_SCHEMA,
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "batch": {"max_events": 500, "max_bytes": 5 << 20, "max_wait_s": 1.0},
    "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 120.0, "timeout_s": 30.0},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """One authentication method; TLS files must exist."""
    problems = tls_check(config.get("tls") or {}, server=False)
    if config.get("api_key") and config.get("username"):
        problems.append("api_key and username are both set; choose one authentication method")
    if config.get("username") and config.get("password") is None:
        problems.append("username is set without password")
    return problems
