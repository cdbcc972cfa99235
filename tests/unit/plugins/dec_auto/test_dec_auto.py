"""decoder: auto: every vendor fixture goes to its vendor's decoder; the unknown is handled as configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agent.sdk.decoder import DecodeError
from agent.config.loader import SourceMap
from agent.engine.build import DecoderFactory
from agent.plugins import load_plugins
from agent.testing import make_record
from plugins.dec_auto.decoder import AutoDecoder, detect
from tests.peers.decoder_factory import build_decoder

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "vendors"
VENDOR_FILES = sorted(FIXTURES.glob("*/*.json"))


@pytest.fixture
def auto() -> AutoDecoder:
    return build_decoder({"type": "auto", "unknown_json": "json", "unknown_text": "raw"})  # type: ignore[return-value]


@pytest.mark.parametrize("path", VENDOR_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_fixture_is_recognised(auto: AutoDecoder, path: Path) -> None:
    payload = orjson.loads(path.read_bytes())
    assert detect(payload) == path.parent.name
    events = auto.decode(make_record(path.read_bytes(), auto))
    assert events and {e.source for e in events} == {path.parent.name}


def test_parsed_records_are_not_parsed_again(auto: AutoDecoder) -> None:
    payload = orjson.loads((FIXTURES / "zeropath" / "scan-complete.json").read_bytes())
    record = make_record(b"not json at all", auto)
    record.parsed = payload
    assert auto.decode(record)[0].source == "zeropath"


@pytest.mark.parametrize("payload,kind", [
    ({"issues": []}, "escape"), ({"scans": [], "locations": None}, "escape"),
    ({"issues": [], "event": "x"}, None), ({"issues": "x"}, None),
    ({"sourcetype": "X", "event": {}}, "zeropath"), ({"sourcetype": "X", "event": "s"}, None),
    ({"event_type": "finding", "finding": {}}, "detectify"), ({"event_type": "scan_completed"}, "detectify"),
    ({"event_type": "login"}, None), ({"type": "event_scan_started", "domain": "d"}, "detectify"),
    ({"type": "event_scan_started"}, None), ({"event": "report_ready"}, "pentest"),
    ({"event_type": "finding_added"}, "pentest"), ([{"a": 1}], None), ("x", None),
])
def test_detect(payload: Any, kind: str | None) -> None:
    assert detect(payload) == kind


def test_unknown_json_goes_to_the_generic_decoder_or_is_rejected(auto: AutoDecoder) -> None:
    [ev] = auto.decode(make_record(b'{"title": "hello", "severity": "high"}', auto))
    assert (ev.source, ev.title) == ("json", "hello")
    strict = build_decoder({"type": "auto", "unknown_json": "reject", "unknown_text": "raw"})
    with pytest.raises(DecodeError, match="no known vendor shape"):
        strict.decode(make_record(b'{"title": "hello"}', strict))


def test_a_vendor_payload_with_a_missing_field_gets_the_vendors_reason(auto: AutoDecoder) -> None:
    payload = orjson.loads((FIXTURES / "zeropath" / "scan-failed.json").read_bytes())
    del payload["event"]["error"]
    with pytest.raises(DecodeError, match=r"^SCAN_FAILED requires event\.error$"):
        auto.decode(make_record(orjson.dumps(payload), auto))


def test_text_kinds(auto: AutoDecoder) -> None:
    [cef] = auto.decode(make_record(b"CEF:0|a|b|c|d|e|5|x=1", auto))
    assert cef.source == "cef"
    [line] = auto.decode(make_record(b"just a line", auto))
    assert (line.source, line.title) == ("raw", "just a line")
    assert [e.title for e in auto.decode(make_record(b'{"title": "a"}\n{"title": "b"}\n', auto))] == ["a", "b"]
    strict = build_decoder({"type": "auto", "unknown_json": "json", "unknown_text": "reject"})
    with pytest.raises(DecodeError, match="neither JSON, CEF nor syslog"):
        strict.decode(make_record(b"just a line", strict))
    with pytest.raises(DecodeError, match="malformed JSON"):
        auto.decode(make_record(b'{"broken": ', auto))


def test_syslog_goes_to_the_syslog_decoder_when_installed(auto: AutoDecoder) -> None:
    assert "syslog" in auto.decoders  # the built-in syslog plugin ships with siemrelay
    [ev] = auto.decode(make_record(b"<34>1 2025-01-15T14:30:00Z host app - - - hello", auto))
    assert ev.source == "syslog"


def test_a_disabled_decoder_plugin_dead_letters_its_records_naming_it() -> None:
    """auto reaches the others through the registry: with the zeropath plugin blocked, a
    ZeroPath webhook is refused with the reason, the other vendors still decode."""
    plugins = load_plugins(entry_points=False, block=["plugins.dec_zeropath"])
    auto = DecoderFactory(plugins, {}, SourceMap())({"type": "auto"})
    body = (FIXTURES / "zeropath" / "scan-complete.json").read_bytes()
    with pytest.raises(DecodeError, match="no 'zeropath' decoder is registered"):
        auto.decode(make_record(body, auto))
    [ev] = auto.decode(make_record((FIXTURES / "detectify" / "finding.json").read_bytes(), auto))
    assert ev.source == "detectify"


def test_the_vendor_names_auto_keys_on_are_the_vendor_decoders_own() -> None:
    """One list per vendor, in the SDK: auto and the vendor decoder read the same object, so they cannot drift."""
    from plugins.dec_auto import decoder as auto_decoder
    from plugins.dec_detectify.decoder import LEGACY_TYPES
    from plugins.dec_escape.config import RESOURCES
    from plugins.dec_pentest.decoder import EVENT_TYPES

    assert auto_decoder.ESCAPE_RESOURCES is RESOURCES
    assert auto_decoder.PENTEST_EVENT_TYPES is EVENT_TYPES
    assert auto_decoder.DETECTIFY_LEGACY_TYPES is LEGACY_TYPES


@pytest.mark.parametrize("body,what", [
    (b"null", "a bare JSON null"), (b" true\n", "a bare JSON true"), (b'"a string"', "a top-level JSON string"),
    (b"<!DOCTYPE html><html><body>502</body></html>", "an HTML page"), (b"\n<HTML><head></head></HTML>", "an HTML page"),
])
def test_json_scalars_and_html_pages_are_not_events(auto: AutoDecoder, body: bytes, what: str) -> None:
    with pytest.raises(DecodeError, match=f"^{what}, not an event"):
        auto.decode(make_record(body, auto))
    lenient = build_decoder({"type": "auto", "unknown_json": "json", "unknown_text": "accept"})
    [ev] = lenient.decode(make_record(body, lenient))  # today's behaviour, for those who want it
    assert ev.source == "raw"


@pytest.mark.parametrize("body", [b"42", b'"unterminated', b"<?xml version='1.0'?><e/>", b"<b>bold</b> log line"])
def test_other_text_stays_a_log_line(auto: AutoDecoder, body: bytes) -> None:
    [ev] = auto.decode(make_record(body, auto))
    assert ev.source == "raw"
