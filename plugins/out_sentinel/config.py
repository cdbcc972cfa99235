"""Options of the ``sentinel`` sink (Azure Monitor Logs Ingestion API, the way into Microsoft Sentinel)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from agent.sdk import IMDS_ENDPOINT, PROXY_SCHEMA, SCHEMA_RULES, TLS_SCHEMA, describe, tls_check, url_check

__all__ = ["CONFIG_SCHEMA", "check_config", "MAX_CALL_BYTES"]

#: The Logs Ingestion API refuses calls over 1 MB; the official client cuts its chunks at 1 MiB of JSON.
MAX_CALL_BYTES = 1024 * 1024



CONFIG_SCHEMA: dict[str, Any] = {
    "endpoint": {"type": "string", "required": True, "check_with": url_check,
                 "meta": {**describe("Logs ingestion endpoint: the DCR's (https://<dcr>.<region>-1.ingest.monitor.azure.com) "
                            "or a data collection endpoint's."), "example": "https://siemrelay-dcr-x1y2.westeurope-1.ingest.monitor.azure.com"}},
    "dcr_immutable_id": {"type": "string", "required": True, "regex": r"^dcr-[0-9a-fA-F]{32}$",
                         "meta": {**describe("The data collection rule's immutable id (dcr- and 32 hex digits; JSON view of the DCR)."), "example": "dcr-00000000000000000000000000000000"}},
    "stream": {"type": "string", "required": True, "regex": r"^(Custom|Microsoft)-[A-Za-z0-9_]{1,100}$",
               "meta": {**describe("Stream declared in the DCR, e.g. Custom-SiemrelayEvents (its transform writes the table)."), "example": "Custom-SiemrelayEvents"}},
    "tenant_id": {"type": "string", "nullable": True, "default": None,
                  "meta": {**describe("Microsoft Entra tenant of the app registration (client credentials)."), "example": "00000000-0000-0000-0000-000000000000"}},
    "client_id": {"type": "string", "nullable": True, "default": None,
                  "meta": {**describe("Application (client) id; with managed_identity, a user-assigned identity's client id."), "example": "11111111-1111-1111-1111-111111111111"}},
    "client_secret": {"type": "string", "nullable": True, "default": None,
                      "meta": {**describe("The app's client secret; normally ${SENTINEL_CLIENT_SECRET}. Never logged."), "example": "${SENTINEL_CLIENT_SECRET}"}},
    "managed_identity": {"type": "boolean", "default": False,
                         "meta": describe("Take tokens from the Azure VM's managed identity (IMDS) instead of a client secret.")},
    "authority": {"type": "string", "default": "https://login.microsoftonline.com", "check_with": url_check,
                  "meta": describe("Entra ID authority host; sovereign clouds: https://login.microsoftonline.us, "
                             "https://login.chinacloudapi.cn.")},
    "audience": {"type": "string", "default": "https://monitor.azure.com", "check_with": url_check,
                 "meta": describe("Token audience of Azure Monitor; sovereign clouds: https://monitor.azure.us, "
                            "https://monitor.azure.cn.")},
    "imds_endpoint": {"type": "string", "default": IMDS_ENDPOINT, "check_with": url_check,
                      "meta": describe("Managed identity token endpoint (the instance metadata service); change only for tests.")},
    "api_version": {"type": "string", "default": "2023-01-01", "meta": describe("Logs Ingestion API version.")},
    "schema": SCHEMA_RULES,
    "columns": {"type": "dict", "default": {}, "keysrules": {"type": "string", "regex": r"^[A-Za-z_][A-Za-z0-9_]{0,44}$"},
                "valuesrules": {"type": "string", "empty": False},
                "meta": describe("Column map {Column: dotted.path}: each row has TimeGenerated plus exactly these columns, "
                           "taken from the rendered event; empty sends the whole event with TimeGenerated added.")},
    "gzip": {"type": "boolean", "default": True, "meta": describe("Compress request bodies (Content-Encoding: gzip).")},
    "gzip_level": {"type": "integer", "default": 1, "min": 1, "max": 9, "meta": describe("zlib level, 1 fastest.")},
    "tls": TLS_SCHEMA,
    "proxy": PROXY_SCHEMA,
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks of a ``sentinel`` section: exactly one way to obtain tokens."""
    problems = tls_check(config.get("tls") or {}, server=False)
    if config.get("managed_identity"):
        if config.get("client_secret"):
            problems.append("managed_identity: true takes no client_secret (set one or the other)")
    else:
        missing = [k for k in ("tenant_id", "client_id", "client_secret") if not config.get(k)]
        if missing:
            problems.append(f"{', '.join(missing)} required for client credentials (or set managed_identity: true)")
    endpoint = urlsplit(config.get("endpoint") or "")
    if endpoint.scheme == "http" and endpoint.hostname not in ("127.0.0.1", "localhost", "::1"):
        problems.append("endpoint uses plain http: bearer tokens would cross the network in clear text; use https://")
    return problems
