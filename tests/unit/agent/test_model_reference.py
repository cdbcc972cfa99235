"""The model's fast paths against straightforward references: same times, same text, same bytes.

``parse_time`` tries ``datetime.fromisoformat`` first, ``format_time`` assembles its text
from a per-second prefix and a millisecond table, and ``to_dict`` reads the groups in one
call. Each is checked here against the plain code it replaced, on generated values
including odd times, offsets, white space, numbers and unicode, and the JSON form is read
back through a real parser (orjson).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.model import GROUPS, Event, Severity, format_time, parse_time


def parse_time_reference(value: object) -> datetime | None:
    """parse_time as first written: strip, probe for a number, then fromisoformat."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        secs = float(value)
        if abs(secs) > 1e11:
            secs /= 1000.0
        try:
            return datetime.fromtimestamp(secs, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        t = text.lstrip("+-").replace(".", "", 1)
        if t and t.isascii() and t.isdigit():
            return parse_time_reference(float(text))
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def format_time_reference(dt: datetime) -> str:
    """format_time as first written, with ``isoformat``."""
    if dt.tzinfo is not timezone.utc:
        dt = dt.astimezone(timezone.utc)
    if dt.microsecond >= 1000:
        return dt.isoformat(timespec="milliseconds")[:-6] + "Z"
    return dt.isoformat(timespec="seconds")[:-6] + "Z"


def to_dict_reference(ev: Event) -> dict[str, Any]:
    """The native form as first written: a getattr per group."""
    out: dict[str, Any] = {
        "id": ev.id, "time": format_time_reference(ev.time), "received_at": format_time_reference(ev.received_at),
        "source": ev.source, "type": ev.type, "vendor_type": ev.vendor_type,
        "severity": {s: s.name.lower() for s in Severity}.get(ev.severity_id, "unknown"),  # type: ignore[call-overload]
        "severity_id": int(ev.severity_id), "score": ev.score, "title": ev.title, "description": ev.description,
    }
    for name in GROUPS:
        value = getattr(ev, name)
        if value:
            out[name] = value
    out["tags"] = ev.tags
    out["raw"] = ev.raw
    return out


OFFSETS = st.one_of(st.just(timezone.utc), st.none(),
                    st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m))))
AWARE = st.builds(lambda dt, tz: dt.replace(tzinfo=tz or timezone.utc),
                  st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1)), OFFSETS)

_DIGITS = st.integers(0, 9).map(str)
ISO_TEXT = st.builds(
    lambda dt, sep, frac, zone, pad: pad[0] + dt.strftime("%Y-%m-%d") + sep + dt.strftime("%H:%M:%S") + frac + zone + pad[1],
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 1, 1)),
    st.sampled_from(["T", " ", "t"]),
    st.sampled_from(["", ".", ".0", ".004", ".123456", ".1234567", ",5"]),
    st.sampled_from(["", "Z", "z", "+00:00", "-05:30", "+0200", "+14:00", "+24:00", " UTC"]),
    st.sampled_from([("", ""), (" ", ""), ("", " "), ("\t", "\n")]),
)
TIME_VALUES = st.one_of(
    ISO_TEXT, st.text(max_size=30), st.from_regex(r"\A[+-]?[0-9]{1,14}(\.[0-9]{0,4})?\Z"),
    st.integers(-10**15, 10**15), st.floats(allow_nan=True, allow_infinity=True), st.none(), st.booleans(),
    st.sampled_from(["2026-11-24", "2026-11-24T00:00:00.000Z", "20261124T000000Z", "2026-W48-2", "1700000000",
                     "1700000000123", "-----1x", "2026-13-01T00:00:00Z", "２０２６-11-24T00:00:00Z"]),
    AWARE,
)


@settings(max_examples=400, deadline=None)
@given(TIME_VALUES)
def test_parse_time_matches_the_reference(value: object) -> None:
    try:
        expected = parse_time_reference(value)
    except ValueError:  # the reference raised on float("-----1"): a vendor's bad time is no time, not a crash
        expected = None
    got = parse_time(value)
    assert got == expected
    if got is not None:
        assert got.utcoffset() == timedelta(0)
        assert format_time(got) == format_time_reference(expected)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(AWARE)
def test_format_time_matches_isoformat(dt: datetime) -> None:
    assert format_time(dt) == format_time_reference(dt)
    assert format_time(dt) == format_time(dt.astimezone(timezone.utc))  # the same instant, the same text


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
_GROUP = st.none() | st.just({}) | st.dictionaries(st.sampled_from(["name", "ip", "user", "1"]), _JSON, max_size=3)


@settings(max_examples=300, deadline=None)
@given(st.builds(
    Event, id=st.text(), time=AWARE, received_at=AWARE, source=st.text(max_size=10), type=st.text(max_size=10),
    vendor_type=st.text(max_size=10), severity_id=st.integers(-1, 7) | st.sampled_from(list(Severity)),
    score=st.integers(0, 100), title=st.text(), description=st.text(),
    asset=_GROUP, network=_GROUP, action=_GROUP, origin=_GROUP, links=_GROUP,
    tags=st.lists(st.text(max_size=5), max_size=3), raw=_JSON,
))
def test_native_form_matches_the_reference_byte_for_byte(ev: Event) -> None:
    expected = orjson.dumps(to_dict_reference(ev), option=orjson.OPT_NON_STR_KEYS)
    assert ev.to_json() == expected
    assert list(orjson.loads(ev.to_json())) == list(to_dict_reference(ev))  # key order, through a real parser
