"""CEF → Event: the one mapping of a parsed CEF line to the common model.

The header's Signature ID is the ``vendor_type``, its Name the title, its severity
(0-10 or Low/Medium/High/Very-High) the OCSF severity with score = severity × 10.
Times come from ``rt`` (or ``end``/``start``), then the syslog header, then receipt.
The dictionary keys that have a home fill the context groups (network, actor,
process, file, device, signature, action, outcome); the parsed CEF stays in ``raw``
so a CEF sink can relay it without loss.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, TypedDict

from agent.model import Event, Severity, content_id, parse_time, score_from_severity
from agent.sdk.record import RawRecord
from agent.sdk.vocab import action_group, outcome_group

__all__ = ["cef_severity", "cef_time", "event_from_cef"]

_WORDS = {"unknown": (Severity.UNKNOWN, 0), "low": (Severity.LOW, 25), "medium": (Severity.MEDIUM, 55),
          "high": (Severity.HIGH, 80), "very-high": (Severity.CRITICAL, 95), "very high": (Severity.CRITICAL, 95),
          "veryhigh": (Severity.CRITICAL, 95), "critical": (Severity.CRITICAL, 95)}
_CEF_TIME_FORMATS = ("%b %d %Y %H:%M:%S.%f", "%b %d %Y %H:%M:%S", "%b %d %H:%M:%S.%f %Y", "%b %d %H:%M:%S %Y")
_TZ = re.compile(r"\s+(UTC|GMT|Z|[+-]\d{2}:?\d{2})$")
_SYSLOG_5424 = re.compile(r"<\d{1,3}>\d{1,2} (\S+) (\S+) ")
_SYSLOG_3164 = re.compile(r"(?:<\d{1,3}>)?([A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}) (\S+) ")


def cef_severity(value: str) -> tuple[Severity, int]:
    """CEF severity → (OCSF severity, score), the mapping of docs/event-types.md.

    0-3 low, 4-6 medium, 7-8 high, 9-10 critical, score = 10 × n; the words Low, Medium,
    High, Very-High; anything else (a number out of 0-10, text) is unknown with score 0:
    a value outside the specification says nothing about how dangerous the event is.
    """
    text = value.strip().lower()
    if text in _WORDS:
        return _WORDS[text]
    try:
        n = float(text)
    except ValueError:
        return Severity.UNKNOWN, 0
    if not 0 <= n <= 10:
        return Severity.UNKNOWN, 0
    sev = Severity.CRITICAL if n >= 9 else Severity.HIGH if n >= 7 else Severity.MEDIUM if n >= 4 else Severity.LOW
    return sev, int(round(n * 10))


def cef_time(text: str) -> datetime | None:
    """A CEF time (``rt``/``start``/``end``): epoch ms, ``MMM dd yyyy HH:mm:ss[.SSS] [zone]``, or ISO 8601.

    A named zone other than UTC/GMT is not resolvable without a database of
    abbreviations and is read as UTC.
    """
    text = text.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit() and len(text) < 20:
        n = int(text)
        return parse_time(n if n > 10**11 else n)  # ArcSight sends ms; a small number is seconds
    dt = parse_time(text)
    if dt is not None:
        return dt
    tz = timezone.utc
    m = _TZ.search(text)
    if m:
        zone = m.group(1)
        text = text[: m.start()]
        if zone[0] in "+-":
            hh, mm = int(zone[1:3]), int(zone[-2:])
            tz = timezone((1 if zone[0] == "+" else -1) * timedelta(hours=hh, minutes=mm))
    else:
        text = re.sub(r"\s+[A-Za-z]{2,5}$", "", text)
    for fmt in _CEF_TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz).astimezone(timezone.utc)
        except ValueError:
            continue
    return None


def _syslog_header(prefix: str) -> tuple[datetime | None, str]:
    """(time, host) from the syslog header before ``CEF:``, when it has them."""
    m = _SYSLOG_5424.match(prefix)
    if m:
        return parse_time(m.group(1)), m.group(2) if m.group(2) != "-" else ""
    m = _SYSLOG_3164.search(prefix)
    if m:
        return None, m.group(2)  # a BSD time has no year: the receipt time is more truthful
    return None, ""


def event_from_cef(cef: dict[str, Any], line: str, record: RawRecord, source: str, event_type: str,
                   prefix: str = "", *, header_time: datetime | None = None, header_host: str | None = None) -> Event:
    """Map a :func:`~agent.sdk.cef_parser.parse_cef` result to an Event.

    Every decoder that meets CEF (the ``cef`` decoder, CEF inside syslog, a third-party
    one) maps it here, so the same line fills the same fields whichever way it came in.

    :param line: the text the event came from (kept in ``raw.message``, hashed for the id
        when the CEF has no ``externalId``/``eventId``).
    :param prefix: the text before ``CEF:`` (a syslog header), kept in ``raw.syslog_header``.
    :param header_time: the syslog header's time when the caller parsed it already;
        default read from ``prefix``.
    :param header_host: the syslog header's host, likewise.
    """
    ext: dict[str, str] = cef["extensions"]
    parsed_time, parsed_host = _syslog_header(prefix) if prefix else (None, "")
    header_time = header_time if header_time is not None else parsed_time
    header_host = header_host if header_host is not None else parsed_host
    time = None
    for key in ("rt", "end", "start"):
        if key in ext:
            time = cef_time(ext[key])
            if time is not None:
                break
    sev = cef_severity(cef["severity"])
    groups = _context(cef, ext, header_host)
    asset: dict[str, Any] = {k: v for k, v in (
        ("name", ext.get("dhost") or ext.get("dst")), ("host", ext.get("dhost")), ("ip", ext.get("dst")),
    ) if v}
    finding: dict[str, Any] = {k: v for k, v in (("category", ext.get("cat")), ("url", ext.get("request"))) if v}
    for n in range(1, 7):  # custom strings with their labels: cs1Label=CVE cs1=CVE-2024-1 → finding.labels.CVE
        label, value = ext.get(f"cs{n}Label"), ext.get(f"cs{n}")
        if label and value:
            finding.setdefault("labels", {})[label] = value
            if label.lower() in ("cve", "cwe"):
                finding[label.lower()] = value
    external = ext.get("externalId") or ext.get("eventId")
    ident = (f"{cef['device_vendor']}:{cef['device_product']}:{external}" if external
             else content_id(source, line.encode("utf-8", "surrogatepass")))
    raw: dict[str, Any] = {**cef, "message": line}
    if prefix:
        raw["syslog_header"] = prefix.rstrip()
    return Event(id=ident, time=time or header_time or record.received_at, received_at=record.received_at,
                 source=source, type=event_type, vendor_type=cef["signature_id"], severity_id=int(sev[0]),
                 score=sev[1] if sev[0] is not Severity.UNKNOWN else score_from_severity(sev[0]),
                 title=cef["name"], description=ext.get("msg", ""), asset=asset or None, finding=finding or None,
                 raw=raw, **groups)


def _port(value: str | None) -> int | str | None:
    """A port as a number when it is one (kept as sent otherwise, never dropped)."""
    if value is None or value == "":
        return None
    return int(value) if value.isascii() and value.isdigit() and int(value) <= 65535 else value


class _Context(TypedDict):
    """The model's context groups a CEF line fills (``None`` where it has nothing)."""

    network: dict[str, Any] | None
    actor: dict[str, Any] | None
    process: dict[str, Any] | None
    file: dict[str, Any] | None
    device: dict[str, Any] | None
    signature: dict[str, Any] | None
    action: dict[str, Any] | None
    outcome: dict[str, Any] | None


