"""Plain text → Events: one per non-blank line (or one per record), never a drop.

The line is the event: its text is the title (cut at ``max_title_chars``), the
description and ``raw``. An optional regular expression with named groups (``time``,
``severity``, ``host``, ``title``, ``id``, ``type``) lifts fields out of known line
formats; a captured severity may be a severity word, a number, or a log level
(``ERROR`` → high, ``WARNING`` → medium, ``NOTICE`` → low, ``DEBUG`` → info). The id is a content hash of the line, so identical lines share an id:
do not turn on de-duplication for a source whose lines legitimately repeat.
"""

from __future__ import annotations

import re
from typing import Any

from agent.sdk.decoder import Decoder, DecodeError
from agent.sdk import Event, Severity, content_id, parse_time, score_from_severity, severity_from_name
from agent.sdk.normalize import severity_of_any
from agent.sdk.record import RawRecord
from plugins.dec_raw.config import CONFIG_SCHEMA, check_config

MAX_LINES = 100000
#: log-level words (syslog's and common loggers') → OCSF severity, tried after the severity words
LOG_LEVELS = {"emerg": Severity.CRITICAL, "emergency": Severity.CRITICAL, "alert": Severity.CRITICAL,
              "crit": Severity.CRITICAL, "err": Severity.HIGH, "error": Severity.HIGH, "warn": Severity.MEDIUM,
              "warning": Severity.MEDIUM, "notice": Severity.LOW, "debug": Severity.INFO, "trace": Severity.INFO}


class RawDecoder(Decoder):
    """Text lines (application logs, tool output) as events of a fixed type."""

    type_name = "raw"
    description = "Plain text: one event per line (or per record), fields optionally taken by a regex."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    check_config = staticmethod(check_config)

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.source = config.get("source") or "raw"
        self.event_type = config.get("event_type") or "log"
        self.severity = severity_from_name(config.get("severity") or "unknown")
        self.split = bool(config.get("split_lines", True))
        self.replace = config.get("invalid_utf8", "reject") == "replace"
        self.pattern = re.compile(config["pattern"]) if config.get("pattern") else None
        self.max_title = int(config.get("max_title_chars") or 256)

    def decode(self, record: RawRecord) -> list[Event]:
        tags: list[str] = []
        try:
            text = record.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not self.replace:
                raise DecodeError(f"invalid UTF-8 at byte {exc.start} (set invalid_utf8: replace to keep such lines)") from None
            text = record.data.decode("utf-8", "replace")
            tags.append("invalid_utf8")
        if self.split:
            lines = [ln for ln in text.splitlines() if ln.strip()]
            if len(lines) > MAX_LINES:
                raise DecodeError(f"record has {len(lines)} lines, over the limit of {MAX_LINES}")
        else:
            lines = [text] if text.strip() else []
        return [self.line_event(line, record, tags) for line in lines]

    def line_event(self, line: str, record: RawRecord, tags: list[str] | None = None) -> Event:
        """One line → one Event (the regex, if any, fills what it captures)."""
        line = line.rstrip("\r\n")
        fields: dict[str, str] = {}
        event_tags = list(tags or ())
        if self.pattern is not None:
            m = self.pattern.search(line)
            if m:
                fields = {k: v for k, v in m.groupdict().items() if v}
            else:
                event_tags.append("unparsed")
        sev = self.severity
        score = score_from_severity(sev)
        if "severity" in fields:
            found, found_score = severity_of_any(fields["severity"])
            level = LOG_LEVELS.get(fields["severity"].strip().lower())
            if found:
                sev, score = found, found_score
            elif level is not None:
                sev, score = level, score_from_severity(level)
        title = fields.get("title") or line.strip()
        if len(title) > self.max_title:
            title = title[: self.max_title - 1] + "…"
        asset = {"host": fields["host"], "name": fields["host"]} if fields.get("host") else None
        return Event(
            id=fields.get("id") or content_id(self.source, line.encode("utf-8", "surrogatepass")),
            time=parse_time(fields.get("time")) or record.received_at, received_at=record.received_at,
            source=self.source, type=fields.get("type") or self.event_type, vendor_type=fields.get("type", ""),
            severity_id=int(sev), score=score, title=title, description=line, asset=asset, tags=event_tags, raw=line,
        )
