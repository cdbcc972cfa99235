"""The Event model: severity helpers in both directions, times, ids, the JSON form."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from agent.model import (Event, Severity, content_id, format_time, parse_time, score_from_cvss, score_from_severity,
                         severity_from_cvss, severity_from_name, severity_from_score)
from agent.testing import make_event


@pytest.mark.parametrize("name,expected", [
    ("CRITICAL", Severity.CRITICAL), ("high", Severity.HIGH), ("Medium", Severity.MEDIUM), ("moderate", Severity.MEDIUM),
    ("low", Severity.LOW), ("informational", Severity.INFO), ("info", Severity.INFO), (" HIGH ", Severity.HIGH),
    (4, Severity.HIGH), ("5", Severity.CRITICAL), ("bogus", Severity.UNKNOWN), (None, Severity.UNKNOWN),
    (True, Severity.UNKNOWN), (9, Severity.UNKNOWN), (Severity.LOW, Severity.LOW),
])
def test_severity_from_name(name, expected):
    assert severity_from_name(name) is expected


@pytest.mark.parametrize("score,expected", [
    (100, Severity.CRITICAL), (90, Severity.CRITICAL), (89.9, Severity.HIGH), (70, Severity.HIGH), (69, Severity.MEDIUM),
    (40, Severity.MEDIUM), (39, Severity.LOW), (10, Severity.LOW), (9, Severity.INFO), (0, Severity.INFO),
    (150, Severity.CRITICAL), (-3, Severity.INFO), (float("nan"), Severity.UNKNOWN), ("90", Severity.UNKNOWN),
])
def test_severity_from_score_uses_zeropath_bands(score, expected):
    assert severity_from_score(score) is expected


@pytest.mark.parametrize("cvss,expected", [
    (10, Severity.CRITICAL), (9.0, Severity.CRITICAL), (8.9, Severity.HIGH), (7.0, Severity.HIGH), (6.9, Severity.MEDIUM),
    (4.0, Severity.MEDIUM), (3.9, Severity.LOW), (0.1, Severity.LOW), (0.0, Severity.INFO),
])
def test_severity_from_cvss_uses_rating_bands(cvss, expected):
    assert severity_from_cvss(cvss) is expected


def test_score_and_severity_round_trip():
    for sev in Severity:
        if sev is Severity.UNKNOWN:
            continue
        assert severity_from_score(score_from_severity(sev)) is sev
    assert score_from_cvss(8.2) == 82
    assert score_from_cvss(11) == 100


@pytest.mark.parametrize("value,expected", [
    ("2025-01-15T14:30:00Z", datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)),
    ("2025-01-15T16:30:00.250+02:00", datetime(2025, 1, 15, 14, 30, 0, 250000, tzinfo=timezone.utc)),
    ("2025-01-15 14:30:00", datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)),
    (1736951400, datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)),
    (1736951400250, datetime(2025, 1, 15, 14, 30, 0, 250000, tzinfo=timezone.utc)),
    ("1736951400", datetime(2025, 1, 15, 14, 30, tzinfo=timezone.utc)),
    (1736951400.5, datetime(2025, 1, 15, 14, 30, 0, 500000, tzinfo=timezone.utc)),
])
def test_parse_time_to_utc(value, expected):
    assert parse_time(value) == expected
    assert parse_time(value).tzinfo is not None


@pytest.mark.parametrize("value", ["", "yesterday", None, True, [], {}, float("inf"), "2025-13-45T00:00:00Z"])
def test_parse_time_refuses_non_times(value):
    assert parse_time(value) is None


def test_format_time_is_utc_with_z():
    t = datetime(2025, 1, 15, 16, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(t) == "2025-01-15T14:30:00Z"
    assert format_time(t.replace(microsecond=123456)) == "2025-01-15T14:30:00.123Z"


def test_content_id_is_stable_across_key_order_and_whitespace():
    a = {"b": 1, "a": [1, 2, {"y": "z", "x": None}]}
    b = orjson.loads(b'{ "a": [1, 2, {"x": null, "y": "z"}],   "b": 1 }')
    assert content_id("zeropath", a) == content_id("zeropath", b)
    assert content_id("zeropath", a) != content_id("escape", a)
    assert len(content_id("x", a)) == 32


def test_json_form_has_documented_key_order_and_round_trips():
    ev = make_event(asset={"name": "app.example.com"}, links={"vendor": "https://x"}, tags=["t"], severity="critical")
    data = orjson.loads(ev.to_json())
    assert list(data)[:11] == ["id", "time", "received_at", "source", "type", "vendor_type", "severity", "severity_id",
                               "score", "title", "description"]
    assert list(data)[-2:] == ["tags", "raw"]
    assert data["severity"] == "critical" and data["severity_id"] == 5
    assert data["time"].endswith("Z")
    assert "finding" not in data  # empty groups are left out
    back = Event.from_json(ev.to_json())
    assert back == ev


def test_from_dict_names_the_missing_field():
    with pytest.raises(ValueError, match="'type'"):
        Event.from_dict({"id": "1", "time": "2025-01-01T00:00:00Z", "source": "x"})
    with pytest.raises(ValueError, match="time"):
        Event.from_dict({"id": "1", "time": "not a time", "source": "x", "type": "t"})


def test_get_dotted_paths():
    ev = make_event(asset={"name": "db", "ports": [22, 443]}, raw={"event": {"id": "z1"}})
    assert ev.get("asset.name") == "db"
    assert ev.get("asset.ports.1") == 443
    assert ev.get("raw.event.id") == "z1"
    assert ev.get("severity") == "high"
    assert ev.get("severity_id") == 4
    assert ev.get("asset.missing", "dflt") == "dflt"
    assert ev.get("nonsense.path") is None


@pytest.mark.parametrize("text", ["²", "1²", "٣", "1.²"])
def test_unicode_digits_are_not_numbers(text):
    # str.isdigit() accepts them, int() and float() do not: nothing may raise
    assert severity_from_name(text) is Severity.UNKNOWN
    assert parse_time(text) is None


def test_format_time_is_memoised_per_instant_not_per_wall_clock() -> None:
    """format_time is cached: the same instant at another offset gives the same text,
    and a different instant with the same wall-clock fields does not reuse it."""
    utc = datetime(2026, 12, 5, 10, 0, 0, 250000, tzinfo=timezone.utc)
    plus2 = datetime(2026, 12, 5, 12, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(utc) == "2026-12-05T10:00:00.250Z"
    assert format_time(plus2) == "2026-12-05T10:00:00.250Z"
    same_fields_other_instant = datetime(2026, 12, 5, 10, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(same_fields_other_instant) == "2026-12-05T08:00:00.250Z"
