"""The objects the ``s3`` and ``security_lake`` sinks write, read back with real parsers
(gzip + JSON, pyarrow's Parquet reader), property-tested: for any events, every event
is in exactly one object, as the sink renders it, under a key made only of S3's safe
characters; the same events always give the same keys and bytes (a re-upload after a
crash overwrites); a Security Lake object holds one OCSF class of one event day."""

from __future__ import annotations

import gzip
import io
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.model import Event, score_from_severity
from agent.sdk.render import render
from agent.sdk.sink import SpooledEvent
from agent.testing import make_event, spooled
from plugins.out_s3.encoder import JsonlFormat, ParquetFormat, plan_s3, plan_security_lake, prune
from plugins.out_s3.keys import KeyTemplate, TemplateError, object_id, safe_part

_key = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8)
_leaf = st.one_of(st.none(), st.text(max_size=12), st.integers(-(2 ** 63), 2 ** 63 - 1),
                  st.floats(allow_nan=False, allow_infinity=False), st.booleans())
_value = st.recursive(_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_key, inner, max_size=3)),
                      max_leaves=6)
_group = st.dictionaries(st.sampled_from(["id", "name", "host", "ip", "status", "cve", "cvss", "location"]), _value,
                         max_size=4)
_time = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc))
_SAFE_KEY = re.compile(r"^[A-Za-z0-9!_.*'()\-/]+$")


@st.composite
def events(draw: Any) -> Event:
    sev = draw(st.integers(0, 5))
    when = draw(_time)
    return make_event(id=draw(st.text(min_size=1, max_size=20)), time=when,
                      received_at=when + timedelta(seconds=draw(st.integers(0, 10 ** 5))),
                      source=draw(st.text(max_size=10)),
                      type=draw(st.sampled_from(["finding.new", "scan.completed", "audit.x", "asset.added", "log"])),
                      severity_id=sev, score=score_from_severity(sev), title=draw(st.text(max_size=30)),
                      asset=draw(_group) or None, finding=draw(_group) or None,
                      tags=draw(st.lists(st.text(max_size=5), max_size=3)),
                      raw=draw(st.dictionaries(_key, _value, min_size=1, max_size=3)))


def from_spool(batch: list[Event]) -> list[SpooledEvent]:
    """The events as the worker hands them to a sink: the spool's bytes, parsed on use."""
    return [SpooledEvent(seq, event.to_json()) for seq, event in enumerate(batch, start=1)]


def same(expected: Any, actual: Any) -> bool:
    """``actual`` (read back from Parquet) holds ``expected`` (pruned): missing fields read as
    null, and a leaf whose type disagreed with another event's is text (a string as is,
    anything else its JSON)."""
    if expected is None:
        return actual is None or actual == {} or actual == []
    if isinstance(actual, str) and not isinstance(expected, str):
        return bool(orjson.loads(actual) == expected) if isinstance(expected, (dict, list)) else \
            actual == orjson.dumps(expected).decode()
    if isinstance(expected, dict):
        return isinstance(actual, dict) and set(expected) <= set(actual) and \
            all(same(expected.get(k), actual.get(k)) for k in actual)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, expected, actual))
    return bool(expected == actual) and type(expected) is not bool or actual is expected


@settings(max_examples=60, deadline=None)
@given(batch=st.lists(events(), min_size=1, max_size=8), schema=st.sampled_from(["native", "ocsf", "ecs"]),
       gz=st.booleans())
def test_jsonl_objects_hold_every_event_once_as_rendered(batch: list[Event], schema: str, gz: bool) -> None:
    template = KeyTemplate("logs/{{ source }}/{{ year }}/{{ month }}/{{ day }}/{{ hour }}")
    objects = plan_s3(from_spool(batch), template, schema, JsonlFormat(gz))
    lines = []
    for obj in objects:
        assert _SAFE_KEY.match(obj.key) and ".." not in obj.key and not obj.key.startswith("/")
        assert obj.key.endswith(".jsonl.gz" if gz else ".jsonl")
        assert obj.content_encoding == ("gzip" if gz else None)
        body = gzip.decompress(obj.body) if gz else obj.body
        assert body.endswith(b"\n") and obj.count == body.count(b"\n")
        lines += [orjson.loads(line) for line in body.splitlines()]
    expected = [orjson.loads(orjson.dumps(render(e.event, schema), option=orjson.OPT_NON_STR_KEYS))
                for e in from_spool(batch)]
    assert sorted(map(orjson.dumps, lines)) == sorted(map(orjson.dumps, expected))
    again = plan_s3(from_spool(batch), template, schema, JsonlFormat(gz))  # the same spool rows, read again after a crash
    assert [(o.key, o.body) for o in again] == [(o.key, o.body) for o in objects]  # deterministic: a re-upload overwrites


