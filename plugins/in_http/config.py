"""Options of the ``http`` source."""

from __future__ import annotations

from typing import Any

from agent.sdk.net import ADDRESS_RULES
from agent.sdk.tls import TLS_SCHEMA, tls_check
from agent.sdk import describe



# A secret that is set must not be empty: `bearer: ""` (or `${TOKEN:-}` with TOKEN unset)
# would otherwise leave the path open without a word.
SECRET_ITEM = {"type": "string", "empty": False}
SECRET_RULES = {"type": ["string", "list"], "schema": SECRET_ITEM, "empty": False, "nullable": True, "default": None}

AUTH_SCHEMA: dict[str, Any] = {
    "hmac": {"type": "dict", "nullable": True, "default": None, "meta": describe(
        "HMAC-SHA256 of the raw body, hex, in a header (Detectify: X-Detectify-Signature; pentest platform: X-Webhook-Signature)."),
        "schema": {
            "header": {"type": "string", "default": "X-Webhook-Signature", "meta": describe("Header that carries the signature.")},
            "secret": {"type": ["string", "list"], "schema": SECRET_ITEM, "required": True, "empty": False,
                       "meta": describe("Shared secret; a list accepts any of several (rotation).")},
            "prefix": {"type": "string", "default": "sha256=",
                       "meta": describe("Prefix before the hex digest; accepted with or without it.")},
            "signed": {"type": "string", "default": "body", "allowed": ["body", "timestamp.body"],
                       "meta": describe("What is signed: the body, or '<timestamp header value>.<body>' (needs auth.timestamp).")},
        }},
    "bearer": {**SECRET_RULES, "meta": describe("Required 'Authorization: Bearer <token>'; a list accepts any of several.")},
    "header": {"type": "dict", "nullable": True, "default": None, "meta": describe(
        "A custom header that must carry a secret (ZeroPath's custom headers, e.g. X-Api-Key)."), "schema": {
            "name": {"type": "string", "required": True, "meta": describe("Header name.")},
            "value": {"type": ["string", "list"], "schema": SECRET_ITEM, "required": True, "empty": False,
                      "meta": describe("Expected value (secret); a list accepts any of several.")},
        }},
    "query_secret": {**SECRET_RULES, "meta": describe("Required query parameter value, ZeroPath inbound style (?secret=...).")},
    "query_param": {"type": "string", "default": "secret", "meta": describe("Name of the query parameter of query_secret.")},
    "timestamp": {"type": "dict", "nullable": True, "default": None, "meta": describe(
        "A header with the send time (epoch seconds or ISO 8601); requests outside the skew are refused (replays)."), "schema": {
            "header": {"type": "string", "default": "X-Webhook-Timestamp", "meta": describe("Header that carries the time.")},
            "max_skew_s": {"type": "number", "default": 300, "min": 1, "meta": describe("Largest accepted difference from now.")},
        }},
}

PATH_SCHEMA: dict[str, Any] = {
    "decoder": {"type": ["string", "dict"], "default": "json",
                "meta": describe("Decoder for bodies posted to this path (escape, detectify, zeropath, pentest, json, ndjson, auto, ...).")},
    "auth": {"type": "dict", "default": {}, "schema": AUTH_SCHEMA,
             "meta": describe("Checks a request must pass (all that are set); none set means open.")},
    "content_types": {"type": "list", "default": [], "schema": {"type": "string"},
                      "meta": describe("Accepted Content-Types (*/* for any); empty: JSON, NDJSON and text/plain. No header is accepted.")},
    "dedup": {"type": "boolean", "nullable": True, "default": None,
              "meta": describe("Override the source's dedup for this path.")},
    "keep_headers": {"type": "list", "default": [], "schema": {"type": "string"},
                     "meta": describe("Request headers copied to origin.headers (e.g. a delivery id); authentication headers are never kept.")},
}

HEC_SCHEMA: dict[str, Any] = {
    "enabled": {"type": "boolean", "default": False, "meta": describe("Serve /services/collector/event and /services/collector/raw.")},
    "token": {**SECRET_RULES, "meta": describe("Token(s) accepted in 'Authorization: Splunk <token>'; required when enabled.")},
    "decoder": {"type": ["string", "dict"], "default": "json", "meta": describe("Decoder of each HEC envelope's `event`.")},
    "raw_decoder": {"type": ["string", "dict"], "default": "raw", "meta": describe("Decoder of each line posted to /raw.")},
    "dedup": {"type": "boolean", "default": False,
              "meta": describe("De-duplicate HEC events by id; off by default because log lines without an id are identified by "
                         "their content, and two identical log lines are two events.")},
}

