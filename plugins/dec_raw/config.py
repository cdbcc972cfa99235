"""Options of the ``raw`` decoder."""

from typing import Any

CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "source": {"type": "string", "default": "raw",
               "meta": {"description": "Value of the events' `source` (name the application that writes the lines)."}},
    "event_type": {"type": "string", "default": "log",
                   "meta": {"description": "Normalised type of the events."}},
    "severity": {"type": "string", "default": "unknown",
                 "allowed": ["unknown", "info", "low", "medium", "high", "critical"],
                 "meta": {"description": "Severity of every line, unless `pattern` captures one."}},
    "split_lines": {"type": "boolean", "default": True,
                    "meta": {"description": "One event per non-blank line of a record; false makes the whole record one event."}},
    "invalid_utf8": {"type": "string", "default": "reject", "allowed": ["reject", "replace"],
                     "meta": {"description": "`reject`: a record with invalid UTF-8 is dead-lettered; `replace`: "
                                             "bad bytes become U+FFFD and the event is tagged `invalid_utf8`."}},
    "pattern": {"type": "string", "default": "",
                "meta": {"description": "Regular expression with named groups `time`, `severity`, `host`, `title`, "
                                        "`id`, `type` that fill those fields; a line that does not match keeps the "
                                        "defaults and is tagged `unparsed`."}},
    "max_title_chars": {"type": "integer", "default": 256, "min": 16,
                        "meta": {"description": "Longest title; the full line is always in `description` and `raw`."}},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Reject a pattern that does not compile at validation time, not on the first line."""
    import re

    pattern = config.get("pattern") or ""
    try:
        re.compile(pattern)
    except re.error as exc:
        return [f"pattern: not a valid regular expression: {exc}"]
    return []
