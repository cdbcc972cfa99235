"""Options of the ``syslog`` decoder."""

from __future__ import annotations

from typing import Any

CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "source": {"type": "string", "default": "syslog",
               "meta": {"description": "Value of the event's `source` for syslog messages (a CEF message takes its device vendor, lower-cased)."}},
    "event_type": {"type": "string", "default": "log",
                   "meta": {"description": "Normalised type of syslog events (CEF messages take `alert`)."}},
    "timezone": {"type": "string", "default": "UTC",
                 "meta": {"description": "Time zone of RFC 3164 timestamps, which carry none (an IANA name such as Europe/Paris)."}},
    "cef": {"type": "boolean", "default": True,
            "meta": {"description": "Hand a message whose text is CEF (`CEF:0|...`) to the CEF parser and map its fields."}},
}


def check_config(config: dict) -> list[str]:  # type: ignore[type-arg]
    """Reject an unknown time zone at validation time rather than on the first message."""
    from zoneinfo import ZoneInfo

    name = config.get("timezone", "UTC")
    try:
        ZoneInfo(name)
    except Exception:
        return [f"timezone: unknown time zone {name!r} (use an IANA name such as UTC or Europe/Paris)"]
    return []
