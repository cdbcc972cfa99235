"""Syslog message parsing: RFC 5424 (with structured data) and RFC 3164 (BSD).

Pure functions over text, no clock: the caller supplies the receive time, which an
RFC 3164 timestamp needs to get a year. A message that is neither format raises
:class:`SyslogParseError` with the reason; the decoder turns that into a flagged
event, never a drop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

__all__ = ["SyslogMessage", "SyslogParseError", "parse_syslog", "FACILITIES", "SEVERITIES"]

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
              "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
              "local7")
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}

# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID (then SD and MSG, parsed by hand)
_RFC5424 = re.compile(r"<(\d{1,3})>(\d{1,2}) (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32})(?: |$)")
# Mmm dd hh:mm:ss, "Mmm  d" with a space pad
_BSD_TIME = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: (\d{4}))? ")
# an ISO 8601 timestamp where the BSD one goes (rsyslog's high-precision template)
_ISO_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?) ")
# TAG[PID]: (the tag is letters, digits and a few punctuation characters)
_TAG = re.compile(r"([\w./@-]{1,48})(?:\[([^\]\s]{1,128})\])?: ?")


class SyslogParseError(ValueError):
    """The text is not a syslog message in any supported format; the message says why."""


@dataclass(slots=True)
class SyslogMessage:
    """One parsed syslog message; empty strings stand for absent (NILVALUE) fields."""

    format: str  # rfc5424 | rfc3164
    facility: int
    severity: int
    timestamp: datetime | None
    hostname: str = ""
    app_name: str = ""
    procid: str = ""
    msgid: str = ""
    structured_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    message: str = ""
    version: int = 0
    has_pri: bool = True
    ts_text: str = ""  # the timestamp as the sender wrote it (RFC 5424 only)

    def header(self) -> dict[str, Any]:
        """The parsed fields as a JSON-friendly dict (what the event's ``raw`` keeps)."""
        out: dict[str, Any] = {"format": self.format,
                               "facility": FACILITIES[self.facility] if self.facility < 24 else self.facility,
                               "severity": SEVERITIES[self.severity]}
        if self.timestamp is not None:
            out["timestamp"] = self.ts_text or self.timestamp.isoformat()
        if self.hostname:
            out["hostname"] = self.hostname
        if self.app_name:
            out["app_name"] = self.app_name
        if self.procid:
            out["procid"] = self.procid
        if self.msgid:
            out["msgid"] = self.msgid
        if self.structured_data:
            out["structured_data"] = self.structured_data
        out["message"] = self.message
        return out


def _nil(value: str) -> str:
    return "" if value == "-" else value


def _pri(value: str) -> tuple[int, int]:
    pri = int(value)
    if pri > 191:
        raise SyslogParseError(f"PRI {pri} is out of range (0-191)")
    return pri >> 3, pri & 7


def parse_syslog(text: str, received: datetime, tz: tzinfo = timezone.utc) -> SyslogMessage:
    """Parse one syslog message (without its transport framing).

    :param received: when the message arrived; gives an RFC 3164 timestamp its year.
    :param tz: zone of RFC 3164 timestamps, which carry none.
    :raises SyslogParseError: the text is neither RFC 5424 nor RFC 3164.
    """
    text = text.rstrip("\r\n\x00")
    if text.startswith("<"):
        m = _RFC5424.match(text)
        if m is not None:
            return _parse_5424(text, m)
        end = text.find(">", 1, 5)
        if end < 0 or not (text[1:end].isascii() and text[1:end].isdigit()):
            raise SyslogParseError("the message starts with '<' but has no valid <PRI> (e.g. <13>)")
        facility, severity = _pri(text[1:end])
        return _parse_3164(text[end + 1:], facility, severity, received, tz, True)
    if not text.strip():
        raise SyslogParseError("empty message")
    # no PRI: a line from a log file; RFC 3164 section 4.3.3 says to assume user.notice
    return _parse_3164(text, 1, 5, received, tz, False)


def _parse_5424(text: str, m: re.Match[str]) -> SyslogMessage:
    facility, severity = _pri(m.group(1))
    version = int(m.group(2))
    if version != 1:
        raise SyslogParseError(f"unsupported RFC 5424 version {version}")
    ts_text = m.group(3)
    timestamp = None
    if ts_text != "-":
        try:
            timestamp = datetime.fromisoformat(ts_text)
        except ValueError:
            raise SyslogParseError(f"RFC 5424 TIMESTAMP {ts_text[:40]!r} is not an RFC 3339 time") from None
        if timestamp.tzinfo is None:
            raise SyslogParseError(f"RFC 5424 TIMESTAMP {ts_text[:40]!r} has no time zone")
        timestamp = timestamp.astimezone(timezone.utc)
    pos = m.end()
    sd: dict[str, dict[str, Any]] = {}
    if pos < len(text):
        if text[pos] == "-":
            pos += 1
        elif text[pos] == "[":
            sd, pos = _parse_sd(text, pos)
        else:
            raise SyslogParseError(f"RFC 5424 STRUCTURED-DATA must be '-' or start with '[', found {text[pos:pos + 20]!r}")
        if pos < len(text):
            if text[pos] != " ":
                raise SyslogParseError(f"RFC 5424: expected a space before MSG at character {pos}")
            pos += 1
    msg = text[pos:]
    if msg.startswith("\ufeff"):
        msg = msg[1:]
    return SyslogMessage("rfc5424", facility, severity, timestamp, _nil(m.group(4)), _nil(m.group(5)),
                         _nil(m.group(6)), _nil(m.group(7)), sd, msg, version, True, ts_text if timestamp else "")


def _parse_sd(text: str, pos: int) -> tuple[dict[str, dict[str, Any]], int]:
    """Parse ``[id k="v" ...][id2 ...]`` from ``pos``; return the elements and the end."""
    out: dict[str, dict[str, Any]] = {}
    n = len(text)
    while pos < n and text[pos] == "[":
        end_id = pos + 1
        while end_id < n and text[end_id] not in " ]":
            end_id += 1
        sd_id = text[pos + 1:end_id]
        if not sd_id or end_id >= n:
            raise SyslogParseError(f"RFC 5424 STRUCTURED-DATA element at character {pos} is not closed")
        params: dict[str, Any] = out.setdefault(sd_id, {})
        pos = end_id
        while True:
            if pos >= n:
                raise SyslogParseError(f"RFC 5424 STRUCTURED-DATA element {sd_id!r} is not closed")
            ch = text[pos]
            if ch == "]":
                pos += 1
                break
            if ch != " ":
                raise SyslogParseError(f"RFC 5424 STRUCTURED-DATA: unexpected {ch!r} at character {pos} in {sd_id!r}")
            eq = text.find("=", pos + 1)
            if eq < 0 or eq + 1 >= n or text[eq + 1] != '"':
                raise SyslogParseError(f"RFC 5424 STRUCTURED-DATA: expected name=\"value\" at character {pos + 1} in {sd_id!r}")
            name = text[pos + 1:eq]
            value, pos = _sd_value(text, eq + 2, sd_id)
            old = params.get(name)
            if old is None:
                params[name] = value
            elif isinstance(old, list):
                old.append(value)
            else:
                params[name] = [old, value]  # a repeated name keeps every value
    return out, pos


def _sd_value(text: str, pos: int, sd_id: str) -> tuple[str, int]:
    end = text.find('"', pos)
    if end < 0:
        raise SyslogParseError(f"RFC 5424 STRUCTURED-DATA: unterminated value in {sd_id!r}")
    chunk = text[pos:end]
    if "\\" not in chunk:
        return chunk, end + 1
    buf: list[str] = []
    i, n = pos, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in '"\\]':
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(buf), i + 1
        buf.append(ch)
        i += 1
    raise SyslogParseError(f"RFC 5424 STRUCTURED-DATA: unterminated value in {sd_id!r}")


def _parse_3164(rest: str, facility: int, severity: int, received: datetime, tz: tzinfo, has_pri: bool) -> SyslogMessage:
    timestamp: datetime | None = None
    m = _BSD_TIME.match(rest)
    if m is not None:
        timestamp = _bsd_time(m, received, tz)
        rest = rest[m.end():]
    else:
        mi = _ISO_TIME.match(rest)
        if mi is not None:
            try:
                timestamp = datetime.fromisoformat(mi.group(1))
                if timestamp.tzinfo is None:
                    timestamp = timestamp.replace(tzinfo=tz)
                timestamp = timestamp.astimezone(timezone.utc)
                rest = rest[mi.end():]
            except ValueError:
                timestamp = None
    if timestamp is None and not has_pri:
        raise SyslogParseError("not a syslog message: no <PRI> and no RFC 3164 timestamp")
    hostname = ""
    if timestamp is not None:
        # HOSTNAME follows the timestamp unless the next word is already the TAG ("sshd[1]:")
        word, sep, after = rest.partition(" ")
        if sep and word and not word.endswith(":"):
            hostname, rest = word, after
    app_name = procid = ""
    t = None if rest.startswith(("CEF:", "LEEF:")) else _TAG.match(rest)  # "host CEF:0|..." has no tag
    if t is not None:
        app_name, procid = t.group(1), t.group(2) or ""
        rest = rest[t.end():]
    return SyslogMessage("rfc3164", facility, severity, timestamp, hostname, app_name, procid, "", {}, rest, 0, has_pri)


def _bsd_time(m: re.Match[str], received: datetime, tz: tzinfo) -> datetime | None:
    month = _MONTHS.get(m.group(1))
    if month is None:
        return None
    frac = m.group(6)
    micro = int(frac.ljust(6, "0")) if frac else 0
    local_received = received.astimezone(tz)
    year = int(m.group(7)) if m.group(7) else local_received.year
    try:
        dt = datetime(year, month, int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)), micro, tzinfo=tz)
    except ValueError:
        return None
    if not m.group(7) and dt - local_received > timedelta(days=2):
        dt = dt.replace(year=year - 1)  # December's message read in January
    return dt.astimezone(timezone.utc)
