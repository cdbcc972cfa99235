"""The json decoder's per-shape plans against the straightforward mapping they replaced.

The decoder reads the guessed fields through a plan made once per key set, reads each
severity text once, and skips the canonical serialisation when the parsed bytes cannot
nest too deep. :func:`map_reference` is the mapping as first written (every alias tried
on every event, the payload always serialised); on generated payloads with the common
names in any combination, empty and null values, odd times, numbers as text, unicode and
nested values, both must give equal Events and the same native JSON bytes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.model import Event, format_time, score_from_severity, severity_from_name, severity_from_score
from agent.sdk.decoder import DecodeError
from agent.sdk.normalize import MAX_DEPTH, canonical, opt_str, severity_of_cvss, severity_of_score, stable_id
from agent.sdk.record import RawRecord
from agent.sdk.vocab import action_group, outcome_group
from agent.testing import make_record
from plugins.dec_json.config import CONFIG_SCHEMA
from plugins.dec_json.decoder import JsonDecoder, NdjsonDecoder, _number_text
from plugins.dec_json.shapes import GUESS, Planner, read
from tests.unit.agent.test_model_reference import (TIME_VALUES, format_time_reference, parse_time_reference,
                                                   to_dict_reference)

DEFAULTS = {k: v["default"] for k, v in CONFIG_SCHEMA.items()}


def _dig(obj: Any, path: str) -> Any:
    for step in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(obj, list) and step.isdecimal() and len(step) < 10 and int(step) < len(obj):
            obj = obj[int(step)]
        else:
            return None
    return obj


def map_reference(dec: JsonDecoder, obj: dict[str, Any], record: RawRecord) -> Event:
    """JsonDecoder.map as first written: each field's aliases probed on every event."""
    fields = dec.fields

    def get(field: str) -> Any:
        path = fields.get(field)
        if path is not None:
            return _dig(obj, path)
        for name in GUESS.get(field, ()):
            value = obj.get(name)
            if value is not None and value != "":
                return value
        return None

    canon = canonical(obj)
    if "received_at" in obj and not fields and all(k in obj for k in ("id", "time", "source", "type", "severity_id")):
        try:
            return Event.from_dict(obj)
        except ValueError:
            pass
    source = get("source")
    source = source if isinstance(source, str) and source else dec.default_source
    ident = get("id")
    ident = str(ident) if isinstance(ident, (str, int)) and not isinstance(ident, bool) and str(ident) \
        else stable_id(source, canon)
    time = parse_time_reference(get("time")) or record.received_at
    vtype = get("type")
    vtype = str(vtype) if isinstance(vtype, (str, int)) and not isinstance(vtype, bool) else ""
    vendor_type = opt_str(_dig(obj, fields["vendor_type"])) if fields.get("vendor_type") else vtype
    etype = dec.type_map[vtype] if vtype in dec.type_map else vtype if "." in vtype else dec.default_type
    severity, score = severity_reference(dec.scale, get("severity"), get("score"))
    title, desc = get("title"), get("description")
    groups: dict[str, dict[str, Any]] = {}
    for group, place, path in dec.group_fields:
        value = _dig(obj, path)
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
            groups[group]["name"] = normalise(str(original))["name"]
    tags_raw = _dig(obj, fields["tags"]) if "tags" in fields else None
    tags = [opt_str(t) for t in tags_raw if opt_str(t)] if isinstance(tags_raw, list) else (
        [opt_str(tags_raw)] if opt_str(tags_raw) else [])
    return Event(id=ident, time=time, received_at=record.received_at, source=source, type=etype,
                 vendor_type=vendor_type, severity_id=int(severity), score=score,
                 title=title if isinstance(title, str) else opt_str(title),
                 description=desc if isinstance(desc, str) else opt_str(desc), tags=tags, raw=obj, **groups)