def _context(cef: dict[str, Any], ext: dict[str, str], header_host: str) -> _Context:
    """The model's context groups from the CEF header and the dictionary keys that have a home."""
    network = {k: v for k, v in (
        ("src_ip", ext.get("src") or ext.get("shost")), ("src_port", _port(ext.get("spt"))),
        ("dst_ip", ext.get("dst") or ext.get("dhost")), ("dst_port", _port(ext.get("dpt"))),
        ("protocol", (ext.get("proto") or "").lower()),
        ("direction", {"0": "inbound", "1": "outbound"}.get(ext.get("deviceDirection", ""), "")),
    ) if v not in (None, "")}
    actor = {k: v for k, v in (("user", ext.get("suser") or ext.get("duser")),
                               ("domain", ext.get("sntdom") or ext.get("dntdom"))) if v}
    process = {k: v for k, v in (("name", ext.get("sproc") or ext.get("dproc") or ext.get("deviceProcessName")),
                                 ("pid", _port(ext.get("spid") or ext.get("dpid")) if (ext.get("spid") or ext.get("dpid")) else None)) if v not in (None, "")}
    file = {k: v for k, v in (("path", ext.get("filePath") or ext.get("fname")), ("hash", ext.get("fileHash"))) if v}
    device = {k: v for k, v in (("vendor", cef["device_vendor"]), ("product", cef["device_product"]),
                                ("version", cef["device_version"]),
                                ("hostname", ext.get("dvchost") or ext.get("dvc") or header_host)) if v}
    signature = {k: v for k, v in (("id", cef["signature_id"]), ("name", cef["name"])) if v}
    return {"network": network or None, "actor": actor or None, "process": process or None, "file": file or None,
            "device": device or None, "signature": signature or None,
            "action": action_group(ext["act"]) if ext.get("act") else None,
            "outcome": outcome_group(ext["outcome"]) if ext.get("outcome") else None}
