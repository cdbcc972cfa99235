"""Pure encoder of the ``otlp`` sink: events → one ``ExportLogsServiceRequest``.

Mapping (documented in docs/sinks.md):

- ``time_unix_nano`` ← ``time``; ``observed_time_unix_nano`` ← ``received_at``;
- ``severity_number`` ← the OCSF severity (info INFO, low INFO4, medium WARN, high
  ERROR, critical FATAL, unknown UNSPECIFIED); ``severity_text`` ← its name;
- ``event_name`` ← ``type``;
- ``body`` ← ``title`` (``body: title``) or the native event as a map (``body: event``);
- attributes: every other native field, flattened under ``siemrelay.`` (``siemrelay.id``,
  ``siemrelay.asset.host``, ``siemrelay.tags`` as an array); empty values left out;
- resource: ``service.name``, ``host.name`` and the configured extras; scope ``siemrelay``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

from agent.sdk import Event, OtlpModules, flatten, key_values, otlp_severity, to_any_value

__all__ = ["OtlpFormat", "encode_request", "serialize", "log_attributes", "unix_nano", "compress"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Fields that have their own LogRecord field, so they are not repeated as attributes.
_OWN_FIELDS = frozenset({"time", "received_at", "severity", "title"})


@dataclass(frozen=True, slots=True)
class OtlpFormat:
    """What the encoder needs besides the events (all from the sink's configuration)."""

    body: str = "title"
    include_raw: bool = False
    resource: dict[str, Any] = field(default_factory=dict)
    scope_version: str = ""
    encoding: str = "protobuf"


def unix_nano(dt: datetime) -> int:
    """Nanoseconds since the epoch, exact to the microsecond (no float rounding)."""
    delta = dt - _EPOCH
    return ((delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000


def log_attributes(doc: dict[str, Any], body: str, include_raw: bool) -> list[tuple[str, Any]]:
    """The ``siemrelay.*`` attributes of one native event dict."""
    if body == "event":  # the body has it all; keep what collectors filter and route on
        return [(f"siemrelay.{k}", doc.get(k)) for k in ("id", "source", "type") if doc.get(k)]
    out: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if key in _OWN_FIELDS or (key == "raw" and not include_raw) or _empty(value):
            continue
        if type(value) is dict and key != "raw":
            out.extend(kv for kv in flatten(f"siemrelay.{key}", value) if not _empty(kv[1]))
        else:
            out.append((f"siemrelay.{key}", value))
    return out


def _empty(value: object) -> bool:
    return value is None or value == "" or (type(value) in (list, dict) and not value)


def encode_request(events: Sequence[Event], fmt: OtlpFormat, pb: OtlpModules) -> Any:
    """One ``ExportLogsServiceRequest`` with one resource and one scope for the batch."""
    request = pb.service.ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    key_values(fmt.resource.items(), resource_logs.resource.attributes)
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "siemrelay"
    scope_logs.scope.version = fmt.scope_version
    for event in events:
        doc = event.to_dict()
        record = scope_logs.log_records.add()
        record.time_unix_nano = unix_nano(event.time)
        record.observed_time_unix_nano = unix_nano(event.received_at)
        record.severity_number = otlp_severity(event.severity_id)
        record.severity_text = doc["severity"]
        record.event_name = event.type
        if fmt.body == "event":
            to_any_value(doc, record.body)
        else:
            record.body.string_value = event.title
        key_values(log_attributes(doc, fmt.body, fmt.include_raw), record.attributes)
    return request


def serialize(request: Any, encoding: str, pb: OtlpModules) -> bytes:  # Any: a generated protobuf message (lazy import)
    """Protobuf bytes, or OTLP/JSON (lowerCamelCase keys, enums as integers, as the spec says)."""
    if encoding == "json":
        text: str = pb.json_format.MessageToJson(request, use_integers_for_enums=True, indent=None)
        return text.encode("utf-8")
    data: bytes = request.SerializeToString()
    return data


def compress(data: bytes) -> bytes:
    """gzip with a fixed mtime, so the same batch always gives the same bytes."""
    return gzip.compress(data, compresslevel=6, mtime=0)
