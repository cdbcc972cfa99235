"""Options of the ``splunk_hec`` sink (Splunk HTTP Event Collector, JSON event endpoint)."""

from __future__ import annotations

from typing import Any

from agent.sdk.net import url_check
from agent.sdk.render import SCHEMA_RULES
from agent.sdk.proxy import PROXY_SCHEMA
from agent.sdk.tls import TLS_SCHEMA, tls_check
from agent.sdk import TEMPLATE_CHECK, describe

__all__ = ["CONFIG_SCHEMA", "check_config"]



CONFIG_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "required": True, "check_with": url_check,
            "meta": describe("HEC base URL (https://splunk.example.com:8088) or the full /services/collector/event URL.")},
    "token": {"type": "string", "required": True, "empty": False,
              "meta": describe("HEC token, sent as 'Authorization: Splunk <token>'; normally ${SPLUNK_HEC_TOKEN}. Never logged.")},
    "index": {"type": "string", "nullable": True, "default": None, "check_with": TEMPLATE_CHECK,
              "meta": describe("Target index; default the token's default index; a template (siem_{{ source }}) takes it "
                         "from the event, and an event whose template renders empty goes to the default index.")},
    "source": {"type": "string", "default": "siemrelay", "check_with": TEMPLATE_CHECK,
               "meta": describe("source of each event; a template takes it from the event (e.g. {{ source }}).")},
    "sourcetype": {"type": "string", "default": "_json", "check_with": TEMPLATE_CHECK,
                   "meta": describe("sourcetype of each event (_json gives Splunk's automatic JSON field extraction); "
                              "a template is allowed.")},
    "host": {"type": "string", "nullable": True, "default": None, "check_with": TEMPLATE_CHECK,
             "meta": describe("host of each event; default this machine's name; a template takes it from the event "
                        "(e.g. {{ asset.host }}).")},
    "schema": SCHEMA_RULES,
    "gzip": {"type": "boolean", "default": True, "meta": describe("Compress request bodies (Content-Encoding: gzip).")},
    "gzip_level": {"type": "integer", "default": 1, "min": 1, "max": 9,
                   "meta": describe("zlib level: 1 is fastest and already shrinks JSON about 5x; 9 is smallest.")},
    "ack": {"type": "dict", "default": {}, "meta": describe("Indexer acknowledgement (the token must have it enabled)."), "schema": {
        "enabled": {"type": "boolean", "default": False,
                    "meta": describe("Count a batch as delivered only once /services/collector/ack says it was indexed.")},
        "timeout_s": {"type": "number", "default": 60.0, "min": 1,
                      "meta": describe("How long to poll for the acknowledgement before the batch is sent again.")},
        "poll_interval_s": {"type": "number", "default": 1.0, "min": 0.01,
                            "meta": describe("Longest pause between two polls (polling starts faster and backs off to this).")},
    }},
    "healthcheck_on_start": {"type": "boolean", "default": True,
                             "meta": describe("Probe /services/collector/health when the sink opens and log the result.")},
    "tls": TLS_SCHEMA,
    "proxy": PROXY_SCHEMA,
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks of a ``splunk_hec`` section."""
    problems = tls_check(config.get("tls") or {}, server=False)
    url = config.get("url") or ""
    if url.startswith("http://") and not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        problems.append("url uses plain http: the HEC token would cross the network in clear text; use https://")
    return problems
