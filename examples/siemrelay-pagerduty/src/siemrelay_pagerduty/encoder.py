"""Pure encoder: one siemrelay Event → one PagerDuty Events API v2 request body.

No I/O and no clock: the output depends on the event and the options only, so it is
tested without a network and siemrelay's conformance suite can check it is pure.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

import orjson

from agent.sdk import Event, format_time

__all__ = ["encode_event", "event_action", "dedup_key", "MAX_BODY_BYTES", "MAX_SUMMARY", "MAX_DEDUP_KEY"]

MAX_BODY_BYTES = 512 * 1024  # PagerDuty refuses larger events
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255


def _first(event: Event, fields: list[str]) -> str:
    for path in fields:
        value = event.get(path)
        if value not in (None, "", [], {}):
            return str(value)
    return ""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_action(event: Event, options: Mapping[str, Any]) -> str:
    """trigger, acknowledge or resolve, from the event's type."""
    if event.type in (options.get("resolve_types") or ()):
        return "resolve"
    if event.type in (options.get("acknowledge_types") or ()):
        return "acknowledge"
    return str(options.get("event_action", "trigger"))


def dedup_key(event: Event, options: Mapping[str, Any]) -> str:
    """The key that ties a finding's trigger to its resolve; hashed when over 255 characters."""
    key = _first(event, list(options.get("dedup_fields") or ["id"])) or event.id
    key = f"{event.source}:{key}"
    return key if len(key) <= MAX_DEDUP_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _links(event: Event) -> list[dict[str, str]]:
    return [{"href": str(url), "text": str(name)} for name, url in sorted((event.links or {}).items())
            if isinstance(url, str) and url.startswith(("http://", "https://"))]


def _details(event: Event, include_raw: bool) -> dict[str, Any]:
    details: dict[str, Any] = {
        "event_id": event.id, "type": event.type, "vendor_type": event.vendor_type,
        "severity": event.severity.label, "score": event.score, "description": event.description,
        "asset": event.asset, "finding": event.finding, "scan": event.scan, "repository": event.repository,
        "organization": event.organization, "tags": event.tags,
    }
    if include_raw:
        details["raw"] = event.raw
    return {k: v for k, v in details.items() if v not in (None, "", [], {})}


def encode_event(event: Event, routing_key: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The request body for one event (a dict; the sink serialises it).

    :param routing_key: the integration key (kept out of ``options`` so a caller
        cannot log it with them by accident).
    :param options: the sink's validated configuration.
    """
    action = event_action(event, options)
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key(event, options)}
    if action != "trigger":
        return body  # PagerDuty ignores a payload on acknowledge and resolve
    severity_map = options.get("severity_map") or {}
    summary = event.title or f"{event.source} {event.type}"
    body["payload"] = {
        "summary": _cut(summary, MAX_SUMMARY),
        "source": _first(event, list(options.get("source_fields") or ["source"])) or event.source,
        "severity": severity_map.get(event.severity.label, "info"),
        "timestamp": format_time(event.time),
        "component": str((event.asset or {}).get("type") or "") or None,
        "group": event.source,
        "class": event.type,
        "custom_details": _details(event, bool(options.get("include_raw"))),
    }
    body["payload"] = {k: v for k, v in body["payload"].items() if v is not None}
    links = _links(event)
    if links:
        body["links"] = links
    body["client"] = str(options.get("client") or "siemrelay")
    vendor = (event.links or {}).get("vendor")
    if isinstance(vendor, str) and vendor.startswith(("http://", "https://")):
        body["client_url"] = vendor
    return body


def serialise(body: dict[str, Any]) -> bytes:
    """JSON bytes; drops ``raw`` and then ``description`` from the details if over 512 KB."""
    data = orjson.dumps(body)
    details = body.get("payload", {}).get("custom_details", {})
    for key in ("raw", "description"):
        if len(data) <= MAX_BODY_BYTES:
            break
        if key in details:
            details = {k: v for k, v in details.items() if k != key}
            body = {**body, "payload": {**body["payload"], "custom_details": details}}
            data = orjson.dumps(body)
    return data
