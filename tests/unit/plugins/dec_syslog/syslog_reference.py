"""The syslog decoder as it was before the per-message work was cut (frozen).

A verbatim copy of ``plugins/dec_syslog/decoder.py`` at the commit before the fast paths
(9ba9770; the class renamed), kept so that property tests hold the current decoder to the
same Events, byte for byte, on generated messages. The parser is shared (it was not
changed). Do not edit this copy to match the plugin: a difference is what the tests are for.
"""

from __future__ import annotations

from typing import Any, Callable


from zoneinfo import ZoneInfo

from agent.sdk import (Decoder, Event, RawRecord, Severity, content_id, event_from_cef, event_from_leef, find_cef, find_leef,
                       parse_cef, parse_leef, score_from_severity)
from plugins.dec_syslog.auth import auth_facts
from plugins.dec_syslog.config import CONFIG_SCHEMA, check_config
from plugins.dec_syslog.parser import SEVERITIES, SyslogMessage, SyslogParseError, parse_syslog

# the formats that arrive inside a syslog message: where it starts, its parser, its mapping
# to an Event, and the header field naming the vendor (the event's source)
_EMBEDDED: dict[str, tuple[Callable[[str], int], Callable[[str], Any], Callable[..., Event], str]] = {
    "CEF": (find_cef, parse_cef, event_from_cef, "device_vendor"),
    "LEEF": (find_leef, parse_leef, event_from_leef, "vendor"),
}

#: syslog severity (0 emerg … 7 debug) → OCSF severity id
SYSLOG_TO_OCSF = (Severity.CRITICAL, Severity.CRITICAL, Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM,
                  Severity.LOW, Severity.INFO, Severity.INFO)
TITLE_CHARS = 256


def _title(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1] + "…"


class ReferenceSyslogDecoder(Decoder):
    """One syslog message per record (the source strips the transport framing)."""

    type_name = "syslog"
    description = "Syslog messages: RFC 5424 with structured data, RFC 3164/BSD, CEF and LEEF inside syslog; unparseable text is kept, flagged."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    check_config = staticmethod(check_config)

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.source = config.get("source", "syslog")
        self.event_type = config.get("event_type", "log")
        self.tz = ZoneInfo(config.get("timezone", "UTC"))
        self.cef = bool(config.get("cef", True))
        self.leef = bool(config.get("leef", True))
        self.severity_from_priority = bool(config.get("severity_from_priority", False))

    def decode(self, record: RawRecord) -> list[Event]:
        data = record.data
        flags: list[str] = []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "replace")
            flags.append("invalid_utf8")
        try:
            msg = parse_syslog(text, record.received_at, self.tz)
        except SyslogParseError as exc:
            if self.leef and text.lstrip("\ufeff \t").startswith("LEEF:"):
                return [self._bare_leef(record, text, flags)]
            return [self._unparsed(record, text, str(exc), flags)]
        if self.cef and "CEF:" in msg.message:
            event = self._embedded_event(record, text, msg, flags, "CEF")
            if event is not None:
                return [event]
        if self.leef and "LEEF:" in msg.message:
            event = self._embedded_event(record, text, msg, flags, "LEEF")
            if event is not None:
                return [event]
        return [self._event(record, msg, flags)]

    def _origin(self, record: RawRecord, flags: list[str], **extra: str) -> dict[str, Any] | None:
        if not flags and not extra:
            return None  # intake puts the record's origin on the event (shared, no copy)
        origin = dict(record.origin)
        if flags:
            origin["flags"] = list(record.origin.get("flags") or ()) + flags
        origin.update(extra)
        return origin

    def _event(self, record: RawRecord, msg: SyslogMessage, flags: list[str]) -> Event:
        # A syslog level says how loud a program is, not how dangerous the event is: it
        # becomes a security severity only when the user asks (the priority stays in raw).
        sev = SYSLOG_TO_OCSF[msg.severity] if self.severity_from_priority else Severity.UNKNOWN
        text = msg.message
        title = _title(text)
        facts = auth_facts(msg.app_name, text)
        groups: dict[str, Any] = dict(facts.groups) if facts else {}
        process = dict(groups.pop("process", None) or {})
        if msg.app_name:
            process.setdefault("name", msg.app_name)
        if msg.procid.isdigit():
            process["pid"] = int(msg.procid)
        return Event(
            id=content_id(self.source, record.data), time=msg.timestamp or record.received_at,
            received_at=record.received_at, source=self.source, type=facts.type if facts else self.event_type,
            vendor_type=msg.msgid or msg.app_name or SEVERITIES[msg.severity],
            severity_id=int(sev), score=score_from_severity(sev) if sev else 0, title=facts.title if facts else title,
            description=text if (facts or text.strip() != title) else "",
            asset={"host": msg.hostname} if msg.hostname else None,
            device={"hostname": msg.hostname} if msg.hostname else None,
            process=process or None, origin=self._origin(record, flags), raw=msg.header(), **groups)

    def _embedded_event(self, record: RawRecord, text: str, msg: SyslogMessage, flags: list[str],
                        kind: str) -> Event | None:
        """CEF or LEEF inside syslog, mapped exactly as the ``cef`` decoder maps CEF
        (:func:`agent.sdk.event_from_cef`, :func:`agent.sdk.event_from_leef`), with the time
        and host of the syslog header this decoder already parsed. Malformed CEF or LEEF
        stays plain syslog, flagged with why."""
        find, parse, to_event, vendor_key = _EMBEDDED[kind]
        start = find(msg.message)
        if start < 0:
            return None
        try:
            parsed = parse(msg.message[start:])
        except ValueError as exc:
            flags.append(f"{kind.lower()}_error")
            event = self._event(record, msg, flags)
            event.origin = self._origin(record, flags, parse_error=f"{kind}: {exc}")
            return event
        at = text.find(msg.message[start:])
        source = (parsed[vendor_key] or kind.lower()).strip().lower().replace(" ", "_") or kind.lower()
        event = to_event(parsed, text.rstrip("\r\n"), record, source, "alert", text[:at] if at > 0 else "",
                         header_time=msg.timestamp, header_host=msg.hostname or "")
        event.origin = self._origin(record, flags)
        return event

    def _bare_leef(self, record: RawRecord, text: str, flags: list[str]) -> Event:
        """A LEEF line without a syslog header (a file, a webhook body): mapped, or kept flagged."""
        line = text.rstrip("\r\n")
        try:
            leef = parse_leef(line)
        except ValueError as exc:
            return self._unparsed(record, text, f"LEEF: {exc}", flags)
        source = (leef["vendor"] or "leef").strip().lower().replace(" ", "_") or "leef"
        event = event_from_leef(leef, line, record, source, "alert")
        event.origin = self._origin(record, flags)
        return event

    def _unparsed(self, record: RawRecord, text: str, reason: str, flags: list[str]) -> Event:
        flags.append("parse_error")
        return Event(
            id=content_id(self.source, record.data), time=record.received_at, received_at=record.received_at,
            source=self.source, type=self.event_type, vendor_type="", severity_id=int(Severity.UNKNOWN), score=0,
            title=_title(text), description="", origin=self._origin(record, flags, parse_error=reason),
            raw={"format": "unparsed", "message": text})
