"""The json decoder's field map: group paths, type_map, severity scales, partly good arrays."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sdk.decoder import DecodeError, PartialDecodeError
from agent.model import Severity
from agent.config.schema import with_nested_defaults
from agent.testing import make_event, make_record
from plugins.dec_json.config import CONFIG_SCHEMA
from plugins.dec_json.decoder import JsonDecoder, NdjsonDecoder, _number_text

DEFAULTS = {k: v["default"] for k, v in CONFIG_SCHEMA.items()}


def make(**opts: Any) -> JsonDecoder:
    return JsonDecoder({**DEFAULTS, **opts})


def decode(dec: JsonDecoder, payload: Any) -> list[Any]:
    return dec.decode(make_record(orjson.dumps(payload), dec))


ALERT = {"alert": {"uuid": "a-1", "at": "2025-01-15T14:30:00Z", "kind": "NEW_ALERT", "level": 9.1,
                   "name": "Port scan", "text": "many ports"},
         "host": {"name": "web01", "ip": "192.0.2.5"}, "vuln": {"cve": "CVE-2024-1"}, "labels": ["ext", 7],
         "console": "https://siem.example/a-1"}


def test_field_map_with_group_paths_and_type_map() -> None:
    dec = make(fields={"id": "alert.uuid", "time": "alert.at", "type": "alert.kind", "severity": "alert.level",
                       "title": "alert.name", "description": "alert.text", "asset.host": "host.name",
                       "asset.ip": "host.ip", "finding.cve": "vuln.cve", "links.vendor": "console", "tags": "labels"},
               type_map={"NEW_ALERT": "finding.new"}, severity_scale="cvss", source="acme-ids")
    [ev] = decode(dec, ALERT)
    assert (ev.id, ev.type, ev.vendor_type, ev.source) == ("a-1", "finding.new", "NEW_ALERT", "acme-ids")
    assert (ev.severity, ev.score) == (Severity.CRITICAL, 91)
    assert (ev.title, ev.description, ev.tags) == ("Port scan", "many ports", ["ext", "7"])
    assert ev.time.isoformat() == "2025-01-15T14:30:00+00:00"
    assert ev.asset == {"host": "web01", "ip": "192.0.2.5"} and ev.finding == {"cve": "CVE-2024-1"}
    assert ev.links == {"vendor": "https://siem.example/a-1"} and ev.raw == ALERT


@pytest.mark.parametrize("scale,value,expected", [
    ("auto", 4, (Severity.HIGH, 80)), ("auto", 72, (Severity.HIGH, 72)), ("name", 72, (Severity.UNKNOWN, 0)),
    ("cvss", 4, (Severity.MEDIUM, 40)), ("score", 4, (Severity.INFO, 4)), ("score", "HIGH", (Severity.HIGH, 80)),
    ("cvss", "low", (Severity.LOW, 25)),
    # the ambiguous-number rule: a decimal of at most 10 is CVSS (7.5 is high, not a score of 8)
    ("auto", 7.5, (Severity.HIGH, 75)), ("auto", 9.8, (Severity.CRITICAL, 98)), ("auto", 8, (Severity.INFO, 8)),
    ("auto", 5.0, (Severity.MEDIUM, 50)), ("auto", 5, (Severity.CRITICAL, 95)),
    # numeric strings read like the numbers they write
    ("auto", "7.5", (Severity.HIGH, 75)), ("auto", "82", (Severity.HIGH, 82)), ("auto", "4", (Severity.HIGH, 80)),
    ("cvss", "9.1", (Severity.CRITICAL, 91)), ("score", "35", (Severity.LOW, 35)),
])
def test_severity_scale(scale: str, value: Any, expected: tuple[Severity, int]) -> None:
    [ev] = decode(make(severity_scale=scale), {"severity": value})
    assert (ev.severity, ev.score) == expected


def test_unmapped_type_falls_back_and_dotted_passes() -> None:
    dec = make(type_map={"a": "finding.new"}, event_type="alert")
    assert [e.type for e in decode(dec, [{"type": "a"}, {"type": "b"}, {"type": "scan.completed"}])] == \
        ["finding.new", "alert", "scan.completed"]


def test_partly_good_array() -> None:
    dec = make()
    with pytest.raises(PartialDecodeError) as info:
        decode(dec, [{"title": "ok"}, 3, {"title": "also ok"}, [1]])
    assert [e.title for e in info.value.events] == ["ok", "also ok"]
    assert info.value.failures == ["array item 1 is a int, expected an object", "array item 3 is a list, expected an object"]
    with pytest.raises(DecodeError, match="array item 0 is a str"):
        decode(dec, ["x"])


def test_id_is_a_content_hash_when_absent() -> None:
    dec = make()
    a = decode(dec, {"b": 1, "a": 2})[0].id
    assert a == decode(dec, {"a": 2, "b": 1})[0].id and a != decode(dec, {"a": 3, "b": 1})[0].id


def test_native_events_pass_through() -> None:
    ev = make_event(asset={"host": "h"})
    [back] = make().decode(make_record(ev.to_json(), make()))
    assert back.to_dict() == ev.to_dict()


def test_ndjson() -> None:
    dec = NdjsonDecoder(DEFAULTS)
    events = dec.decode(make_record(b'{"title": "a"}\n\n{"title": "b"}\n', dec))
    assert [e.title for e in events] == ["a", "b"]
    with pytest.raises(DecodeError, match="NDJSON line 2"):
        dec.decode(make_record(b'{"title": "a"}\n{oops\n', dec))


def test_config_schema_accepts_group_paths_and_refuses_others() -> None:
    import cerberus

    v = cerberus.Validator(with_nested_defaults(CONFIG_SCHEMA))
    assert v.validate({"fields": {"asset.host": "h", "finding.location.file": "f", "tags": "t", "id": "x"}}), v.errors
    assert not v.validate({"fields": {"bogus": "x"}})
    assert not v.validate({"fields": {"raw.x": "x"}})
    assert not v.validate({"severity_scale": "percent"})


def test_field_map_fills_network_actor_and_action_context() -> None:
    from agent.testing import make_record as _record
    from plugins.dec_json.decoder import JsonDecoder as _Json

    dec = _Json({"fields": {"network.src_ip": "src_ip", "network.src_port": "src_port", "network.dst_ip": "dest_ip",
                            "actor.user": "user", "action.original": "alert.action",
                            "signature.id": "alert.signature_id", "signature.name": "alert.signature"}})
    payload = (b'{"src_ip": "203.0.113.9", "src_port": 51234, "dest_ip": "192.0.2.10", "user": "root",'
               b' "alert": {"action": "blocked", "signature_id": 2100498, "signature": "GPL ATTACK_RESPONSE"}}')
    [ev] = dec.decode(_record(payload, dec))
    assert ev.network == {"src_ip": "203.0.113.9", "src_port": 51234, "dst_ip": "192.0.2.10"}
    assert ev.actor == {"user": "root"} and ev.action == {"original": "blocked", "name": "blocked"}
    assert ev.signature == {"id": 2100498, "name": "GPL ATTACK_RESPONSE"}


def _number_text_reference(value: Any) -> Any:
    """The reading of numeric strings as first written (every string tried with int()/float())."""
    if not isinstance(value, str) or not value.strip() or len(value) > 32:
        return value
    text = value.strip()
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return value


_SEVERITY_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["high", " 7.5 ", "82", "-3", "+4", ".5", "1e3", "nan", "inf", "-inf", "Infinity", "1_000",
                     "\u0663", "\uff17", "\u00b2", "e5", "", "  ", "0x10", "5."]),
    st.from_regex(r"\A\s*[+-]?[0-9]{0,4}(\.[0-9]{0,3})?([eE][+-]?[0-9]{1,2})?\s*\Z"),
)


@settings(max_examples=300, deadline=None)
@given(_SEVERITY_TEXT)
def test_numeric_severity_strings_read_as_before(text: str) -> None:
    """The fast path for words (no int()/float() attempt) reads every string as the full attempt did."""
    got, want = _number_text(text), _number_text_reference(text)
    assert type(got) is type(want)
    assert got == want or (got != got and want != want)  # NaN is read as NaN by both


@pytest.mark.parametrize("level, expected", [("high", Severity.HIGH), ("7.5", Severity.HIGH), ("82", Severity.HIGH),
                                             ("Low", Severity.LOW), ("unheard-of", Severity.UNKNOWN)])
def test_severity_words_and_numeric_strings_through_the_decoder(level: str, expected: Severity) -> None:
    [event] = decode(make(), {"id": "e-1", "severity": level, "title": "t"})
    assert event.severity_id == expected
