"""Detectify webhook → one Event: the current payload and the legacy scan-profile messages.

Current: ``{"event_type": "finding", "timestamp": ..., "finding": {title, severity, asset,
url, parameter, description, remediation}}``. Legacy: ``{"type": "event_finding_high",
"domain", "cvss_score", "severity", "title", "finding_url", "tags"}`` and the scan
messages with ``report_url`` and finding counts. Severity is Detectify's word when it
sends one, else its CVSS bands (:func:`agent.sdk.normalize.severity_of_detectify`); the
legacy type itself (``_high``/``_medium``) is the last resort. Detectify sends no event
id, so the id is a hash of the canonical payload.
"""

from __future__ import annotations

from typing import Any

from agent.sdk.decoder import Decoder, DecodeError
from agent.sdk import DETECTIFY_LEGACY_TYPES, Event, Severity, score_from_severity
from agent.sdk.normalize import (canonical, first_time, normalize_type, opt_list, opt_obj, opt_str, req_obj, req_str,
                             severity_of_detectify, stable_id)
from agent.sdk.record import RawRecord
from plugins.dec_detectify.config import CONFIG_SCHEMA

SOURCE = "detectify"
LEGACY_TYPES = DETECTIFY_LEGACY_TYPES
_LEGACY_FLOOR = {"event_finding_high": Severity.HIGH, "event_finding_medium": Severity.MEDIUM}
_COUNTS = (("critical_findings", "critical"), ("medium_findings", "medium"), ("notice_findings", "info"))


def _kind(value: object) -> str:
    return "null" if value is None else {dict: "an object", list: "an array", bool: "a boolean", int: "a number",
                                         float: "a number"}.get(type(value), type(value).__name__)


