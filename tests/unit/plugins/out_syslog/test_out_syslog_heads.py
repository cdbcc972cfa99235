"""Heads rendered ahead (agent.sdk.heads) give the syslog sink exactly the bytes it writes without them.

The intake renders each event's RFC 5424 header and structured data from the event's
dict (``Event.to_dict``) before it is stored; the sink renders them from the stored
JSON parsed back. Over generated sink options and events, including values whose text
a JSON round trip changes (tuples, NaN, datetimes, str subclasses), the frames with the
heads handed over equal the frozen reference's (the bytes a real syslog-ng reads back in
``tests/e2e/seams/test_encoders_real_parsers.py``): a renderer either renders what the
sink would, or declines and the sink renders that event itself.
"""

from __future__ import annotations

import pickle
from datetime import datetime, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent.model import Event
from agent.sdk.heads import RenderedHeads
from agent.testing import make_event, spooled
from plugins.out_syslog.encoder import SyslogFormat, SyslogHeads, encode_octet_stream, message_head
from plugins.out_syslog.sink import SyslogSink
from tests.peers.sink_factory import make_sink
from tests.unit.plugins.out_syslog.test_out_syslog_same_bytes import (PROPERTY, events, options, plain,
                                                                      reference_frames)


class Label(str):
    """A str subclass a plugin decoder might put in a group."""


odd_value = st.one_of(st.tuples(plain), st.just(float("nan")), st.just(float("inf")), st.just(-0.0),
                      st.datetimes(timezones=st.just(timezone.utc)), plain.map(Label), st.just(()), st.booleans())


@st.composite
def odd_events(draw: st.DrawFn) -> Event:
    """An event whose groups hold values the stored JSON writes differently."""
    ev = draw(events())
    for group in ("asset", "finding", "links", "repository"):
        if draw(st.booleans()):
            setattr(ev, group, {**(getattr(ev, group) or {}),
                                draw(st.sampled_from(["id", "name", "category", "vendor"])): draw(odd_value)})
    return ev


def _with_heads(sink: SyslogSink, batch: list[Event]) -> tuple[list[bytes | None], RenderedHeads]:
    renderer = sink.head_renderer()
    assert renderer is not None
    renderer = pickle.loads(pickle.dumps(renderer))  # as the preparing child receives it
    heads = [renderer(ev.to_dict()) for ev in batch]
    memo = sink.rendered_heads = RenderedHeads(renderer.key)
    assert memo.put(renderer.key, 1, heads)
    return heads, memo


@PROPERTY
@given(options(), st.lists(st.one_of(events(), odd_events()), min_size=1, max_size=5))
def test_frames_with_heads_rendered_ahead_are_the_reference_frames(config: dict[str, Any], batch: list[Event]) -> None:
    sink = make_sink(SyslogSink, config)
    items = spooled(batch)
    expected = reference_frames(sink, items)
    if sink.head_renderer() is None:
        assert config.get("msg_format") == "text"  # a text MSG reads the event in the sink anyway
        return
    heads, memo = _with_heads(sink, batch)
    assert sink.encode_batch(items) == expected
    assert memo.used == sum(h is not None for h in heads) and len(memo) == 0
    # the default path's one-buffer writer, fed the same heads
    assert encode_octet_stream(sink.format, sink.parse, [i.data for i in items], heads) == b"".join(
        reference_frames(make_sink(SyslogSink, {**config, "transport": "tcp", "framing": "octet",
                                                "address": "127.0.0.1:514"}), items))


def test_a_plain_event_gets_its_head_and_an_odd_value_makes_the_sink_render_it() -> None:
    sink = make_sink(SyslogSink, {"address": "127.0.0.1:514", "hostname": "h"})
    plain_event = make_event(id="a1", type="finding.new", asset={"name": "web-1"}, finding={"id": 7})
    odd = make_event(id="a2", asset={"name": ("web", "1")})  # a tuple is written as a JSON array
    nan = make_event(id="a3", finding={"id": float("nan")})  # NaN is written as null
    heads, memo = _with_heads(sink, [plain_event, odd, nan])
    assert heads[0] is not None and b'asset="web-1"' in heads[0] and b'finding_id="7"' in heads[0]
    assert heads[1] is None and heads[2] is None
    items = spooled([plain_event, odd, nan])
    assert sink.encode_batch(items) == reference_frames(sink, items)
    assert (memo.used, memo.missed) == (1, 2)


def test_a_header_template_reading_an_odd_value_declines_too() -> None:
    fmt = SyslogFormat(hostname="{{ asset.name }}", sd_fields=())
    renderer = SyslogHeads(fmt)
    assert renderer(make_event(asset={"name": "db"}).to_dict()) == message_head(fmt, make_event(asset={"name": "db"}).to_dict())
    assert renderer(make_event(asset={"name": Label("db")}).to_dict()) is None
    assert renderer(make_event(asset={"name": datetime(2026, 1, 1, tzinfo=timezone.utc)}).to_dict()) is None


def test_the_key_names_every_setting_and_survives_pickling() -> None:
    a = SyslogHeads(SyslogFormat(app_name="siemrelay"))
    b = SyslogHeads(SyslogFormat(app_name="other"))
    assert a.key != b.key
    again = pickle.loads(pickle.dumps(a))
    assert again.key == a.key and again.fmt == a.fmt
    doc = make_event(type="x.y").to_dict()
    assert again(doc) == a(doc)


def test_no_renderer_for_a_text_or_schema_msg() -> None:
    assert make_sink(SyslogSink, {"address": "127.0.0.1:514", "msg_format": "text"}).head_renderer() is None
    assert make_sink(SyslogSink, {"address": "127.0.0.1:514", "schema": "ocsf"}).head_renderer() is None
    assert make_sink(SyslogSink, {"address": "127.0.0.1:514"}).head_renderer() is not None
