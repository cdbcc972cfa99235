"""Escape workflow export → one Event per resource (issue, asset, scan, profile, location, integration).

Escape sends no event type: a workflow exports the resources that matched its
conditions. The normalised type therefore comes from the resource and its state
(``issue`` + ``OPEN`` → ``finding.new``, ``scan`` + ``FAILED`` → ``scan.failed``; see
:data:`agent.sdk.normalize.TYPE_TABLE`). The event id is Escape's resource id plus that
state (``<issue id>:RESOLVED``), so a re-export of the same state de-duplicates while a
state change is a new event. A bad item does not sink the good ones: it is reported
through :class:`~agent.sdk.decoder.PartialDecodeError`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from agent.sdk.decoder import Decoder, DecodeError, PartialDecodeError
from agent.sdk import Event, Severity
from agent.sdk.normalize import canonical, first_time, normalize_type, opt_list, opt_obj, opt_str, severity_of_name
from agent.sdk.record import RawRecord
from plugins.dec_escape.context import DEVICE, issue_context, network_of, scan_outcome
from plugins.dec_escape.config import CONFIG_SCHEMA, RESOURCES
from plugins.dec_escape.mapping import asset_group, location_of, profile_group, scan_events, scan_group, target_group

SOURCE = "escape"
_SINGULAR = {"issues": "issue", "assets": "asset", "scans": "scan", "profiles": "profile", "locations": "location",
             "integrations": "integration"}


class EscapeDecoder(Decoder):
    """The Escape export payload (``issues``, ``assets``, ``scans``, ``profiles``, ``locations``, ``integrations``)."""

    type_name = "escape"
    description = "Escape workflow webhook export: one event per issue, asset, scan, profile, location and integration."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.resources = frozenset(config.get("resources") or RESOURCES)
        self.max_items = int(config.get("max_items") or 10000)
        self._mappers: dict[str, Callable[[dict[str, Any], str, RawRecord], Event]] = {
            "issues": self._issue, "assets": self._asset, "scans": self._scan, "profiles": self._profile,
            "locations": self._location, "integrations": self._integration,
        }

    def decode(self, record: RawRecord) -> list[Event]:
        payload = self.payload(record)
        if not isinstance(payload, dict):
            raise DecodeError(f"an Escape export is a JSON object, found {type(payload).__name__}")
        present = [key for key in RESOURCES if key in payload]
        if not present:
            raise DecodeError("not an Escape export: none of " + ", ".join(RESOURCES) + " is at the root")
        canonical(payload)  # depth and storability guard for everything below
        arrays = {key: opt_list(payload, key, "$") for key in present}
        total = sum(len(v) for v in arrays.values())
        if total > self.max_items:
            raise DecodeError(f"export carries {total} resources, over the limit of {self.max_items}")
        events: list[Event] = []
        failures: list[str] = []
        for key, items in arrays.items():
            if key not in self.resources:
                continue
            mapper = self._mappers[key]
            for i, item in enumerate(items):
                where = f"{key}[{i}]"
                try:
                    if not isinstance(item, dict):
                        raise DecodeError(f"{where} must be an object, found {type(item).__name__}")
                    events.append(mapper(item, where, record))
                except DecodeError as exc:
                    failures.append(str(exc))
        if failures:
            if events:
                raise PartialDecodeError(events, failures)
            raise DecodeError("; ".join(failures))
        return events

    # -- one mapper per resource ----------------------------------------------------

    def _event(self, item: dict[str, Any], where: str, record: RawRecord, kind: str, state: str, *,
               time: datetime | None, title: str,
               **groups: Any) -> Event:  # Any: Event keyword fields, each of its own type
        rid = opt_str(item.get("id"))
        if not rid:
            raise DecodeError(f"{where}.id is required and missing")
        vendor_key = f"{kind}:{state}" if state else kind
        etype = normalize_type(SOURCE, vendor_key)
        if etype.startswith(SOURCE + "."):  # a state Escape added after this table: type by resource
            etype = normalize_type(SOURCE, kind)
        sev = groups.pop("severity", (Severity.INFO, 5))
        return Event(id=f"{rid}:{state}" if state else rid, time=time or record.received_at,
                     received_at=record.received_at, source=SOURCE, type=etype, vendor_type=kind,
                     severity_id=int(sev[0]), score=sev[1], title=title,
                     description=groups.pop("description", ""), tags=groups.pop("tags", []), raw=item,
                     **{k: v for k, v in groups.items() if v})

    def _issue(self, item: dict[str, Any], where: str, record: RawRecord) -> Event:
        status = opt_str(item.get("status")).upper()
        finding: dict[str, Any] = {"id": opt_str(item.get("id"))}
        for key, src in (("name", "name"), ("category", "category"), ("status", "status"),
                         ("alert_uid", "alertUid"), ("security_test_uid", "securityTestUid"),
                         ("created_at", "createdAt"), ("asset_id", "assetId")):
            value = opt_str(item.get(src))
            if value:
                finding[key] = value
        targets = [target_group(t, f"{where}.targets[{i}]") if isinstance(t, dict)
                   else _not_object(f"{where}.targets[{i}]", t) for i, t in enumerate(opt_list(item, "targets", where))]
        if targets:
            finding["targets"] = targets
            loc = location_of(targets)
            if loc:
                finding["location"] = loc
        events = scan_events(opt_list(item, "events", where), where)
        if events:
            finding["events"] = events
        asset = repository = None
        nested = opt_obj(item, "asset", where)
        if nested is not None:
            asset, repository = asset_group(nested, f"{where}.asset")
        elif finding.get("asset_id"):
            asset = {"id": finding["asset_id"]}
        if asset and "url" in asset and "location" in finding and "route" in finding["location"]:
            finding["url"] = asset["url"].rstrip("/") + "/" + finding["location"]["route"].lstrip("/")
        elif "location" in finding and "url" in finding["location"]:
            finding["url"] = finding["location"]["url"]
        scan = None
        nested_scan = opt_obj(item, "scan", where)
        if nested_scan is not None:
            scan = scan_group(nested_scan, f"{where}.scan")
        app = opt_obj(item, "application", where)
        if app is not None:
            scan = scan or {}
            scan["profile"] = profile_group(app)
        name = opt_str(item.get("fullName")) or opt_str(item.get("name")) or "Escape issue"
        time = first_time(item.get("updatedAt"), item.get("createdAt") if status in ("OPEN", "") else None)
        return self._event(item, where, record, "issue", status, time=time, title=name,
                           severity=severity_of_name(item.get("severity")),
                           description=opt_str(item.get("context")), finding=finding, asset=asset, scan=scan,
                           repository=repository, tags=list((asset or {}).get("tags", [])),
                           **issue_context(finding, asset))

    def _asset(self, item: dict[str, Any], where: str, record: RawRecord) -> Event:
        asset, repository = asset_group(item, where)
        name = asset.get("name") or asset.get("url") or asset.get("host") or opt_str(item.get("id"))
        title = f"Escape asset {name} ({asset.get('class') or asset.get('type') or 'unknown class'})"
        return self._event(item, where, record, "asset", "", time=first_time(item.get("updatedAt"), item.get("createdAt")),
                           title=title, asset=asset, repository=repository, tags=list(asset.get("tags", [])),
                           device=dict(DEVICE), network=network_of(asset))

    def _scan(self, item: dict[str, Any], where: str, record: RawRecord) -> Event:
        scan = scan_group(item, where)
        status = opt_str(item.get("status")).upper()
        app = (scan.get("profile") or {}).get("name") or scan.get("application_id") or "unknown profile"
        title = f"Escape {scan.get('type') or 'scan'} scan {status.lower() or 'updated'}: {app}"
        sev = (Severity.LOW, 25) if status == "FAILED" else (Severity.INFO, 5)
        time = first_time(item.get("finishedAt"), item.get("updatedAt"), item.get("createdAt"))
        return self._event(item, where, record, "scan", status, time=time, title=title, scan=scan, severity=sev,
                           device=dict(DEVICE), outcome=scan_outcome(status))

    def _profile(self, item: dict[str, Any], where: str, record: RawRecord) -> Event:
        asset = {"type": "profile", **profile_group(item)}
        title = f"Escape profile {asset.get('name') or asset.get('id')} ({asset.get('scanner_kind') or 'scanner'})"
        return self._event(item, where, record, "profile", "", time=first_time(item.get("updatedAt"), item.get("createdAt")),
                           title=title, asset=asset, device=dict(DEVICE))

    def _location(self, item: dict[str, Any], where: str, record: RawRecord) -> Event:
        asset: dict[str, Any] = {"type": "location"}
        for key, src in (("id", "id"), ("name", "name"), ("proxy_type", "type"), ("host", "target"), ("ip", "ip"),
                         ("region", "region"), ("created_at", "createdAt")):
            value = opt_str(item.get(src))
            if value:
                asset[key] = value
        if isinstance(item.get("enabled"), bool):
            asset["enabled"] = item["enabled"]
        state = "enabled" if asset.get("enabled") else "disabled" if "enabled" in asset else "unknown state"
        title = f"Escape location {asset.get('name') or asset.get('id')} ({state})"
        return self._event(item, where, record, "location", "", time=first_time(item.get("updatedAt"), item.get("createdAt")),
                           title=title, asset=asset, device=dict(DEVICE))

    def _integration(self, item: dict[str, Any], where: str, record: RawRecord) -> Event:
        asset: dict[str, Any] = {"type": "integration"}
        for key, src in (("id", "id"), ("name", "name"), ("kind", "kind"), ("created_at", "createdAt"),
                         ("updated_at", "updatedAt")):
            value = opt_str(item.get(src))
            if value:
                asset[key] = value
        if isinstance(item.get("valid"), bool):
            asset["valid"] = item["valid"]
        invalid = asset.get("valid") is False
        title = f"Escape integration {asset.get('name') or asset.get('id')} ({asset.get('kind') or 'kind unknown'})" + \
            (" is invalid" if invalid else "")
        sev = (Severity.LOW, 25) if invalid else (Severity.INFO, 5)
        return self._event(item, where, record, "integration", "", severity=sev,
                           time=first_time(item.get("updatedAt"), item.get("createdAt")), title=title, asset=asset,
                           device=dict(DEVICE),
                           outcome={"name": "failure" if invalid else "success", "original": "invalid" if invalid
                                    else "valid"} if "valid" in asset else None)


def _not_object(where: str, value: object) -> dict[str, Any]:
    raise DecodeError(f"{where} must be an object, found {type(value).__name__}")

