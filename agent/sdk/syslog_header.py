"""Pure pieces of a syslog message shared by the ``syslog`` and ``cef`` sinks.

PRI from facility and the event's severity, RFC 5424 and RFC 3164 headers, header
field sanitising (PRINTUSASCII, length limits) and the two TCP framings of RFC 6587
(octet counting, and LF, the non-transparent framing).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Mapping

__all__ = ["FACILITIES", "syslog_severity", "pri", "header_field", "hostname_field", "rfc5424_header", "rfc3164_header",
           "frame_octet", "frame_lf", "truncate_utf8"]

FACILITIES: dict[str, int] = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8,
    "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
    **{f"local{i}": 16 + i for i in range(8)},
}

# OCSF severity id → syslog severity: critical→crit(2), high→err(3), medium→warning(4),
# low→notice(5), info→info(6); unknown→notice(5) so it is not filtered away as chatter.
_SYSLOG_SEVERITY = {5: 2, 4: 3, 3: 4, 2: 5, 1: 6, 0: 5}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def syslog_severity(severity_id: Any) -> int:
    """Map an OCSF severity id to a syslog severity (0 emergency … 7 debug)."""
    return _SYSLOG_SEVERITY.get(severity_id if isinstance(severity_id, int) else 0, 5)


def pri(facility: int, severity_id: Any) -> str:
    """Return ``<PRI>`` for a facility number and an OCSF severity id."""
    return f"<{facility * 8 + syslog_severity(severity_id)}>"


def header_field(value: Any, limit: int) -> str:
    """Make a header field valid: PRINTUSASCII (33-126) only, at most ``limit``, ``-`` if empty."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if not text:
        return "-"
    if not (text.isascii() and text.isprintable() and " " not in text):
        text = "".join(c if 33 <= ord(c) <= 126 else "_" for c in text)
    return text[:limit]


def hostname_field(value: Any) -> str:
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


def rfc5424_timestamp(iso: Any) -> str:
    """The native form's time (``2025-01-15T14:30:00.123Z``) is already an RFC 5424 TIMESTAMP."""
    if isinstance(iso, str) and len(iso) >= 20 and iso[4] == "-" and iso[10] == "T":
        return iso
    return "-"


def rfc5424_header(facility: int, doc: Mapping[str, Any], hostname: str, app_name: str, procid: str, msgid: str) -> str:
    """``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID`` (no trailing space)."""
    return (f"{pri(facility, doc.get('severity_id'))}1 {rfc5424_timestamp(doc.get('time'))} "
            f"{hostname_field(hostname)} {header_field(app_name, 48)} {header_field(procid, 128)} {header_field(msgid, 32)}")


def rfc3164_header(facility: int, doc: Mapping[str, Any], hostname: str) -> str:
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