@settings(max_examples=50, deadline=None)
@given(batch=st.lists(events(), min_size=1, max_size=8), schema=st.sampled_from(["native", "ocsf", "ecs"]))
@example(batch=[make_event(raw={"v": [0.5, False]})], schema="native")  # Arrow alone would read False back as 0.0
@example(batch=[make_event(raw={"v": {"n": 1}}), make_event(raw={"v": {"n": "one"}}), make_event(raw={"v": 7})],
         schema="native")
def test_parquet_objects_read_back_as_the_rendered_events(batch: list[Event], schema: str) -> None:
    items = from_spool(batch)
    objects = plan_s3(items, KeyTemplate("p/{{ object_id }}"), schema, ParquetFormat("zstd"))
    [obj] = objects
    assert obj.key.startswith("p/") and obj.key.endswith(".parquet")
    rows = pq.read_table(io.BytesIO(obj.body)).to_pylist()
    assert len(rows) == len(batch)
    for item, row in zip(items, rows):
        expected = prune(orjson.loads(orjson.dumps(render(item.event, schema), option=orjson.OPT_NON_STR_KEYS)))
        assert same(expected, row), (expected, row)


@settings(max_examples=40, deadline=None)
@given(batch=st.lists(events(), min_size=1, max_size=10))
def test_security_lake_objects_hold_one_class_and_one_day(batch: list[Event]) -> None:
    source = KeyTemplate("relay-{{ class_name }}", allowed={"class_uid", "class_name"}, need_object_id=False)
    objects = plan_security_lake(spooled(batch), source, "eu-west-3", "123456789012", ParquetFormat("snappy"))
    seen = []
    for obj in objects:
        m = re.match(r"^ext/relay-([a-z_]+)/region=eu-west-3/accountId=123456789012/eventDay=(\d{8})/(\d+)-[\d]{16}-"
                     r"[0-9a-f]{12}\.parquet$", obj.key)
        assert m, obj.key
        rows = pq.read_table(io.BytesIO(obj.body)).to_pylist()
        assert {r["class_uid"] for r in rows} == {int(m.group(3))}
        assert {datetime.fromtimestamp(r["time"] / 1000, timezone.utc).strftime("%Y%m%d") for r in rows} == {m.group(2)}
        assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
        seen += [r["metadata"]["uid"] for r in rows]
    assert sorted(seen) == sorted(e.id for e in batch)


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.text(), st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=3)))
def test_a_value_in_a_key_is_one_safe_segment(value: Any) -> None:
    part = safe_part(value)
    assert part and "/" not in part and ".." not in part and re.fullmatch(r"[A-Za-z0-9!_.*'()\-]+", part)
    assert len(part) <= 100


def test_object_ids_sort_in_spool_order_and_differ_across_spools() -> None:
    assert object_id(9, "a") < object_id(10, "a") < object_id(10**9, "a")
    assert object_id(1, "first spool") != object_id(1, "fresh spool")  # a spool started afresh overwrites nothing
    assert object_id(5, "x") == object_id(5, "x")


@pytest.mark.parametrize("template,message", [
    ("logs/{{ nosuch }}/x", "{{ nosuch }} does not name an event field"),
    ("logs/{{ source }/x", "unclosed placeholder"),
    ("/logs/{{ source }}", "must not start with '/'"),
    ("  ", "empty"),
])
def test_bad_key_templates_are_refused_with_the_reason(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=re.escape(message)):
        KeyTemplate(template)


def test_a_template_without_object_id_gets_one_appended() -> None:
    [obj] = plan_s3(spooled([make_event(source="zeropath")]), KeyTemplate("x/{{ source }}"), "native", JsonlFormat())
    assert re.fullmatch(r"x/zeropath/\d{16}-[0-9a-f]{12}\.jsonl\.gz", obj.key)


def test_the_old_single_brace_key_still_names_the_same_objects() -> None:
    old, new = KeyTemplate("logs/{source}/{year}/{month}"), KeyTemplate("logs/{{ source }}/{{ year }}/{{ month }}")
    assert old.written.legacy and old.written.fixed == "logs/{{ source }}/{{ year }}/{{ month }}"
    batch = spooled([make_event(source="zeropath"), make_event(source="a b/c")])
    assert [o.key for o in plan_s3(batch, old, "native", JsonlFormat())] == \
        [o.key for o in plan_s3(batch, new, "native", JsonlFormat())]


def test_a_security_lake_source_name_takes_only_the_class_names() -> None:
    with pytest.raises(TemplateError, match=r"\(valid roots: class_name, class_uid\)"):
        KeyTemplate("x-{{ year }}", allowed={"class_uid", "class_name"}, need_object_id=False)
