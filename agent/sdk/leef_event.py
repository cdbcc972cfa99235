"""LEEF → Event: the one mapping of a parsed LEEF line to the common model.

QRadar's predefined keys fill the context groups: ``src``/``srcPort``/``dst``/
``dstPort``/``proto`` the network, ``usrName`` (or ``accountName``) and ``domain`` the
actor; the header's Vendor/Product/Version the reporting ``device`` and its EventID
the ``signature`` and ``vendor_type``. ``sev`` (1-10) is read like a CEF severity
(score = sev × 10), ``cat`` is the finding category, and the time comes from
``devTime`` read with ``devTimeFormat`` (a Java SimpleDateFormat pattern), then the
syslog header, then receipt. The custom keys siemrelay's own LEEF encoder writes
(``name``, ``action``, ``outcome``, ``devHost``, ``description``, ``externalId``) are
read back too, so a LEEF relay keeps them. The parsed LEEF stays in ``raw``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from agent.model import Event, Severity, content_id, score_from_severity
from agent.sdk.cef_event import cef_severity, cef_time
from agent.sdk.leef_parser import LeefRecord
from agent.sdk.record import RawRecord
from agent.sdk.vocab import action_group, outcome_group

__all__ = ["event_from_leef", "leef_time"]

# Java SimpleDateFormat letters → strptime directives, longest first.
_JAVA_TOKENS = (("yyyy", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"), ("dd", "%d"),
                ("d", "%d"), ("HH", "%H"), ("H", "%H"), ("hh", "%I"), ("mm", "%M"), ("ss", "%S"),
                ("SSS", "%f"), ("a", "%p"), ("EEE", "%a"), ("zzz", "%Z"), ("z", "%Z"), ("Z", "%z"),
                ("XXX", "%z"), ("X", "%z"))
_JAVA_TOKEN = re.compile("|".join(re.escape(j) for j, _ in _JAVA_TOKENS) + r"|'[^']*'|[A-Za-z]")
_JAVA_OF = dict(_JAVA_TOKENS)


def _strptime_pattern(java: str) -> str | None:
    """The strptime form of a Java SimpleDateFormat pattern, or ``None`` for a letter it cannot read."""
    out: list[str] = []
    pos = 0
    for m in _JAVA_TOKEN.finditer(java):
        out.append(java[pos:m.start()].replace("%", "%%"))
        token = m.group(0)
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%") or "'")
        elif token in _JAVA_OF:
            out.append(_JAVA_OF[token])
        else:
            return None
        pos = m.end()
    out.append(java[pos:].replace("%", "%%"))
    return "".join(out)


def leef_time(value: str, java_format: str = "") -> datetime | None:
    """``devTime`` as a UTC time: read with ``devTimeFormat`` when given, else as QRadar
    reads it without one (epoch milliseconds, ``MMM dd yyyy HH:mm:ss``, ISO 8601).

    A zone name other than UTC/GMT cannot be resolved without a database of
    abbreviations and is read as UTC; a time without a zone is UTC.
    """
    value = value.strip()
    if not value:
        return None
    pattern = _strptime_pattern(java_format.strip()) if java_format.strip() else None
    if pattern:
        text = value
        if "%Z" in pattern:  # strptime's %Z knows only UTC/GMT and the local zone: read others as UTC
            pattern = pattern.replace("%Z", "").rstrip()
            text = re.sub(r"\s*[A-Za-z]{1,5}$", "", text).rstrip()
        try:
            dt = datetime.strptime(text, pattern)
        except ValueError:
            return cef_time(value)
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    return cef_time(value)


def _port(value: str | None) -> int | str | None:
    """A port as a number when it is one (kept as sent otherwise, never dropped)."""
    if value is None or value == "":
        return None
    return int(value) if value.isascii() and value.isdigit() and int(value) <= 65535 else value


def _present(pairs: tuple[tuple[str, Any], ...]) -> dict[str, Any] | None:
    group = {k: v for k, v in pairs if v not in (None, "")}
    return group or None


def event_from_leef(leef: LeefRecord, line: str, record: RawRecord, source: str, event_type: str,
                    prefix: str = "", *, header_time: datetime | None = None, header_host: str = "") -> Event:
    """Map a :func:`~agent.sdk.leef_parser.parse_leef` result to an Event.

    :param line: the text the event came from (kept in ``raw.message``, hashed for the id
        when the LEEF has no ``externalId``).
    :param prefix: the text before ``LEEF:`` (a syslog header), kept in ``raw.syslog_header``.
    :param header_time: the syslog header's time, used when there is no readable ``devTime``.
    :param header_host: the syslog header's host: the reporting device's host name.
    """
    attrs = leef["attributes"]
    time = leef_time(attrs.get("devTime", ""), attrs.get("devTimeFormat", ""))
    sev, score = cef_severity(attrs["sev"]) if "sev" in attrs else (Severity.UNKNOWN, 0)
    title = attrs.get("name") or " ".join(x for x in (leef["vendor"], leef["product"], leef["event_id"]) if x)
    network = _present((("src_ip", attrs.get("src")), ("src_port", _port(attrs.get("srcPort"))),
                        ("dst_ip", attrs.get("dst")), ("dst_port", _port(attrs.get("dstPort"))),
                        ("protocol", (attrs.get("proto") or "").lower())))
    actor = _present((("user", attrs.get("usrName") or attrs.get("accountName") or attrs.get("AccountName")),
                      ("domain", attrs.get("domain"))))
    device = _present((("vendor", leef["vendor"]), ("product", leef["product"]), ("version", leef["product_version"]),
                       ("hostname", attrs.get("devHost") or header_host)))
    signature = _present((("id", leef["event_id"]), ("name", attrs.get("name"))))
    dst_host = attrs.get("dstHostName") or attrs.get("identHostName")
    asset = _present((("name", dst_host or attrs.get("dst")), ("host", dst_host), ("ip", attrs.get("dst"))))
    finding = _present((("category", attrs.get("cat")), ("url", attrs.get("url"))))
    external = attrs.get("externalId")
    ident = (f"{leef['vendor']}:{leef['product']}:{external}" if external
             else content_id(source, line.encode("utf-8", "surrogatepass")))
    raw: dict[str, Any] = {"format": "leef", **leef, "message": line}
    if prefix:
        raw["syslog_header"] = prefix.rstrip()
    return Event(id=ident, time=time or header_time or record.received_at, received_at=record.received_at,
                 source=source, type=event_type, vendor_type=leef["event_id"], severity_id=int(sev),
                 score=score if sev is not Severity.UNKNOWN else score_from_severity(sev), title=title,
                 description=attrs.get("description") or attrs.get("msg") or "", asset=asset, finding=finding,
                 network=network, actor=actor, device=device, signature=signature,
                 action=action_group(attrs["action"]) if attrs.get("action") else None,
                 outcome=outcome_group(attrs["outcome"]) if attrs.get("outcome") else None, raw=raw)
