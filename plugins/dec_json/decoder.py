"""Generic JSON → Event: native events pass through, other objects are mapped by field names."""

from __future__ import annotations

from typing import Any

from agent.decoders import Decoder, DecodeError, parse_json
from agent.model import (Event, parse_time, score_from_severity, severity_from_name, severity_from_score, content_id)
from agent.records import RawRecord
from plugins.dec_json.config import CONFIG_SCHEMA

# Common names, tried in order, when the user gave no explicit path.
_GUESS = {
    "id": ("id", "event_id", "eventId", "uuid", "_id"),
    "time": ("time", "timestamp", "@timestamp", "created_at", "date", "ts"),
    "type": ("type", "event_type", "eventType", "event"),
    "severity": ("severity", "level", "priority", "risk"),
    "score": ("score", "risk_score", "riskScore"),
    "title": ("title", "name", "summary", "message", "msg"),
    "description": ("description", "details", "detail"),
    "source": ("source", "vendor", "product"),
}
_NATIVE = ("id", "time", "source", "type", "severity_id")
MAX_ITEMS = 10000


def _dig(obj: Any, path: str) -> Any:
    for step in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(obj, list) and step.isdigit() and int(step) < len(obj):
            obj = obj[int(step)]
        else:
            return None
    return obj


class JsonDecoder(Decoder):
    """One JSON object → one event; an array → one event per object; NDJSON → one per line."""

    type_name = "json"
    description = "Generic JSON: an object, an array of objects, or NDJSON; native siemrelay events pass through unchanged."
    CONFIG_SCHEMA = CONFIG_SCHEMA

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.fields: dict[str, str] = dict(config.get("fields") or {})
        self.default_source = config.get("source", "json")
        self.default_type = config.get("event_type", "log")

    def decode(self, record: RawRecord) -> list[Event]:
        try:
            payload = self.payload(record)
        except DecodeError:
            if b"\n" in record.data.strip():
                return self._ndjson(record)
            raise
        return self._items(payload, record)

    def _ndjson(self, record: RawRecord) -> list[Event]:
        out: list[Event] = []
        for n, line in enumerate(record.data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = parse_json(line)
            except DecodeError as exc:
                raise DecodeError(f"NDJSON line {n}: {exc}") from None
            out.extend(self._items(value, record))
        return out

    def _items(self, payload: Any, record: RawRecord) -> list[Event]:
        if isinstance(payload, dict):
            return [self.map(payload, record)]
        if isinstance(payload, list):
            if len(payload) > MAX_ITEMS:
                raise DecodeError(f"array of {len(payload)} items is over the limit of {MAX_ITEMS}")
            bad = [i for i, item in enumerate(payload) if not isinstance(item, dict)]
            if bad:
                raise DecodeError(f"array item {bad[0]} is a {type(payload[bad[0]]).__name__}, expected an object")
            return [self.map(item, record) for item in payload]
        raise DecodeError(f"expected a JSON object or an array of objects, found {type(payload).__name__}")

    def _get(self, obj: dict[str, Any], field: str) -> Any:
        path = self.fields.get(field)
        if path is not None:
            return _dig(obj, path)
        for name in _GUESS.get(field, ()):
            if name in obj and obj[name] not in (None, ""):
                return obj[name]
        return None

    def map(self, obj: dict[str, Any], record: RawRecord) -> Event:
        """Map one object to an Event (native form if it is one, else by field names)."""
        if not self.fields and all(k in obj for k in _NATIVE) and "received_at" in obj:
            try:
                return Event.from_dict(obj)
            except ValueError:
                pass
        source = self._get(obj, "source")
        source = source if isinstance(source, str) and source else self.default_source
        ident = self._get(obj, "id")
        ident = str(ident) if isinstance(ident, (str, int)) and not isinstance(ident, bool) and str(ident) else content_id(source, obj)
        time = parse_time(self._get(obj, "time")) or record.received_at
        vtype = self._get(obj, "type")
        vtype = str(vtype) if isinstance(vtype, (str, int)) and not isinstance(vtype, bool) else ""
        sev_raw = self._get(obj, "severity")
        score_raw = self._get(obj, "score")
        if isinstance(sev_raw, (int, float)) and not isinstance(sev_raw, bool) and sev_raw > 5:
            severity = severity_from_score(sev_raw)
        else:
            severity = severity_from_name(sev_raw)
        if isinstance(score_raw, (int, float)) and not isinstance(score_raw, bool) and 0 <= score_raw <= 100:
            score = int(round(score_raw))
            if severity == 0:
                severity = severity_from_score(score)
        else:
            score = score_from_severity(severity)
        title = self._get(obj, "title")
        desc = self._get(obj, "description")
        return Event(
            id=ident, time=time, received_at=record.received_at, source=source,
            type=vtype if "." in vtype else self.default_type, vendor_type=vtype,
            severity_id=int(severity), score=score,
            title=title if isinstance(title, str) else ("" if title is None else str(title)),
            description=desc if isinstance(desc, str) else ("" if desc is None else str(desc)),
            raw=obj,
        )


class NdjsonDecoder(JsonDecoder):
    """Newline-delimited JSON: one object per line."""

    type_name = "ndjson"
    description = "Newline-delimited JSON: one object per line, each mapped like the json decoder."

    def decode(self, record: RawRecord) -> list[Event]:
        return self._ndjson(record)