def severity_reference(scale: str, sev_raw: Any, score_raw: Any) -> tuple[int, int]:
    """JsonDecoder._severity as first written: every value read anew."""
    sev_raw = _number_text(sev_raw)
    numeric = isinstance(sev_raw, (int, float)) and not isinstance(sev_raw, bool) and math.isfinite(sev_raw)
    if numeric and scale == "cvss":
        severity, score = severity_of_cvss(sev_raw)
    elif numeric and scale == "auto" and isinstance(sev_raw, float) and 0.0 <= sev_raw <= 10.0:
        severity, score = severity_of_cvss(sev_raw)
    elif numeric and (scale == "score" or (scale == "auto" and sev_raw > 5)):
        severity, score = severity_of_score(sev_raw)
    else:
        severity = severity_from_name(sev_raw)
        score = score_from_severity(severity)
    if isinstance(score_raw, (int, float)) and not isinstance(score_raw, bool) and 0 <= score_raw <= 100:
        score = int(round(score_raw))
        if severity == 0:
            severity = severity_from_score(score)
    return int(severity), score


_SCALAR = st.one_of(st.none(), st.just(""), st.booleans(), st.integers(-10, 10**12), st.integers(-2**63, 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
                    st.sampled_from(["high", " HIGH ", "Critical", "informational", "7.5", "82", "4", "-3", "nan",
                                     "é", "日本語", "\u2028", "a.b", "scan.completed", "NEW_ALERT"]))
_NESTED = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=6), inner, max_size=3), max_leaves=12)
_ALIASES = sorted({name for names in GUESS.values() for name in names})
_VALUE_OF_KEY = {"time": TIME_VALUES, "timestamp": TIME_VALUES, "@timestamp": TIME_VALUES, "created_at": TIME_VALUES,
                 "date": TIME_VALUES, "ts": TIME_VALUES}


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """An object with some of the common names (times where times go), other keys and nested values."""
    keys = draw(st.lists(st.sampled_from(_ALIASES + ["received_at", "host", "alert", "labels", "severity_id"]),
                         max_size=12, unique=True))
    obj: dict[str, Any] = {}
    for key in keys:
        value = draw(_VALUE_OF_KEY.get(key, _NESTED) | _NESTED)
        obj[key] = value.isoformat() if hasattr(value, "isoformat") else value
    obj.update(draw(st.dictionaries(st.text(max_size=6), _NESTED, max_size=3)))
    return obj


CONFIGS = st.sampled_from([
    {},
    {"severity_scale": "cvss"}, {"severity_scale": "score"}, {"severity_scale": "name"},
    {"type_map": {"NEW_ALERT": "finding.new", "high": "x.y"}, "event_type": "alert", "source": "acme"},
    {"fields": {"id": "alert.uuid", "time": "alert", "severity": "alert.0", "title": "host", "tags": "labels",
                "vendor_type": "type", "asset.host": "host", "links.vendor": "alert", "action.original": "title"}},
    {"fields": {"title": "title", "source": "vendor", "outcome.original": "event"}},
])


def _same(dec: JsonDecoder, payload: Any) -> None:
    data = orjson.dumps(payload)
    record = make_record(data, dec)
    expected = [map_reference(dec, item, record) for item in orjson.loads(data)] if isinstance(payload, list) \
        else [map_reference(dec, orjson.loads(data), record)]
    for events in (dec.decode(record), dec.decode(make_record(data, dec)),  # a plan made, then reused
                   dec.decode(RawRecord(data, dec, {"input": "test"}, record.received_at, parsed=orjson.loads(data)))):
        assert events == expected
        for got, want in zip(events, expected):
            assert got.to_json() == orjson.dumps(to_dict_reference(want), option=orjson.OPT_NON_STR_KEYS)
    # the native shortcut (Decoder.decode_native): the same dicts, key order included, with the
    # record's origin where the event had none, as the intake would store the Events
    for rec in (record, RawRecord(data, dec, {"input": "test"}, record.received_at, parsed=orjson.loads(data))):
        docs = dec.decode_native(rec, format_time(rec.received_at))
        if isinstance(payload, list):
            assert docs is None  # arrays go through decode(), which reports items it refuses
            continue
        assert docs is not None
        want_docs = [to_dict_reference(replace(want, origin=rec.origin) if want.origin is None else want)
                     for want in expected]
        assert [list(d.items()) for d in docs] == [list(d.items()) for d in want_docs]
        assert [orjson.dumps(d, option=orjson.OPT_NON_STR_KEYS) for d in docs] == \
            [orjson.dumps(d, option=orjson.OPT_NON_STR_KEYS) for d in want_docs]


