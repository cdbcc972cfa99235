"""The raw decoder: lines as events, an optional regex, invalid UTF-8 policy."""

from __future__ import annotations

from typing import Any

import pytest

from agent.sdk.decoder import DecodeError
from agent.model import Severity
from agent.testing import make_record
from plugins.dec_raw.config import CONFIG_SCHEMA, check_config
from plugins.dec_raw.decoder import RawDecoder

DEFAULTS = {k: v["default"] for k, v in CONFIG_SCHEMA.items()}


def make(**opts: Any) -> RawDecoder:
    return RawDecoder({**DEFAULTS, **opts})


def test_one_event_per_non_blank_line() -> None:
    dec = make()
    events = dec.decode(make_record(b"first line\r\n\n  \nsecond line\n", dec))
    assert [(e.title, e.description, e.raw, e.type, e.source, e.severity) for e in events] == [
        ("first line", "first line", "first line", "log", "raw", Severity.UNKNOWN),
        ("second line", "second line", "second line", "log", "raw", Severity.UNKNOWN)]
    assert events[0].time == events[0].received_at
    assert events[0].id != events[1].id
    assert events[0].id == dec.decode(make_record(b"first line", dec))[0].id


def test_whole_record_and_options() -> None:
    dec = make(split_lines=False, source="app", event_type="log.app", severity="high", max_title_chars=16)
    [ev] = dec.decode(make_record(b"a very long first line\nand a second", dec))
    assert ev.description == "a very long first line\nand a second"
    assert ev.title == "a very long fir…" and len(ev.title) == 16
    assert (ev.source, ev.type, ev.severity, ev.score) == ("app", "log.app", Severity.HIGH, 80)


def test_blank_record_gives_no_events() -> None:
    dec = make()
    assert dec.decode(make_record(b"\n \n", dec)) == []


def test_pattern_fills_fields_and_tags_what_it_misses() -> None:
    dec = make(pattern=r"^(?P<time>\S+) (?P<host>\S+) \[(?P<severity>\w+)\] (?P<title>.*)$")
    ok, miss = dec.decode(make_record(b"2025-01-15T14:30:00Z web01 [ERROR] disk full\nfree text\n", dec))
    assert ok.time.isoformat() == "2025-01-15T14:30:00+00:00"
    assert ok.asset == {"host": "web01", "name": "web01"} and ok.title == "disk full"
    assert (ok.severity, ok.score) == (Severity.HIGH, 80)  # a log level
    assert miss.severity is Severity.UNKNOWN
    assert miss.tags == ["unparsed"] and miss.title == "free text"
    [crit] = dec.decode(make_record(b"2025-01-15T14:30:00Z web01 [critical] fire", dec))
    assert crit.severity is Severity.CRITICAL


def test_invalid_utf8_reject_or_replace() -> None:
    dec = make()
    with pytest.raises(DecodeError, match="invalid UTF-8 at byte 3"):
        dec.decode(make_record(b"caf\xe9", dec))
    lenient = make(invalid_utf8="replace")
    [ev] = lenient.decode(make_record(b"caf\xe9", lenient))
    assert ev.title == "caf\ufffd" and ev.tags == ["invalid_utf8"]


def test_check_config_rejects_a_bad_regex() -> None:
    assert check_config({"pattern": "("})[0].startswith("pattern: not a valid regular expression")
    assert check_config({"pattern": "(?P<title>.*)"}) == []
