"""Syslog → Event: RFC 5424 and RFC 3164 messages, CEF and LEEF carried in syslog, never a drop.

A message that parses in neither format still becomes an event: its text is the
title, ``origin.flags`` holds ``parse_error`` and ``origin.parse_error`` the reason,
so a SOC sees malformed senders instead of silently losing their messages.
"""

from __future__ import annotations

from typing import Any, Callable
from zoneinfo import ZoneInfo

from agent.sdk import (GROUPS, SEVERITY_LABEL_OF_ID, Decoder, Event, RawRecord, Severity, content_id, event_from_cef,
                       event_from_leef, find_cef, find_leef, format_time, parse_cef, parse_leef, score_from_severity)
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
    return _title_of_stripped(text.strip())


def _title_of_stripped(stripped: str) -> str:
    """The first line of an already stripped text, cut to ``TITLE_CHARS`` (without splitting the whole text)."""
    nl = stripped.find("\n")
    line = stripped if nl < 0 else stripped[:nl]
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1] + "…"


class SyslogDecoder(Decoder):
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
        # content_id(source, data) hashes the source, a NUL, then the bytes: the first two once per decoder
        import hashlib  # here: it loads OpenSSL, which a process without a syslog decoder need not map

        self._id_seed = hashlib.sha256(self.source.encode("utf-8", "replace") + b"\0")

    def decode(self, record: RawRecord) -> list[Event]:
        found = self._read(record)
        return [found if isinstance(found, Event) else self._event(record, *found)]

    def decode_native(self, record: RawRecord, received_text: str) -> list[dict[str, object]] | None:
        """The event's native form without an :class:`Event` between, for a plain syslog
        message (see :meth:`Decoder.decode_native`); CEF, LEEF and unparsed text go through
        their Event, turned into its dict here, so the message is parsed once either way.
        A subclass gets ``None``: its overrides of :meth:`decode` must apply."""
        if type(self) is not SyslogDecoder:
            return None
        found = self._read(record)
        if isinstance(found, Event):
            if found.origin is None:
                found.origin = record.origin
            return [found.to_dict()]
        return [self._native(record, *found, received_text)]

    def _read(self, record: RawRecord) -> Event | tuple[SyslogMessage, list[str]]:
        """The parsed message and its flags, or the Event of a message that needs one of its own
        (CEF or LEEF inside, a bare LEEF line, text that parses in neither format)."""
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
                return self._bare_leef(record, text, flags)
            return self._unparsed(record, text, str(exc), flags)
        if "EF:" in msg.message:  # one scan for both "CEF:" and "LEEF:"; most messages carry neither
            if self.cef and "CEF:" in msg.message:
                event = self._embedded_event(record, text, msg, flags, "CEF")
                if event is not None:
                    return event
            if self.leef and "LEEF:" in msg.message:
                event = self._embedded_event(record, text, msg, flags, "LEEF")
                if event is not None:
                    return event
        return msg, flags

    def _content_id(self, data: bytes) -> str:
        """``content_id(self.source, data)``, with the source's part of the hash taken once."""
        h = self._id_seed.copy()
        h.update(data)
        return h.hexdigest()[:32]

    def _origin(self, record: RawRecord, flags: list[str], **extra: str) -> dict[str, Any] | None:
        if not flags and not extra:
            return None  # intake puts the record's origin on the event (shared, no copy)
        origin = dict(record.origin)
        if flags:
            origin["flags"] = list(record.origin.get("flags") or ()) + flags
        origin.update(extra)
        return origin

    def _event(self, record: RawRecord, msg: SyslogMessage, flags: list[str]) -> Event:
        sev, type_, vendor_type, title, description, host, process, groups = self._fields(msg)
        return Event(
            id=self._content_id(record.data), time=msg.timestamp or record.received_at,
            received_at=record.received_at, source=self.source, type=type_, vendor_type=vendor_type,
            severity_id=int(sev), score=score_from_severity(sev) if sev else 0, title=title, description=description,
            asset={"host": host} if host else None, device={"hostname": host} if host else None,
            process=process or None, origin=self._origin(record, flags), raw=msg.header(), **groups)

    def _native(self, record: RawRecord, msg: SyslogMessage, flags: list[str], received_text: str
                ) -> dict[str, object]:
        """:meth:`_event`'s ``Event.to_dict()``, with the record's origin where it has none."""
        sev, type_, vendor_type, title, description, host, process, groups = self._fields(msg)
        severity = int(sev)
        doc: dict[str, object] = {
            "id": self._content_id(record.data), "time": format_time(msg.timestamp or record.received_at),
            "received_at": received_text, "source": self.source, "type": type_, "vendor_type": vendor_type,
            "severity": SEVERITY_LABEL_OF_ID[severity], "severity_id": severity,
            "score": score_from_severity(sev) if sev else 0, "title": title, "description": description,
        }
        origin = self._origin(record, flags) or record.origin
        if groups:  # an authentication message's facts: every group in the native form's order
            groups.update(asset={"host": host} if host else None, device={"hostname": host} if host else None,
                          process=process or None, origin=origin)
            for name in GROUPS:
                if groups.get(name):
                    doc[name] = groups[name]
        else:  # the same order, for the groups a plain message can have
            if host:
                doc["asset"] = {"host": host}
            if process:
                doc["process"] = process
            if host:
                doc["device"] = {"hostname": host}
            if origin:
                doc["origin"] = origin
        doc["tags"] = []
        doc["raw"] = msg.header()
        return doc

    def _fields(self, msg: SyslogMessage
                ) -> tuple[Severity, str, str, str, str, str, dict[str, Any], dict[str, Any]]:
        """What a plain message gives its event: severity, type, vendor type, title,
        description, host, process, and the groups of an authentication message's facts."""
        # A syslog level says how loud a program is, not how dangerous the event is: it
        # becomes a security severity only when the user asks (the priority stays in raw).
        sev = SYSLOG_TO_OCSF[msg.severity] if self.severity_from_priority else Severity.UNKNOWN
        text = msg.message
        stripped = text.strip()
        title = _title_of_stripped(stripped)
        app = msg.app_name
        facts = auth_facts(app, text) if app else None
        if facts is None:
            groups: dict[str, Any] = {}
            process: dict[str, Any] = {"name": app} if app else {}
        else:
            groups = dict(facts.groups)
            process = dict(groups.pop("process", None) or {})
            if app:
                process.setdefault("name", app)
        if msg.procid.isdigit():
            process["pid"] = int(msg.procid)
        return (sev, facts.type if facts else self.event_type, msg.msgid or app or SEVERITIES[msg.severity],
                facts.title if facts else title, text if (facts or stripped != title) else "", msg.hostname,
                process, groups)

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
