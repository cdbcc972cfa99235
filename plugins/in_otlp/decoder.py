"""Decoder ``otlp``: one OTLP LogRecord (as :mod:`plugins.in_otlp.request` writes it) → one Event.

Three shapes are recognised, most specific first:

1. ``body`` is a map holding a native event (``id``, ``time``, ``source``, ``type``):
   what a siemrelay ``otlp`` sink sends with ``body: event``; taken as is.
2. ``siemrelay.id`` and ``siemrelay.type`` attributes: what that sink sends with
   ``body: title``; the ``siemrelay.*`` attributes are folded back into the event's
   fields and groups, the body is the title.
3. Anything else is a plain log record: its body is the title (first line, at most
   240 characters; the whole text in the description when longer), its severity comes
   from ``severity_number`` (or ``severity_text``), ``resource`` ``host.name`` and
   ``service.name`` become ``asset.host`` and ``asset.name``, and the record is
   ``raw``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from agent.sdk import (DecodeError, Decoder, Event, RawRecord, content_id, ocsf_severity, score_from_severity,
                       severity_from_name)
from plugins.in_otlp.config import DECODER_SCHEMA
from agent.sdk.json_types import JsonValue

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NATIVE_KEYS = ("id", "time", "source", "type")
TITLE_LIMIT = 240


def from_unix_nano(value: Any) -> datetime | None:  # Any: int() of whatever the payload holds; TypeError means None
    """An aware UTC datetime (microseconds) from nanoseconds since the epoch; 0 or junk → None."""
    try:
        nanos = int(value)
    except (TypeError, ValueError):
        return None
    if nanos <= 0:
        return None
    try:
        return _EPOCH + timedelta(microseconds=nanos // 1000)
    except OverflowError:
        return None


def _unflatten(attributes: dict[str, Any]) -> dict[str, Any]:
    """``{"siemrelay.asset.host": "h"}`` → ``{"asset": {"host": "h"}}`` (other attributes ignored)."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if not key.startswith("siemrelay."):
            continue
        steps = key[len("siemrelay."):].split(".")
        node = out
        for step in steps[:-1]:
            child = node.get(step)
            if not isinstance(child, dict):
                child = node[step] = {}
            node = child
        node[steps[-1]] = value
    return out


class OtlpDecoder(Decoder):
    """One OTLP LogRecord → one Event (see the module docstring for the three shapes)."""

    type_name = "otlp"
    description = "OpenTelemetry LogRecord (from the otlp source): siemrelay's own records restored, plain logs mapped."
    CONFIG_SCHEMA = DECODER_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.source = str(config.get("source", "otlp"))
        self.event_type = str(config.get("event_type", "log"))

    def decode(self, record: RawRecord) -> list[Event]:
        log = self.payload(record)
        if not isinstance(log, dict) or "body" not in log:
            raise DecodeError("not an OTLP log record (expected an object with a body)")
        body = log.get("body")
        found = log.get("attributes")
        attrs: dict[str, Any] = found if isinstance(found, dict) else {}
        try:
            if isinstance(body, dict) and all(k in body for k in _NATIVE_KEYS):
                return [Event.from_dict(body)]
            if "siemrelay.id" in attrs and "siemrelay.type" in attrs:
                return [self._restore(log, body, attrs, record)]
        except ValueError as exc:
            raise DecodeError(f"OTLP record from a siemrelay sink is not a valid event: {exc}") from None
        return [self._plain(log, body, record)]

    def _times(self, log: dict[str, Any], record: RawRecord) -> tuple[datetime, datetime]:
        observed = from_unix_nano(log.get("observed_time_unix_nano"))
        when = from_unix_nano(log.get("time_unix_nano")) or observed or record.received_at
        return when, observed or record.received_at

    def _restore(self, log: dict[str, Any], body: JsonValue, attrs: dict[str, Any], record: RawRecord) -> Event:
        doc = _unflatten(attrs)
        when, observed = self._times(log, record)
        doc["time"] = when.isoformat()
        doc["received_at"] = observed.isoformat()
        doc["title"] = body if isinstance(body, str) else ""
        if "severity_id" not in doc:
            doc["severity_id"] = ocsf_severity(int(log.get("severity_number") or 0))
        return Event.from_dict(doc)

    def _plain(self, log: dict[str, Any], body: JsonValue, record: RawRecord) -> Event:
        when, observed = self._times(log, record)
        text = body if isinstance(body, str) else ("" if body is None else
                                                   orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS).decode())
        first = text.strip().split("\n", 1)[0]
        title = first if len(first) <= TITLE_LIMIT else first[:TITLE_LIMIT - 1] + "…"
        number = int(log.get("severity_number") or 0)
        severity = ocsf_severity(number) if number else int(severity_from_name(log.get("severity_text") or ""))
        found = log.get("resource")
        resource: dict[str, Any] = found if isinstance(found, dict) else {}
        asset = {k: str(resource[r]) for k, r in (("host", "host.name"), ("name", "service.name")) if resource.get(r)}
        ident = {k: v for k, v in log.items() if k != "observed_time_unix_nano"}  # a re-sent record keeps its id
        return Event(id=content_id(self.source, ident), time=when, received_at=observed, source=self.source,
                     type=self.event_type, vendor_type=str(log.get("event_name") or log.get("severity_text") or ""),
                     severity_id=severity, score=score_from_severity(severity), title=title,
                     description=text if text.strip() != title else "", asset=asset or None, raw=log)
