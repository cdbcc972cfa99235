"""``parse_head`` reads the stored native JSON as ``orjson.loads`` does, ``raw`` left out.

The syslog sink parses only the part of a stored event before ``raw`` when its options
read nothing of it; these properties hold that part to the whole parse over generated
events (groups, tags and payloads that hold ``"raw"`` keys of their own, escapes that
look like a key), and show that anything not in the native form's order is parsed
whole, so what a sink reads never differs from the full parse.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.model import GROUPS, Event
from agent.sdk.native_head import HEAD_FIELDS, head_parser, parse_head
from agent.testing import make_event

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

tricky = st.sampled_from([',"raw":', '","raw":{', '\\', '"', '}', ']', ',"tags":[]', 'é', '\x00', '\u2028'])
text = st.lists(st.one_of(tricky, st.text(max_size=5)), max_size=6).map("".join)
keys = st.sampled_from(["raw", "tags", "id", "a", "time", ',"raw":'])
value = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1),
                               st.floats(allow_nan=False, allow_infinity=False), text),
                     lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
                     max_leaves=8)
group = st.one_of(st.none(), st.dictionaries(keys, value, min_size=1, max_size=3))


@st.composite
def events(draw: st.DrawFn) -> Event:
    groups = {name: draw(group) for name in draw(st.lists(st.sampled_from(GROUPS), unique=True, max_size=3))}
    return make_event(id=draw(text), title=draw(text), description=draw(text), source=draw(text) or "s",
                      type=draw(text) or "t", vendor_type=draw(text), tags=draw(st.lists(text, max_size=3)),
                      raw=draw(st.dictionaries(keys, value, max_size=4)), **groups)


def _without_raw(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "raw"}


@PROPERTY
@given(events())
def test_the_head_of_a_stored_event_is_the_whole_parse_without_raw(event: Event) -> None:
    data = event.to_json()
    whole = orjson.loads(data)
    head = parse_head(data)
    assert _without_raw(head) == _without_raw(whole)
    assert list(head) == [k for k in whole if k != "raw" or "raw" in head]  # same keys, same order


def test_raw_is_not_parsed_when_the_first_raw_key_is_the_top_level_one() -> None:
    data = make_event(title=',"raw":', asset={"name": "h"}, raw={"huge": list(range(100))}).to_json()
    head = parse_head(data)
    assert "raw" not in head
    assert head["asset"] == {"name": "h"} and head["title"] == ',"raw":'


def test_a_small_raw_is_parsed_with_the_rest() -> None:
    """Cutting copies the head: when raw is under half of the text, the whole parse is cheaper."""
    big_head = make_event(title="t" * 500, description="d" * 500, raw={"a": 1}).to_json()
    assert parse_head(big_head) == orjson.loads(big_head)
    big_raw = make_event(title="t", raw={"a": "x" * 500}).to_json()
    assert "raw" not in parse_head(big_raw)


def test_a_raw_key_nested_in_a_group_makes_it_parse_whole() -> None:
    data = make_event(finding={"id": "f", "raw": 1}, raw={"a": "x" * 500}).to_json()
    assert parse_head(data) == orjson.loads(data)


odd = st.dictionaries(st.sampled_from(["id", "time", "type", "tags", "raw", "asset", "finding", "x"]), value, max_size=8)


@PROPERTY
@given(odd)
def test_a_document_in_any_other_order_is_parsed_whole(doc: dict[str, Any]) -> None:
    """Keys after ``raw`` (a form the model never writes) are never lost: such text is parsed whole."""
    data = orjson.dumps(doc)
    assert parse_head(data) == orjson.loads(data)


def test_a_document_that_is_not_json_is_refused_as_orjson_refuses_it() -> None:
    import pytest

    with pytest.raises(orjson.JSONDecodeError):
        parse_head(b'{"id":"x","raw":')


@PROPERTY
@given(events())
def test_the_native_form_writes_only_head_fields_before_raw_and_raw_last(event: Event) -> None:
    """The premise of parse_head: if the model's order changes, this fails before any sink does."""
    names = list(event.to_dict())
    assert names[-1] == "raw"
    assert set(names[:-1]) <= HEAD_FIELDS


def test_a_sink_that_reads_raw_or_an_unknown_field_parses_everything() -> None:
    assert head_parser(["id", "asset", "time"]) is parse_head
    assert head_parser(["id", "raw"]) is orjson.loads
    assert head_parser(["id", "no_such_field"]) is orjson.loads