@settings(max_examples=500, deadline=None)
@given(CONFIGS, payloads())
def test_decoder_matches_the_reference_mapping(options: dict[str, Any], payload: dict[str, Any]) -> None:
    _same(JsonDecoder({**DEFAULTS, **options}), payload)


@settings(max_examples=100, deadline=None)
@given(CONFIGS, st.lists(payloads(), min_size=1, max_size=4))
def test_arrays_match_the_reference_mapping(options: dict[str, Any], items: list[dict[str, Any]]) -> None:
    _same(JsonDecoder({**DEFAULTS, **options}), items)


@settings(max_examples=300, deadline=None)
@given(CONFIGS, payloads())
def test_a_plans_values_are_what_each_reader_reads(options: dict[str, Any], payload: dict[str, Any]) -> None:
    """One dict.get per single-candidate field gives what trying the candidates in order gives."""
    plan = Planner(options.get("fields", {})).plan(payload)
    assert plan.values(payload) == [read(payload, reader) if reader else None for reader in plan.readers]


def test_one_decoder_keeps_its_plans_apart_by_shape() -> None:
    """Two shapes through one decoder, alternately: each event reads its own keys."""
    dec = JsonDecoder(DEFAULTS)
    a = {"event_id": "a-1", "title": "", "name": "fallback name", "vendor": "", "product": "P"}
    b = {"id": 7, "summary": "s", "source": "S", "severity": "high"}
    for _ in range(2):
        [ea] = dec.decode(make_record(orjson.dumps(a), dec))
        [eb] = dec.decode(make_record(orjson.dumps(b), dec))
        assert (ea.id, ea.title, ea.source) == ("a-1", "fallback name", "P")
        assert (eb.id, eb.title, eb.source, eb.severity_id) == ("7", "s", "S", 4)


def test_past_the_shape_limit_events_still_decode() -> None:
    planner = Planner({}, limit=2)
    shapes = [{"id": "x"}, {"uuid": "y"}, {"event_id": "z", "ts": 1}, {"title": "t"}]
    for obj in shapes * 2:
        assert planner.plan(obj).values(obj) == [
            next((obj[k] for k in names if k in obj), None) for names in GUESS.values()]
    assert len(planner._plans) == 2


def test_too_deep_payloads_are_refused_and_brackets_in_strings_are_not() -> None:
    dec = JsonDecoder(DEFAULTS)
    deep = b'{"title": "x", "id": "d-1", "a": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}"
    with pytest.raises(DecodeError, match="nested deeper"):
        dec.decode(make_record(deep, dec))
    with pytest.raises(DecodeError, match="nested deeper"):
        NdjsonDecoder(DEFAULTS).decode(make_record(b'{"title": "ok"}\n' + deep, dec))
    # a value a source parsed itself is checked whatever bytes came with it
    parsed = RawRecord(b"{}", dec, {"input": "test"}, make_record(b"", dec).received_at, parsed=orjson.loads(deep))
    with pytest.raises(DecodeError, match="nested deeper"):
        dec.decode(parsed)
    brackets = {"title": "[" * 300, "event_id": "b-1", "nested": [[{"x": "{" * 300}]]}
    [ev] = dec.decode(make_record(orjson.dumps(brackets), dec))
    assert (ev.id, ev.raw) == ("b-1", brackets)


def test_times_in_the_native_form_are_the_payloads_instants() -> None:
    dec = JsonDecoder(DEFAULTS)
    for text, native in [("2026-11-24T00:00:00.004Z", "2026-11-24T00:00:00.004Z"),
                         ("2026-11-24T00:00:00.000Z", "2026-11-24T00:00:00Z"),
                         ("2026-11-24 01:00:00.5+01:00", "2026-11-24T00:00:00.500Z"),
                         (" 2026-11-24T00:00:00Z ", "2026-11-24T00:00:00Z"), (1764000000123, "2025-11-24T16:00:00.123Z")]:
        [ev] = dec.decode(make_record(orjson.dumps({"time": text}), dec))
        assert orjson.loads(ev.to_json())["time"] == native == format_time_reference(ev.time)
