"""Options of the ``pagerduty`` sink: every key has a default or is required, and a description."""

from __future__ import annotations

from typing import Any

from agent.sdk import TLS_SCHEMA, url_check
from agent.sdk import describe as _d

__all__ = ["CONFIG_SCHEMA", "DEFAULTS", "SEVERITIES", "PD_SEVERITIES", "check_config"]

#: siemrelay's severity names (OCSF) and PagerDuty's four.
SEVERITIES = ("unknown", "info", "low", "medium", "high", "critical")
PD_SEVERITIES = ("critical", "error", "warning", "info")


CONFIG_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "default": "https://events.pagerduty.com/v2/enqueue", "check_with": url_check,
            "meta": _d("Events API v2 enqueue endpoint; https://events.eu.pagerduty.com/v2/enqueue for the EU service region.")},
    "routing_key": {"type": "string", "required": True, "regex": "^[A-Za-z0-9]{32}$",
                    "meta": {**_d("32-character Integration Key of an Events API v2 integration (service or ruleset); "
                                  "write ${PAGERDUTY_ROUTING_KEY}."), "example": "${PAGERDUTY_ROUTING_KEY}"}},
    "event_action": {"type": "string", "default": "trigger", "allowed": ["trigger", "acknowledge", "resolve"],
                     "meta": _d("Action for events whose type is in neither resolve_types nor acknowledge_types.")},
    "resolve_types": {"type": "list", "default": ["finding.resolved"], "schema": {"type": "string"},
                      "meta": _d("Event types that resolve the alert their dedup key opened (e.g. a fixed finding).")},
    "acknowledge_types": {"type": "list", "default": [], "schema": {"type": "string"},
                          "meta": _d("Event types that acknowledge the alert their dedup key opened.")},
    "dedup_fields": {"type": "list", "default": ["finding.id", "id"], "minlength": 1, "schema": {"type": "string"},
                     "meta": _d("Event fields tried in order for the dedup_key that ties a trigger to its resolve; "
                                "the first non-empty wins.")},
    "source_fields": {"type": "list", "default": ["asset.name", "asset.host", "asset.url", "source"], "minlength": 1,
                      "schema": {"type": "string"},
                      "meta": _d("Event fields tried in order for payload.source (the affected system).")},
    "severity_map": {"type": "dict", "default": {"critical": "critical", "high": "error", "medium": "warning",
                                                  "low": "info", "info": "info", "unknown": "info"},
                     "keysrules": {"type": "string", "allowed": list(SEVERITIES)},
                     "valuesrules": {"type": "string", "allowed": list(PD_SEVERITIES)},
                     "meta": _d("siemrelay severity → PagerDuty severity; severities left out map to info.")},
    "client": {"type": "string", "default": "siemrelay", "empty": False,
               "meta": _d("Name of the sending tool shown on the alert.")},
    "include_raw": {"type": "boolean", "default": False,
                    "meta": _d("Add the vendor's original payload to custom_details (dropped if the event would exceed 512 KB).")},
    "tls": TLS_SCHEMA,
}

#: Defaults of the common blocks. PagerDuty throttles per integration key (HTTP 429)
#: and asks clients to back off for minutes; one request carries one event.
DEFAULTS: dict[str, dict[str, Any]] = {
    "batch": {"max_events": 20, "max_wait_s": 0.5},
    "rate_limit": {"per_second": 2, "burst": 20, "unit": "events"},
    "retry": {"initial_backoff_s": 5.0, "max_backoff_s": 600.0, "timeout_s": 10.0},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks: a type cannot both resolve and acknowledge."""
    both = sorted(set(config.get("resolve_types") or ()) & set(config.get("acknowledge_types") or ()))
    return [f"event types in both resolve_types and acknowledge_types: {', '.join(both)}"] if both else []
