"""Pure pieces of a syslog message shared by the ``syslog`` and ``cef`` sinks.

PRI from facility and the event's severity, RFC 5424 and RFC 3164 headers, header
field sanitising (PRINTUSASCII, length limits) and the two TCP framings of RFC 6587
(octet counting, and LF, the non-transparent framing).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Mapping, Union

from agent.sdk.template import field_text

__all__ = ["FACILITIES", "syslog_severity", "pri", "header_field", "hostname_field", "rfc5424_header", "Rfc5424Header",
           "EventField", "HeaderValue", "rfc3164_header", "frame_octet", "frame_lf", "truncate_utf8"]

FACILITIES: dict[str, int] = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8,
    "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
    **{f"local{i}": 16 + i for i in range(8)},
}

# OCSF severity id → syslog severity: critical→crit(2), high→err(3), medium→warning(4),
# low→notice(5), info→info(6); unknown→notice(5) so it is not filtered away as chatter.
_SYSLOG_SEVERITY = {5: 2, 4: 3, 3: 4, 2: 5, 1: 6, 0: 5}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def syslog_severity(severity_id: object) -> int:
    """Map an OCSF severity id to a syslog severity (0 emergency … 7 debug)."""
    return _SYSLOG_SEVERITY.get(severity_id if isinstance(severity_id, int) else 0, 5)


def pri(facility: int, severity_id: object) -> str:
    """Return ``<PRI>`` for a facility number and an OCSF severity id."""
    return f"<{facility * 8 + syslog_severity(severity_id)}>"


def header_field(value: object, limit: int) -> str:
    """Make a header field valid: PRINTUSASCII (33-126) only, at most ``limit``, ``-`` if empty."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if not text:
        return "-"
    if not (text.isascii() and text.isprintable() and " " not in text):
        text = "".join(c if 33 <= ord(c) <= 126 else "_" for c in text)
    return text[:limit]


def hostname_field(value: object) -> str:
    """HOSTNAME as :func:`header_field`, and ``:`` (unless the value is an IPv6 address) and ``[``
    become ``_`` too: RFC 5424 allows them, but syslog-ng refuses the whole message for them,
    and in an RFC 3164 header ``host:`` reads as a tag."""
    text = header_field(value, 255)
    if ":" in text or "[" in text:
        try:
            ipaddress.IPv6Address(text)
        except ValueError:
            text = text.replace(":", "_").replace("[", "_")
    return text


def rfc5424_timestamp(iso: object) -> str:
    """The native form's time (``2025-01-15T14:30:00.123Z``) is already an RFC 5424 TIMESTAMP."""
    if isinstance(iso, str) and len(iso) >= 20 and iso[4] == "-" and iso[10] == "T":
        return iso
    return "-"


def rfc5424_header(facility: int, doc: Mapping[str, object], hostname: str, app_name: str, procid: str, msgid: str) -> str:
    """``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID`` (no trailing space)."""
    return (f"{pri(facility, doc.get('severity_id'))}1 {rfc5424_timestamp(doc.get('time'))} "
            f"{hostname_field(hostname)} {header_field(app_name, 48)} {header_field(procid, 128)} {header_field(msgid, 32)}")


@dataclass(frozen=True, slots=True)
class EventField:
    """A header field that is one top-level field of the event's JSON form, written as a
    template writes it (``{{ type }}``): the most common non-fixed field, filled with one lookup."""

    name: str


#: A header field as a sink configures it: a fixed text, a top-level field of the event, or a
#: function of the event's JSON form giving the text (a template's ``render``); each is
#: sanitised as the field requires.
HeaderValue = Union[str, EventField, Callable[[Mapping[str, object]], str]]
_Text = Callable[[Mapping[str, object]], str]


