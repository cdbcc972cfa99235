"""The syslog sink's optimised encoder writes exactly the bytes of the earlier, plain one.

The hot path prepares header fields and SD-PARAMs once per sink and skips escaping for
values that need none; these properties hold it to the frozen reference
(``tests/peers/rfc5424_reference.py``) over generated events and generated sink
options: header templates, facility, SD-ID and fields (top-level, nested, list indexes,
values of every JSON type), JSON or text MSG, each framing and size limits that force
truncation. The bytes themselves are read back by a real syslog-ng in
``tests/e2e/seams/test_encoders_real_parsers.py``.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.model import Event
from agent.sdk import SpooledEvent
from agent.testing import TCPReceiver, make_event, spooled
from plugins.out_syslog.encoder import encode, encode_octet_stream
from plugins.out_syslog.sink import SyslogSink
from tests.peers import rfc5424_reference as reference
from tests.peers.sink_factory import make_sink

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text that exercises every escaping rule: controls (C0, DEL, C1), the characters RFC 5424
# escapes, header separators, non-ASCII, and plain printable ASCII (the fast path)
NASTY = ([chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
         + list('"\\][= :@{}') + ["\r\n", "é", "🔐", "\u2028", "\ufeff"])
text = st.lists(st.one_of(st.sampled_from(NASTY), st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                          st.characters(exclude_categories=["Cs"])), max_size=40).map("".join)
plain = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
                        st.floats(allow_nan=False, allow_infinity=False), text, plain, st.just(""))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                st.dictionaries(st.sampled_from(["a", "b", "0"]), inner, max_size=3)),
                          max_leaves=6)
group = st.one_of(st.none(), st.dictionaries(st.sampled_from(["id", "name", "host", "category", "vendor", "url"]),
                                             st.one_of(text, plain, json_value), max_size=4))


@st.composite
def events(draw: st.DrawFn) -> Event:
    return make_event(
        id=draw(st.one_of(plain, text)), type=draw(st.one_of(plain, text, st.just(""))),
        vendor_type=draw(st.one_of(plain, text, st.just(""))), source=draw(st.one_of(plain, text)),
        severity=draw(st.sampled_from(["critical", "high", "medium", "low", "info", "unknown"])),
        score=draw(st.integers(0, 100)), title=draw(st.one_of(plain, text)), description=draw(text),
        finding=draw(group), asset=draw(group), repository=draw(group), links=draw(group),
        tags=draw(st.lists(st.one_of(plain, text), max_size=3)),
        raw=draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), json_value, max_size=3)))


HEADER_TEMPLATES = ["{{ type }}", "{{ source }}", "{{ vendor_type }}", "{{ asset.host }}", "{{ finding.id }}",
                    "{{ severity }}", "{{ score }}", "{{ tags }}", "{{ raw.a }}", "{{ year }}-{{ month }}",
                    "fixed", "two words", "é", "-", "x{{ type }}y", "host:name", "[::1]", "a" * 60]
SD_PATHS = ["id", "source", "type", "vendor_type", "severity", "score", "severity_id", "title", "description", "tags",
            "tags.0", "tags.-1", "finding.id", "finding.category", "asset.name", "repository.name", "links.vendor",
            "links", "raw.a", "raw.b.a", "raw.c.0", "raw.a.b.0", "missing", "finding.missing.deeper", "raw"]


@st.composite
def options(draw: st.DrawFn) -> dict[str, Any]:
    config: dict[str, Any] = {"address": "127.0.0.1:514"}
    for key in ("hostname", "app_name", "procid", "msgid"):
        if draw(st.booleans()):
            config[key] = draw(st.sampled_from(HEADER_TEMPLATES))
    config["facility"] = draw(st.sampled_from(["kern", "local0", "local7", "auth"]))
    config["transport"], config["framing"] = draw(st.sampled_from([("tcp", "octet"), ("tcp", "lf"), ("udp", "octet"),
                                                                   ("tls", "octet"), ("file", "lf")]))
    if config["transport"] == "file":
        del config["address"]
        config["path"] = "unused.log"
    if draw(st.booleans()):
        config["sd_id"] = draw(st.sampled_from(["", "siemrelay@32473", "x@1"]))
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(["id", "n1", "n2", "n3", "n4", "n5", "n6"]), unique=True, max_size=6))
        config["sd_fields"] = {name: draw(st.sampled_from(SD_PATHS)) for name in names}
    if draw(st.booleans()):
        config["msg_format"] = "text"
        config["text_template"] = draw(st.sampled_from(["[{{ severity }}] {{ title }}", "{{ description }}", "", "{{ raw }}"]))
    config["max_message_bytes"] = draw(st.one_of(st.none(), st.integers(480, 3000)))
    return config


def reference_frames(sink: SyslogSink, batch: list[SpooledEvent]) -> list[bytes]:
    return reference.encode_batch(sink.format, sink.frame, sink.schema, sink.text_template, batch)


@PROPERTY
@given(options(), st.lists(events(), min_size=1, max_size=5))
def test_the_sink_writes_the_reference_bytes_for_every_option(config: dict[str, Any], batch: list[Event]) -> None:
    sink = make_sink(SyslogSink, config)
    items = spooled(batch)
    assert sink.encode_batch(items) == reference_frames(sink, items)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["ocsf", "ecs"]), st.lists(events(), min_size=1, max_size=3))
def test_other_schemas_write_the_reference_bytes(schema: str, batch: list[Event]) -> None:
    sink = make_sink(SyslogSink, {"address": "127.0.0.1:514", "schema": schema, "max_message_bytes": 1200})
    items = spooled(batch)
    assert sink.encode_batch(items) == reference_frames(sink, items)


# documents the model never writes (a stored form from elsewhere, a plugin's odd values):
# the encoder still writes what the reference writes
odd_document = st.fixed_dictionaries({}, optional={
    "time": st.one_of(json_scalar, st.sampled_from(["2025-01-15T14:30:00Z", "2025-01-15T14:30:00.123456+02:00",
                                                    "2025-01-15 14:30:00Z", "2025-01-15T1"])),
    "severity_id": st.one_of(st.integers(-2, 9), st.booleans(), st.floats(0, 6), st.none(), text),
    "type": json_value, "source": json_value, "id": json_value, "vendor_type": json_value, "severity": json_value,
    "score": json_value, "tags": json_value, "raw": json_value,
    "finding": st.one_of(json_value, group), "asset": st.one_of(json_value, group),
})


@PROPERTY
@given(options(), odd_document, st.binary(max_size=700))
def test_encode_matches_the_reference_on_any_document(config: dict[str, Any], doc: dict[str, Any], msg: bytes) -> None:
    sink = make_sink(SyslogSink, config)
    doc = orjson.loads(orjson.dumps(doc))  # what the sink holds: the stored JSON, parsed
    assert encode(sink.format, doc, msg) == reference.encode(sink.format, doc, msg)
    item = SpooledEvent(1, orjson.dumps(doc))
    if sink.text_template is not None or sink.schema == "native":
        assert sink.encode_batch([item]) == reference_frames(sink, [item])


def test_a_value_that_needs_escaping_is_escaped_on_the_fast_path_too() -> None:
    """One search over all the string values decides whether any needs escaping; then the
    one that does is escaped and its neighbours are written as they are."""
    sink = make_sink(SyslogSink, {"address": "127.0.0.1:514", "hostname": "h",
                                  "sd_fields": {"p": "type", "a": "title", "b": "source"}})
    [frame] = sink.encode_batch(spooled([make_event(type="t]", title='x"]\\\x00\x85', source="plain")]))
    assert b' p="t\\]" a="x\\"\\]\\\\\xe2\x90\x80\xef\xbf\xbd" b="plain"]' in frame


@PROPERTY
@given(options(), st.lists(events(), min_size=1, max_size=5))
def test_the_one_buffer_of_a_batch_is_the_reference_frames_joined(config: dict[str, Any], batch: list[Event]) -> None:
    """The default path (native JSON as MSG, octet counting) builds a batch's buffer without a
    frame per event, and parses the stored JSON without ``raw`` when no option reads it."""
    config.update(address="127.0.0.1:514", transport="tcp", framing="octet", msg_format="json")
    config.pop("path", None)
    sink = make_sink(SyslogSink, config)
    items = spooled(batch)
    assert encode_octet_stream(sink.format, sink.parse, [i.data for i in items]) == b"".join(reference_frames(sink, items))


@pytest.mark.parametrize("config", [
    {},  # the default: one buffer, raw not parsed
    {"max_message_bytes": 480},  # messages cut on the way
    {"sd_fields": {"user": "raw.user"}, "msgid": "{{ raw.kind }}"},  # raw read: parsed whole
    {"framing": "lf"},  # a frame per message, as before
    {"msg_format": "text"},
])
def test_what_send_puts_on_the_wire_is_the_encoded_batch(config: dict[str, Any]) -> None:
    """Through a real socket: ``send`` writes exactly ``encode_batch``'s frames, whichever path builds them."""
    batch = spooled([make_event(title=f"t{i}\x85]", raw={"user": f"u{i}", "kind": "k", "blob": "x" * 300 * i},
                                asset={"name": f"h{i}"}) for i in range(4)])
    with TCPReceiver() as peer:
        sink = make_sink(SyslogSink, {"address": peer.address, "transport": "tcp", **config})
        sink.open()
        try:
            assert sink.send(batch).ok
            expected = b"".join(sink.encode_batch(batch))
            assert peer.wait_for_bytes(len(expected)) == expected
            assert expected == b"".join(reference_frames(sink, batch))
        finally:
            sink.close()
