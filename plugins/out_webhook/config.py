"""Options of the ``webhook`` sink (generic JSON POST, optional HMAC signature)."""

from __future__ import annotations

from typing import Any

from agent.sdk.net import url_check
from agent.sdk.render import SCHEMA_RULES
from agent.sdk.proxy import PROXY_SCHEMA
from agent.sdk.tls import TLS_SCHEMA, tls_check
from agent.sdk import describe

__all__ = ["CONFIG_SCHEMA", "SECRET_HEADER_NAMES", "check_config", "derive_config"]



#: Header names whose values are redacted like secrets (compared case-insensitively by the sink).
SECRET_HEADER_NAMES = frozenset({"authorization", "x-api-key", "api-key", "x-auth-token", "x-token", "proxy-authorization"})

CONFIG_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "required": True, "check_with": url_check,
            "meta": describe("Where to POST; may embed a key, so it is never logged.")},
    "format": {"type": "string", "default": "array", "allowed": ["object", "array", "ndjson"],
               "meta": describe("Body: object (one event per request), array (a JSON array per batch) or ndjson (one JSON per line).")},
    "schema": SCHEMA_RULES,
    "envelope": {"type": "string", "default": "none", "allowed": ["none", "hec"],
                 "meta": describe("none: the event as is; hec: wrapped as {time, host, source, sourcetype, event} (the form ZeroPath sends).")},
    "source": {"type": "string", "default": "siemrelay", "meta": describe("source of the hec envelope.")},
    "sourcetype": {"type": "string", "default": "siemrelay:event", "meta": describe("sourcetype of the hec envelope.")},
    "host": {"type": "string", "nullable": True, "default": None, "meta": describe("host of the hec envelope; default this machine's name.")},
    "headers": {"type": "dict", "default": {}, "keysrules": {"type": "string", "regex": r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"},
                "valuesrules": {"type": "string"},
                "meta": describe("Extra request headers; values of Authorization and API-key headers are redacted in logs.")},
    "hmac": {"type": "dict", "default": {}, "meta": describe("HMAC-SHA256 signature of the exact body bytes."), "schema": {
        "secret": {"type": "string", "nullable": True, "default": None,
                   "meta": describe("Shared secret; no signature when unset. Normally ${WEBHOOK_SECRET}.")},
        "header": {"type": "string", "default": "X-Siemrelay-Signature", "meta": describe("Header carrying the hex signature.")},
        "prefix": {"type": "string", "default": "sha256=", "meta": describe("Text before the hex digest (e.g. sha256=, or empty).")},
        "timestamp_header": {"type": "string", "default": "X-Siemrelay-Timestamp",
                             "meta": describe("Header carrying the send time (epoch seconds); empty for none.")},
        "sign_timestamp": {"type": "boolean", "default": False,
                           "meta": describe("Sign '<timestamp>.<body>' instead of the body alone (replay protection, Stripe style).")},
    }},
    "tls": TLS_SCHEMA,
    "proxy": PROXY_SCHEMA,
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks of a ``webhook`` section."""
    problems = tls_check(config.get("tls") or {}, server=False)
    hmac_cfg = config.get("hmac") or {}
    if hmac_cfg.get("secret") is not None and len(hmac_cfg["secret"]) < 8:
        problems.append("hmac.secret is shorter than 8 characters")
    return problems


def derive_config(config: dict[str, Any]) -> dict[str, Any]:
    """``format: object`` posts one event per request, so its batch is one event: a failed
    post then never resends an earlier event (at-least-once stays exact). Pure."""
    if config.get("format") != "object":
        return config
    return {**config, "batch": {**(config.get("batch") or {}), "max_events": 1}}