CONFIG_SCHEMA: dict[str, Any] = {
    "address": {**ADDRESS_RULES, "default": "127.0.0.1:8080",
                "meta": describe("Listen address, host:port ([::1]:8080 for IPv6).")},
    "paths": {"type": "dict", "default": {"/events": {"decoder": "json"}},
              "keysrules": {"type": "string", "regex": "^/.*"},
              "valuesrules": {"type": "dict", "schema": PATH_SCHEMA},
              "meta": describe("URL paths that accept POSTs, each with its decoder and authentication.")},
    "hec": {"type": "dict", "default": {}, "schema": HEC_SCHEMA, "meta": describe("Splunk HEC-compatible intake.")},
    "tls": {**TLS_SCHEMA, "meta": describe("HTTPS: cert_file and key_file; with ca_file, client certificates are required.")},
    "max_body_bytes": {"type": "integer", "default": 10 * 1024 * 1024, "min": 1,
                       "meta": describe("Larger bodies are refused with 413 without being read.")},
    "max_connections": {"type": "integer", "default": 1024, "min": 1,
                        "meta": describe("Most open connections; further ones get 503 and are closed.")},
    "max_connections_per_client": {"type": "integer", "default": 64, "min": 1,
                                   "meta": describe("Most open connections from one peer address; further ones get 429 and are "
                                              "closed at once, so one client cannot lock the other senders out.")},
    "read_timeout_s": {"type": "number", "default": 10.0, "min": 0.1,
                       "meta": describe("A request must arrive whole within this time of its first byte, and a new connection "
                                  "must send its first request within it (slow or idle clients get 408 and are closed).")},
    "idle_timeout_s": {"type": "number", "default": 60.0, "min": 0.1,
                       "meta": describe("A keep-alive connection with no request for this long after its last answer is closed.")},
    "response_timeout_s": {"type": "number", "default": 9.0, "min": 0.1, "max": 9.5,
                           "meta": describe("Longest wait for the spool before answering 503; every 2xx comes within it.")},
    "submit_timeout_s": {"type": "number", "default": 2.0, "min": 0, "max": 9,
                         "meta": describe("How long a request waits for spool space before it is answered 503.")},
    "retry_after_s": {"type": "integer", "default": 5, "min": 1,
                      "meta": describe("Retry-After sent with 503 when the spool is full.")},
    "workers": {"type": ["integer", "string"], "default": "auto", "min": 1, "max": 256,
                "regex": "^auto$",
                "meta": describe("Batches of requests in the spool at once; requests arriving meanwhile join the next batch (one commit each). auto: one, and up to 4 while the batches are large (64 KiB of bodies or more, e.g. NDJSON): those are decoded on the agent's second core while the one before is committed (measured: 1.2-1.35x the events/s with NDJSON of 100 per POST; with one small event per POST more than one only splits the same requests into smaller commits, and is slower). A number: at most that many at any size.")},
    "dedup": {"type": "boolean", "default": True,
              "meta": describe("Acknowledge but do not forward again an event whose id was seen within agent.dedup.window_s.")},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks: TLS files, HMAC over a timestamp that is not configured, HEC without a token."""
    problems: list[str] = []
    tls = config.get("tls") or {}
    if tls.get("enabled") or tls.get("cert_file"):
        problems += tls_check(tls, server=True)
    for path, spec in (config.get("paths") or {}).items():
        auth = spec.get("auth") or {}
        h = auth.get("hmac")
        if h and h.get("signed") == "timestamp.body" and not auth.get("timestamp"):
            problems.append(f"paths.{path}.auth.hmac.signed is timestamp.body but auth.timestamp is not set")
        if path.startswith("/services/collector") and (config.get("hec") or {}).get("enabled"):
            problems.append(f"paths.{path} collides with the HEC endpoints (hec.enabled)")
    hec = config.get("hec") or {}
    if hec.get("enabled") and not hec.get("token"):
        problems.append("hec.token is required when hec.enabled is true")
    return problems
