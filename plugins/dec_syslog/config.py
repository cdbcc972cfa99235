"""Options of the ``syslog`` decoder."""

from __future__ import annotations

from typing import Any

CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "source": {"type": "string", "default": "syslog",
               "meta": {"description": "Value of the event's `source` for syslog messages (a CEF or LEEF message takes its device vendor, lower-cased)."}},
    "event_type": {"type": "string", "default": "log",
                   "meta": {"description": "Normalised type of syslog events (CEF and LEEF messages take `alert`)."}},
    "timezone": {"type": "string", "default": "UTC",
                 "meta": {"description": "Time zone of RFC 3164 timestamps, which carry none (an IANA name such as Europe/Paris)."}},
    "severity_from_priority": {"type": "boolean", "default": False,
                               "meta": {"description": "Derive the security severity from the syslog priority (emerg/alert/crit critical … info/debug info). Off: a syslog level says how loud a program is, not how dangerous the event is, so plain syslog events are severity unknown (the priority is kept in raw) and severity comes from the content (CEF/LEEF, a vendor field) or a route transform."}},
    "cef": {"type": "boolean", "default": True,
            "meta": {"description": "Hand a message whose text is CEF (`CEF:0|...`) to the CEF parser and map its fields."}},
    "leef": {"type": "boolean", "default": True,
             "meta": {"description": "Hand a message whose text is QRadar LEEF 1.0/2.0 (`LEEF:2.0|...`) to the LEEF parser and map its predefined keys (src, dst, srcPort, dstPort, proto, usrName, sev, cat, devTime)."}},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Reject an unknown time zone at validation time rather than on the first message."""
    from zoneinfo import ZoneInfo

    name = config.get("timezone", "UTC")
    try:
        ZoneInfo(name)
    except Exception:
        return [f"timezone: unknown time zone {name!r} (use an IANA name such as UTC or Europe/Paris)"]
    return []