class Rfc5424Header:
    """The RFC 5424 header of one sink: the same text as :func:`rfc5424_header`, with the
    work that does not depend on the event done once.

    A sink writes a header per event, and most of its fields are fixed by the
    configuration (this machine's name, ``siemrelay``, ``-``): those are sanitised here,
    once, and each PRI of the facility is written out in advance. Per event only the
    PRI is looked up, the TIMESTAMP checked and the fields that depend on the event (a
    template such as ``{{ type }}``) filled and sanitised.
    """

    __slots__ = ("_facility", "_pri", "_pri_default", "_fixed", "_tail", "_last")

    def __init__(self, facility: int, hostname: HeaderValue, app_name: HeaderValue, procid: HeaderValue,
                 msgid: HeaderValue) -> None:
        self._facility = facility
        self._pri = {sid: f"{pri(facility, sid)}1 " for sid in _SYSLOG_SEVERITY}
        self._pri_default = f"{pri(facility, None)}1 "
        fields = [_hostname(hostname), _field(app_name, 48), _field(procid, 128), _field(msgid, 32)]
        first_variable = next((i for i, part in enumerate(fields) if not isinstance(part, str)), len(fields))
        #: the fixed fields before the first that depends on the event, each after its space
        self._fixed = "".join(f" {part}" for part in fields[:first_variable] if isinstance(part, str))
        #: the fields from there on, each a function of the event (a fixed one returns its text)
        self._tail = tuple(_constant(part) if isinstance(part, str) else part for part in fields[first_variable:])
        #: the only such field, when there is one (the default configuration: MSGID ``{{ type }}``)
        self._last = self._tail[0] if len(self._tail) == 1 else None

    def __call__(self, doc: Mapping[str, object]) -> str:
        """``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID`` for one event (no trailing space)."""
        sid = doc.get("severity_id")
        # bool is an int to syslog_severity (True is 1) and a float is not: only exact ints use the table
        prefix = self._pri.get(sid, self._pri_default) if type(sid) is int else f"{pri(self._facility, sid)}1 "
        iso = doc.get("time")
        stamp = iso if isinstance(iso, str) and len(iso) >= 20 and iso[4] == "-" and iso[10] == "T" else "-"
        if self._last is not None:
            return f"{prefix}{stamp}{self._fixed} {self._last(doc)}"
        if not self._tail:
            return f"{prefix}{stamp}{self._fixed}"
        rest = "".join([" " + part(doc) for part in self._tail])
        return f"{prefix}{stamp}{self._fixed}{rest}"


def _constant(text: str) -> _Text:
    return lambda doc: text


def _field(value: HeaderValue, limit: int) -> str | _Text:
    """A fixed text sanitised now (:func:`header_field`), or a function of the event that
    sanitises the field's text; text that is already valid is passed on as it is."""
    if isinstance(value, str):
        return header_field(value, limit)
    if isinstance(value, EventField):
        name = value.name

        def field(doc: Mapping[str, object]) -> str:
            raw = doc.get(name)
            if type(raw) is str and raw and len(raw) <= limit and raw.isascii() and raw.isprintable() and " " not in raw:
                return raw  # what header_field returns for it: printable ASCII, no space, within the limit
            return header_field(field_text(raw), limit)

        return field
    render = value

    def text(doc: Mapping[str, object]) -> str:
        raw = render(doc)
        if raw and len(raw) <= limit and raw.isascii() and raw.isprintable() and " " not in raw:
            return raw
        return header_field(raw, limit)

    return text


def _hostname(value: HeaderValue) -> str | _Text:
    """HOSTNAME fixed now, or sanitised per event (:func:`hostname_field`)."""
    if isinstance(value, str):
        return hostname_field(value)
    if isinstance(value, EventField):
        name = value.name
        return lambda doc: hostname_field(field_text(doc.get(name)))
    render = value
    return lambda doc: hostname_field(render(doc))


def rfc3164_header(facility: int, doc: Mapping[str, object], hostname: str) -> str:
    """``<PRI>Mmm dd hh:mm:ss HOSTNAME`` (BSD syslog; the event time in UTC; no trailing space)."""
    iso = doc.get("time")
    if isinstance(iso, str) and len(iso) >= 19 and iso[4] == "-":
        month = _MONTHS[int(iso[5:7]) - 1]
        stamp = f"{month} {int(iso[8:10]):2d} {iso[11:19]}"
    else:
        stamp = "Jan  1 00:00:00"
    return f"{pri(facility, doc.get('severity_id'))}{stamp} {hostname_field(hostname)}"


def frame_octet(message: bytes) -> bytes:
    """RFC 6587 octet counting: ``MSG-LEN SP SYSLOG-MSG``."""
    return b"%d %b" % (len(message), message)


def frame_lf(message: bytes) -> bytes:
    """RFC 6587 non-transparent framing with LF as the trailer (embedded LFs become spaces)."""
    if b"\n" in message:
        message = message.replace(b"\r\n", b" ").replace(b"\n", b" ")
    return message + b"\n"


def truncate_utf8(data: bytes, limit: int) -> bytes:
    """Cut ``data`` to at most ``limit`` bytes without splitting a UTF-8 character."""
    if len(data) <= limit:
        return data
    cut = data[:max(limit, 0)]
    return cut.decode("utf-8", "ignore").encode("utf-8")
