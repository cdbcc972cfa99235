"""CEF → Event: one event per CEF line, bare (``CEF:0|...``) or behind a syslog header.

A record may hold several lines (an HTTP body, a batch); each non-blank line is one
event, and a bad line does not sink the good ones (:class:`PartialDecodeError`).
The parser and the mapping to the model are the SDK's (:func:`agent.sdk.parse_cef`,
:func:`agent.sdk.event_from_cef`), shared with the ``syslog`` decoder.
"""

from __future__ import annotations

from typing import Any

from agent.sdk import DecodeError, Decoder, Event, PartialDecodeError, RawRecord, event_from_cef, find_cef, parse_cef
from plugins.dec_cef.config import CONFIG_SCHEMA

__all__ = ["CefDecoder"]

MAX_LINES = 10000


class CefDecoder(Decoder):
    """ArcSight Common Event Format lines, with or without a syslog header in front."""

    type_name = "cef"
    description = "CEF lines (ArcSight Common Event Format), bare or behind an RFC 5424/3164 syslog header."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.source = config.get("source") or "cef"
        self.event_type = config.get("event_type") or "alert"

    def decode(self, record: RawRecord) -> list[Event]:
        try:
            text = record.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8 at byte {exc.start}: CEF must be UTF-8") from None
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if not lines:
            raise DecodeError("empty record: no CEF line")
        if len(lines) > MAX_LINES:
            raise DecodeError(f"record has {len(lines)} lines, over the limit of {MAX_LINES}")
        events: list[Event] = []
        failures: list[str] = []
        for n, line in enumerate(lines, 1):
            try:
                events.append(self.decode_line(line, record))
            except DecodeError as exc:
                failures.append(f"line {n}: {exc}" if len(lines) > 1 else str(exc))
        if failures:
            if events:
                raise PartialDecodeError(events, failures)
            raise DecodeError("; ".join(failures))
        return events

    def decode_line(self, line: str, record: RawRecord) -> Event:
        """Decode one line (``CEF:...`` or ``<syslog header> CEF:...``)."""
        at = find_cef(line)
        if at < 0:
            raise DecodeError(f"no CEF: found in the line {line[:40]!r}")
        try:
            cef = parse_cef(line[at:])
        except ValueError as exc:
            raise DecodeError(str(exc)) from None
        return event_from_cef(cef, line, record, self.source, self.event_type, line[:at])