def _host(asset: str) -> str:
    text = asset.split("://", 1)[-1].split("/", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def _number(obj: dict[str, Any], key: str, where: str) -> float | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise DecodeError(f"{where}.{key} must be a number, found {type(value).__name__}")
    try:
        return float(value)
    except ValueError:
        raise DecodeError(f"{where}.{key} must be a number, found {str(value)[:40]!r}") from None


class DetectifyDecoder(Decoder):
    """Detectify's finding, scan and asset webhooks."""

    type_name = "detectify"
    description = "Detectify webhooks: current finding payloads and legacy event_scan_*/event_finding_* messages."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.legacy = bool(config.get("legacy", True))

    def decode(self, record: RawRecord) -> list[Event]:
        payload = self.payload(record)
        if not isinstance(payload, dict):
            raise DecodeError(f"a Detectify webhook is a JSON object, found {type(payload).__name__}")
        if "event_type" in payload:
            return [self._current(payload, record)]
        kind = payload.get("type")
        if isinstance(kind, str) and kind.startswith("event_"):
            if not self.legacy:
                raise DecodeError(f"legacy Detectify message {kind!r} while legacy messages are disabled")
            return [self._legacy(payload, kind, record)]
        raise DecodeError("not a Detectify webhook: neither event_type (current) nor a legacy type event_* is present")

    def _current(self, payload: dict[str, Any], record: RawRecord) -> Event:
        kind = payload["event_type"]
        if not isinstance(kind, str) or not kind:
            raise DecodeError(f"$.event_type must be a string, found {'an empty string' if kind == '' else _kind(kind)}")
        canon = canonical(payload)
        etype = normalize_type(SOURCE, kind)
        finding_in = req_obj(payload, "finding", "$") if etype.startswith("finding.") else opt_obj(payload, "finding", "$")
        finding: dict[str, Any] = {}
        asset: dict[str, Any] = {}
        title = description = ""
        sev: tuple[Severity, int] = (Severity.INFO, 5)
        tags: list[str] = []
        if finding_in is not None:
            title = req_str(finding_in, "title", "finding")
            description = opt_str(finding_in.get("description"))
            cvss = _number(finding_in, "cvss_score", "finding")
            if cvss is None:
                cvss = _number(finding_in, "cvss", "finding")
            sev = severity_of_detectify(finding_in.get("severity"), cvss)
            for key in ("id", "uuid", "url", "parameter", "remediation", "status", "category", "cwe", "cve"):
                value = opt_str(finding_in.get(key))
                if value:
                    finding["id" if key == "uuid" and "id" not in finding else key] = value
            if cvss is not None:
                finding["cvss"] = cvss
            tags = [opt_str(t) for t in opt_list(finding_in, "tags", "finding") if opt_str(t)]
            if opt_str(finding_in.get("severity")):
                finding["vendor_severity"] = opt_str(finding_in.get("severity"))
        asset_in = (finding_in or {}).get("asset", payload.get("asset"))
        if isinstance(asset_in, dict):
            name = opt_str(asset_in.get("name")) or opt_str(asset_in.get("domain"))
            asset = {k: v for k, v in (("id", opt_str(asset_in.get("id")) or opt_str(asset_in.get("uuid"))),
                                       ("name", name)) if v}
        elif opt_str(asset_in):
            asset = {"name": opt_str(asset_in)}
        elif isinstance(asset_in, list):
            raise DecodeError("finding.asset must be a string or an object, found an array")
        if asset.get("name"):
            asset["host"] = _host(asset["name"])
        if not title:
            title = f"Detectify {kind.replace('_', ' ')}" + (f": {asset['name']}" if asset.get("name") else "")
        # finding.url is the vulnerable target (possibly with the injected payload), not a
        # Detectify page: a chat button must never open it, so links.vendor stays absent.
        links = None
        return Event(id=stable_id(SOURCE, canon), time=first_time(payload.get("timestamp")) or record.received_at,
                     received_at=record.received_at, source=SOURCE, type=etype, vendor_type=kind,
                     severity_id=int(sev[0]), score=sev[1], title=title, description=description,
                     asset=asset or None, finding=finding or None, links=links, tags=tags, raw=payload)

    def _legacy(self, payload: dict[str, Any], kind: str, record: RawRecord) -> Event:
        domain = req_str(payload, "domain", "$")
        canon = canonical(payload)
        asset = {"name": domain, "host": _host(domain)}
        links: dict[str, str] = {}
        report = opt_str(payload.get("report_url"))
        if report:
            links["report"] = report
        tags = [opt_str(t) for t in opt_list(payload, "tags", "$") if opt_str(t)]
        finding: dict[str, Any] | None = None
        scan: dict[str, Any] | None = None
        description = ""
        if kind.startswith("event_finding"):
            title = req_str(payload, "title", "$")
            cvss = _number(payload, "cvss_score", "$")
            sev = severity_of_detectify(payload.get("severity"), cvss)
            floor = _LEGACY_FLOOR.get(kind)
            if sev[0] is Severity.UNKNOWN and floor is not None:
                sev = (floor, score_from_severity(floor))
            finding = {"cvss": cvss} if cvss is not None else {}
            url = opt_str(payload.get("finding_url"))
            if url:
                finding["url"] = url
                links["vendor"] = url
            if opt_str(payload.get("severity")):
                finding["vendor_severity"] = opt_str(payload.get("severity"))
        else:
            status = "started" if kind == "event_scan_started" else "completed"
            scan = {"status": status}
            counts: dict[str, int] = {}
            for src, dst in _COUNTS:
                n = _number(payload, src, "$")
                if n is not None:
                    if not 0 <= n < 2**53:
                        raise DecodeError(f"$.{src} must be a count (0 or more), found {n}")
                    counts[dst] = int(n)
            if counts:
                counts["total"] = sum(counts.values())
                scan["counts"] = counts
                description = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "total")
            title = f"Detectify scan {status}: {domain}"
            sev = (Severity.INFO, 5)
        if report and "vendor" not in links:
            links["vendor"] = report
        return Event(id=stable_id(SOURCE, canon), time=first_time(payload.get("timestamp")) or record.received_at,
                     received_at=record.received_at, source=SOURCE, type=normalize_type(SOURCE, kind),
                     vendor_type=kind, severity_id=int(sev[0]), score=sev[1], title=title, description=description,
                     asset=asset, finding=finding or None, scan=scan, links=links or None, tags=tags, raw=payload)
