"""CEF → Event: one event per CEF line, bare (``CEF:0|...``) or behind a syslog header.

A record may hold several lines (an HTTP body, a batch); each non-blank line is one
event, and a bad line does not sink the good ones (:class:`PartialDecodeError`).
The header's Signature ID is the ``vendor_type``, its Name the title, its severity
(0-10 or Low/Medium/High/Very-High) the OCSF severity with score = severity × 10.
Times come from ``rt`` (or ``end``/``start``), then the syslog header, then receipt.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from agent.sdk.decoder import Decoder, DecodeError, PartialDecodeError
from agent.model import Event, Severity, content_id, parse_time, score_from_severity
from agent.sdk.record import RawRecord
from agent.sdk.vocab import action_group, outcome_group
from plugins.dec_cef.config import CONFIG_SCHEMA
from plugins.dec_cef.parser import find_cef, parse_cef

__all__ = ["CefDecoder", "cef_severity", "cef_time", "event_from_cef"]

_WORDS = {"unknown": (Severity.UNKNOWN, 0), "low": (Severity.LOW, 25), "medium": (Severity.MEDIUM, 55),
          "high": (Severity.HIGH, 80), "very-high": (Severity.CRITICAL, 95), "very high": (Severity.CRITICAL, 95),
          "veryhigh": (Severity.CRITICAL, 95), "critical": (Severity.CRITICAL, 95)}
_CEF_TIME_FORMATS = ("%b %d %Y %H:%M:%S.%f", "%b %d %Y %H:%M:%S", "%b %d %H:%M:%S.%f %Y", "%b %d %H:%M:%S %Y")
_TZ = re.compile(r"\s+(UTC|GMT|Z|[+-]\d{2}:?\d{2})$")
_SYSLOG_5424 = re.compile(r"<\d{1,3}>\d{1,2} (\S+) (\S+) ")
_SYSLOG_3164 = re.compile(r"(?:<\d{1,3}>)?([A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}) (\S+) ")
MAX_LINES = 10000


def cef_severity(value: str) -> tuple[Severity, int]:
    """CEF severity → (OCSF severity, score): 0-3 low, 4-6 medium, 7-8 high, 9-10 critical; score = 10 × n."""
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
                   prefix: str = "") -> Event:
    """Map a :func:`~plugins.dec_cef.parser.parse_cef` result to an Event."""
    ext: dict[str, str] = cef["extensions"]
    header_time, header_host = _syslog_header(prefix) if prefix else (None, "")
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


def _context(cef: dict[str, Any], ext: dict[str, str], header_host: str) -> dict[str, dict[str, Any] | None]:
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
