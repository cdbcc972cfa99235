"""Generic JSON → Event: native events pass through, other objects are mapped by a field map.

The field map (``fields``) names, for each Event field or group place (``asset.host``,
``finding.cve``, ``links.vendor``), the dotted path in the payload that fills it;
unmapped fields are guessed from common names. ``type_map`` turns the payload's own
type values into normalised types. An array with some non-object items yields the
good items and reports the others (:class:`~agent.sdk.decoder.PartialDecodeError`).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from agent.sdk.decoder import Decoder, DecodeError, PartialDecodeError, parse_json
from agent.sdk import (GROUPS, SEVERITY_LABEL_OF_ID, Event, format_time, parse_time, score_from_severity,
                       severity_from_name, severity_from_score)
from agent.sdk.normalize import (canonical, nested_within_limit, opt_str, severity_of_cvss, severity_of_score,
                                 stable_id)
from agent.sdk.record import RawRecord
from agent.sdk.vocab import action_group, outcome_group
from plugins.dec_json.config import CONFIG_SCHEMA
from plugins.dec_json.shapes import Planner, dig

_NATIVE = ("id", "time", "source", "type", "severity_id")
MAX_ITEMS = 10000
#: severity texts remembered per decoder with what they read as (a sender uses a few words)
MAX_SEVERITY_TEXTS = 1024


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
        self.type_map: dict[str, str] = dict(config.get("type_map") or {})
        self.scale = config.get("severity_scale", "auto")
        self.group_fields = [(k.split(".", 1)[0], k.split(".", 1)[1], v) for k, v in self.fields.items() if "." in k]
        self._planner = Planner(self.fields)
        self._vendor_type_path = self.fields.get("vendor_type")
        self._tags_path = self.fields.get("tags")
        self._severity_of_text: dict[str, tuple[int, int]] = {}
        # the native fast path only where nothing overrides how events are made (a subclass may)
        self._native_ok = type(self) in (JsonDecoder, NdjsonDecoder)

    def decode(self, record: RawRecord) -> list[Event]:
        if record.parsed is not None:
            return self._items(record.parsed, record, storable=False)
        try:
            payload = parse_json(record.data)
        except DecodeError:
            if b"\n" in record.data.strip():
                return self._ndjson(record)
            raise
        return self._items(payload, record, storable=nested_within_limit(record.data))

    def _ndjson(self, record: RawRecord) -> list[Event]:
        out: list[Event] = []
        for n, line in enumerate(record.data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = parse_json(line)
            except DecodeError as exc:
                raise DecodeError(f"NDJSON line {n}: {exc}") from None
            out.extend(self._items(value, record, storable=nested_within_limit(line)))
        return out

    def _items(self, payload: object, record: RawRecord, storable: bool = False) -> list[Event]:
        if isinstance(payload, dict):
            return [self.map(payload, record, storable=storable)]
        if isinstance(payload, list):
            if len(payload) > MAX_ITEMS:
                raise DecodeError(f"array of {len(payload)} items is over the limit of {MAX_ITEMS}")
            events: list[Event] = []
            failures: list[str] = []
            for i, item in enumerate(payload):
                if not isinstance(item, dict):
                    failures.append(f"array item {i} is a {type(item).__name__}, expected an object")
                    continue
                try:
                    events.append(self.map(item, record, storable=storable))
                except DecodeError as exc:
                    failures.append(f"array item {i}: {exc}")
            if failures:
                if events:
                    raise PartialDecodeError(events, failures)
                raise DecodeError("; ".join(failures))
            return events
        raise DecodeError(f"expected a JSON object or an array of objects, found {type(payload).__name__}")

    def map(self, obj: dict[str, Any], record: RawRecord, *, storable: bool = False) -> Event:
        """Map one object to an Event (native form if it is one, else by field names).

        :param storable: ``obj`` was parsed by orjson from bytes that
            :func:`~agent.sdk.normalize.nested_within_limit` passed, so the spool can
            store it and its canonical form is needed only for a content-hash id.
        """
        canon = None if storable else canonical(obj)  # refuses what could not be stored (too deep, > 64-bit integers)
        native = self._native_event(obj)
        if native is not None:
            return native
        ident, time, source, etype, vendor_type, severity, score, title, desc, groups, tags = \
            self._fields(obj, record, canon)
        # Event's first ten fields by position (id, time, received_at, source, type, vendor_type,
        # severity_id, score, title, description): a quarter cheaper than by keyword, per event
        if groups:
            return Event(ident, time, record.received_at, source, etype, vendor_type, severity, score, title, desc,
                         tags=tags, raw=obj, **groups)
        # without `**{}`: unpacking even an empty dict costs a third of the construction
        return Event(ident, time, record.received_at, source, etype, vendor_type, severity, score, title, desc,
                     tags=tags, raw=obj)

    def decode_native(self, record: RawRecord, received_text: str) -> list[dict[str, object]] | None:
        """The record's events in their native JSON form, without an :class:`Event` between
        (see :meth:`Decoder.decode_native`): one object, or NDJSON of objects. Anything else
        (an array, a line that is not an object, a payload this decoder refuses) is ``None``
        and goes through :meth:`decode`, which parses it again and reports what it refuses.
        A subclass gets ``None`` too: its overrides of :meth:`map` or :meth:`decode` must apply.
        """
        if not self._native_ok:
            return None
        if record.parsed is not None:
            doc = self._native_doc(record.parsed, record, received_text, False)
        else:
            try:
                payload = parse_json(record.data)
            except DecodeError:
                return self._ndjson_native(record, received_text) if b"\n" in record.data.strip() else None
            doc = self._native_doc(payload, record, received_text, nested_within_limit(record.data))
        return None if doc is None else [doc]

    def _ndjson_native(self, record: RawRecord, received_text: str) -> list[dict[str, object]] | None:
        """:meth:`_ndjson` in the native form; ``None`` at the first line it would not map."""
        out: list[dict[str, object]] = []
        for line in record.data.splitlines():
            if not line.strip():
                continue
            try:
                value = parse_json(line)
            except DecodeError:
                return None
            doc = self._native_doc(value, record, received_text, nested_within_limit(line))
            if doc is None:
                return None
            out.append(doc)
        return out

    def _native_doc(self, payload: object, record: RawRecord, received_text: str, storable: bool
                    ) -> dict[str, object] | None:
        """``Event.to_dict()`` of :meth:`map` for one object, with the record's origin where
        the event has none (what the intake gives every event); ``None`` for anything else."""
        if type(payload) is not dict:
            return None
        try:
            canon = None if storable else canonical(payload)
        except DecodeError:
            return None
        native = self._native_event(payload)
        if native is not None:
            if native.origin is None:
                native.origin = record.origin
            return native.to_dict()
        ident, time, source, etype, vendor_type, severity, score, title, desc, groups, tags = \
            self._fields(payload, record, canon)
        doc: dict[str, object] = {
            "id": ident, "time": format_time(time), "received_at": received_text, "source": source, "type": etype,
            "vendor_type": vendor_type, "severity": SEVERITY_LABEL_OF_ID.get(severity, "unknown"), "severity_id": severity,
            "score": score, "title": title, "description": desc,
        }
        if groups:  # in the native form's order of groups, as Event.to_dict writes them
            for name in GROUPS:
                if groups.get(name):
                    doc[name] = groups[name]
        if record.origin:
            doc["origin"] = record.origin
        doc["tags"] = tags
        doc["raw"] = payload
        return doc

    def _native_event(self, obj: dict[str, Any]) -> Event | None:
        """``obj`` as the Event it is when it is siemrelay's own native form, else ``None``."""
        # "received_at" first: only siemrelay's own JSON has it, so other payloads stop here
        if "received_at" in obj and not self.fields and all(k in obj for k in _NATIVE):
            try:
                return Event.from_dict(obj)
            except ValueError:
                pass
        return None

    def _fields(self, obj: dict[str, Any], record: RawRecord, canon: bytes | None
                ) -> tuple[str, datetime, str, str, str, int, int, str, str, dict[str, dict[str, Any]], list[str]]:
        """What the field map and the guessed names make of ``obj``: id, time, source, type,
        vendor type, severity id, score, title, description, groups, tags.

        :param canon: ``obj``'s :func:`~agent.sdk.normalize.canonical` form when the caller
            made it (``None``: made here if a content-hash id needs it; ``obj`` is storable).
        """
        ident, when, vtype, sev_raw, score_raw, title, desc, source = self._planner.plan(obj).values(obj)
        source = source if isinstance(source, str) and source else self.default_source
        if type(ident) is not str or not ident:
            if isinstance(ident, (str, int)) and not isinstance(ident, bool) and str(ident):
                ident = str(ident)
            else:
                ident = stable_id(source, canonical(obj) if canon is None else canon)
        time = parse_time(when) or record.received_at
        if type(vtype) is not str:
            vtype = str(vtype) if isinstance(vtype, (str, int)) and not isinstance(vtype, bool) else ""
        vendor_type = opt_str(dig(obj, self._vendor_type_path)) if self._vendor_type_path else vtype
        if vtype in self.type_map:
            etype = self.type_map[vtype]
        elif "." in vtype:
            etype = vtype
        else:
            etype = self.default_type
        severity, score = self._severity(sev_raw, score_raw)
        groups = self._groups(obj) if self.group_fields else {}
        tags = _tags(dig(obj, self._tags_path)) if self._tags_path is not None else []
        title = title if type(title) is str else opt_str(title)
        desc = desc if type(desc) is str else opt_str(desc)
        return ident, time, source, etype, vendor_type, severity, score, title, desc, groups, tags

    def _groups(self, obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The group places the field map names (``asset.host``, ``action.original``)."""
        groups: dict[str, dict[str, Any]] = {}
        for group, place, path in self.group_fields:
            value = dig(obj, path)
            if value is None or value == "":
                continue
            if group == "links":
                value = opt_str(value)
                if not value:
                    continue
            groups.setdefault(group, {})[place] = value
        for group, normalise in (("action", action_group), ("outcome", outcome_group)):
            original = groups.get(group, {}).get("original")
            if original is not None and "name" not in groups[group]:
                groups[group]["name"] = normalise(str(original))["name"]  # the device's word stays as original
        return groups

    def _severity(self, sev_raw: object, score_raw: object) -> tuple[int, int]:
        """(OCSF severity, 0-100 score) under the configured ``severity_scale``."""
        if type(sev_raw) is str:  # a sender writes a few words ("high"): each is read once
            found = self._severity_of_text.get(sev_raw)
            if found is None:
                found = self._read_severity(sev_raw)
                if len(self._severity_of_text) < MAX_SEVERITY_TEXTS:
                    self._severity_of_text[sev_raw] = found
            severity, score = found
        else:
            severity, score = self._read_severity(sev_raw)
        if isinstance(score_raw, (int, float)) and not isinstance(score_raw, bool) and 0 <= score_raw <= 100:
            score = int(round(score_raw))
            if severity == 0:
                severity = int(severity_from_score(score))
        return severity, score

    def _read_severity(self, sev_raw: object) -> tuple[int, int]:
        """The severity value alone (a word, an id, a CVSS or 0-100 number) under the scale."""
        sev_raw = _number_text(sev_raw)
        number = sev_raw if (isinstance(sev_raw, (int, float)) and not isinstance(sev_raw, bool)
                             and math.isfinite(sev_raw)) else None
        if number is not None and self.scale == "cvss":
            severity, score = severity_of_cvss(number)
        elif number is not None and self.scale == "auto" and isinstance(number, float) and 0.0 <= number <= 10.0:
            # the ambiguous-number rule of agent.sdk.normalize: a decimal of at most 10 is a CVSS score
            severity, score = severity_of_cvss(number)
        elif number is not None and (self.scale == "score" or (self.scale == "auto" and number > 5)):
            severity, score = severity_of_score(number)
        else:
            severity = severity_from_name(sev_raw)
            score = score_from_severity(severity)
        return int(severity), score


def _tags(value: object) -> list[str]:
    """The tags at the field map's path: each item of an array as text, or one scalar."""
    if isinstance(value, list):
        return [opt_str(t) for t in value if opt_str(t)]
    return [opt_str(value)] if opt_str(value) else []


def _number_text(value: object) -> object:
    """A numeric string (``"7.5"``, ``"82"``) as the number it writes; anything else unchanged."""
    if not isinstance(value, str) or len(value) > 32:
        return value
    text = value.strip()
    # a word ("high") is the common case: only a sign, a point or a digit can start a
    # number int() or float() reads here ("nan" and "inf" were never read: no ".eE" in them),
    # and raising ValueError for every word costs more than the rest of the mapping
    if not text or not (text[0].isdigit() or text[0] in "+-."):
        return value
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return value


class NdjsonDecoder(JsonDecoder):
    """Newline-delimited JSON: one object per line."""

    type_name = "ndjson"
    description = "Newline-delimited JSON: one object per line, each mapped like the json decoder."

    def decode(self, record: RawRecord) -> list[Event]:
        return self._ndjson(record)

    def decode_native(self, record: RawRecord, received_text: str) -> list[dict[str, object]] | None:
        return self._ndjson_native(record, received_text) if self._native_ok else None
