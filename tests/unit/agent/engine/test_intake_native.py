"""The intake's native shortcut (``Decoder.decode_native``) stores exactly what the Event path stores.

When every route sends every event unchanged to the same sinks, the intake asks the
decoder for its events' native form and skips the :class:`~agent.model.Event`. Through
the intake itself, on batches of every kind a source hands over (objects, arrays, NDJSON,
siemrelay's own native events, malformed and too deeply nested payloads, values a source
parsed itself, duplicates), the prepared batch must be the one the Event path prepares:
the same rows byte for byte, dead letters, answers per record, ids, counts and heads.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loguru import logger

from agent.engine.intake import Intake, PreparedBatch
from agent.engine.prepare_child import _SinkBits
from agent.routing.router import Router, compile_routes
from agent.sdk.normalize import MAX_DEPTH
from agent.sdk.record import RawRecord
from agent.spool.store import Spool
from agent.testing import make_event, make_record
from agent.yamlsource import SourceMap
from plugins.dec_json.config import CONFIG_SCHEMA
from plugins.dec_json.decoder import JsonDecoder, NdjsonDecoder
from tests.unit.agent.engine.test_intake_heads import IdHeads
from tests.unit.plugins.dec_json.test_dec_json_reference import CONFIGS, payloads

DEFAULTS = {k: v["default"] for k, v in CONFIG_SCHEMA.items()}
BITS = {"siem": 1, "chat": 2}


class EventPathJson(JsonDecoder):
    """The json decoder made to go through Events (a subclass never takes the shortcut)."""


class EventPathNdjson(NdjsonDecoder):
    """The ndjson decoder made to go through Events."""


def _router(routes: list[dict[str, Any]]) -> Router:
    problems: list[Any] = []
    router = compile_routes(routes, set(BITS) | {"nowhere-known"}, SourceMap(), problems, set())
    assert not problems
    return router


def _intake(routes: list[dict[str, Any]], dedup: bool = False) -> Intake:
    from agent.engine.dedup import DedupWindow

    intake = Intake(_SinkBits(BITS), _router(routes), logger, DedupWindow(60 if dedup else 0, 1000))  # type: ignore[arg-type]
    intake.set_heads({"siem": IdHeads()}, {})
    return intake


def _native_event(n: int) -> bytes:
    """siemrelay's own native JSON of an event (what an upstream siemrelay sends on)."""
    ev = make_event(id=f"native-{n}", severity="high")
    if n % 2:
        ev.origin = {"input": "upstream"}
    return ev.to_json()


_DEEP = b'{"title": "deep", "a": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}"


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, object]:
    """One record's bytes and, sometimes, the value a source parsed from them."""
    kind = draw(st.sampled_from(["object", "object", "object", "array", "ndjson", "native", "malformed", "deep",
                                 "scalar", "empty-lines"]))
    parsed: object = None
    if kind == "object":
        data = orjson.dumps(draw(payloads()))
    elif kind == "array":
        data = orjson.dumps(draw(st.lists(payloads() | st.integers(-5, 5), max_size=3)))
    elif kind == "ndjson":
        lines = [orjson.dumps(p) for p in draw(st.lists(payloads(), min_size=2, max_size=4))]
        if draw(st.booleans()):
            lines.insert(1, draw(st.sampled_from([b"", b"   ", b"[1, 2]", b"{broken", b"7"])))
        data = b"\n".join(lines)
    elif kind == "native":
        data = _native_event(draw(st.integers(0, 3)))
    elif kind == "malformed":
        data = draw(st.sampled_from([b"{", b"not json", b'{"a": 1} trailing', b"\xff\xfe", b""]))
    elif kind == "deep":
        data = _DEEP
    elif kind == "scalar":
        data = draw(st.sampled_from([b"42", b'"text"', b"null", b"true"]))
    else:
        data = b"\n\n" + orjson.dumps(draw(payloads())) + b"\n\n"
    if kind in ("object", "native", "deep") and draw(st.booleans()):
        parsed = orjson.loads(data)
    return data, parsed


def _records(decoder: JsonDecoder, items: list[tuple[bytes, object]], later: list[bool]) -> list[RawRecord]:
    out = []
    for (data, parsed), step in zip(items, later):
        base = make_record(data, decoder, path="/var/log/x.json")
        at = base.received_at + timedelta(milliseconds=7) if step else base.received_at
        out.append(RawRecord(data, decoder, base.origin, at, parsed=parsed))
    return out


CONSTANT_ROUTES = [
    [{"name": "default", "to": ["siem"]}],
    [{"name": "default", "to": ["siem", "chat"]}],
    [{"name": "all", "to": ["siem"]}, {"name": "default", "to": ["chat"]}],
]
#: rules that read only the events' features and transform nothing (Router.native_ok)
FEATURE_ROUTES = [
    [{"name": "urgent", "when": {"severity": ">= high"}, "to": ["chat"], "continue": True},
     {"name": "default", "to": ["siem"]}],
    [{"name": "findings", "when": {"type": "finding.*", "score": {">": 50}}, "to": ["siem", "chat"]},
     {"name": "acme", "when": {"source": ["acme", "json"]}, "to": ["siem"]}],  # no default: some unrouted
    [{"name": "repo", "when": {"repository": "backend-*"}, "to": ["chat"]},
     {"name": "org", "when": {"organization": {"exists": True}}, "to": ["nowhere-known"]},
     {"name": "default", "to": ["siem"]}],
    [{"name": "vendor", "when": {"vendor_type": {"regex": "^NEW"}}, "to": []}, {"name": "default", "to": ["siem"]}],
    [{"name": "loud", "when": {"severity": ">= medium"}, "to": ["chat"], "continue": True},
     {"name": "scored", "when": {"score": {">=": 25}}, "to": ["siem"], "continue": True},
     {"name": "json", "when": {"source": "json"}, "to": ["nowhere-known"]}],
]
#: rules the Event path must decide (a condition beyond the features, a transform)
EVENT_ROUTES = [
    [{"name": "sqli", "when": {"title": {"regex": "(?i)high"}}, "to": ["chat"]}, {"name": "default", "to": ["siem"]}],
    [{"name": "tagged", "when": {"severity": ">= medium"}, "transforms": [{"tag": "t"}], "to": ["chat"]},
     {"name": "default", "to": ["siem"]}],
]


def _prepared(intake: Intake, records: list[RawRecord], dedup: bool) -> PreparedBatch:
    return intake.prepare(records, dedup=dedup, heads_for=("siem",))


@settings(max_examples=400, deadline=None)
@given(CONFIGS, st.sampled_from(CONSTANT_ROUTES + FEATURE_ROUTES + EVENT_ROUTES), st.booleans(), st.booleans(),
       st.lists(st.tuples(bodies(), st.booleans()), min_size=1, max_size=6))
def test_the_shortcut_prepares_the_batch_the_event_path_prepares(options: dict[str, Any], routes: list[dict[str, Any]],
                                                                 ndjson: bool, dedup: bool,
                                                                 batch: list[tuple[tuple[bytes, object], bool]]) -> None:
    config = {**DEFAULTS, **options}
    fast, slow = (NdjsonDecoder(config), EventPathNdjson(config)) if ndjson else \
        (JsonDecoder(config), EventPathJson(config))
    items = [body for body, _ in batch] * (2 if dedup else 1)  # the same ids twice: duplicates
    later = [step for _, step in batch] * (2 if dedup else 1)
    intake = _intake(routes, dedup)
    assert (intake.router.constant is not None or intake.router.native_ok) == (routes not in EVENT_ROUTES)
    got = _prepared(intake, _records(fast, items, later), dedup)
    want = _prepared(_intake(routes, dedup), _records(slow, items, later), dedup)
    assert got == want


def test_the_shortcut_is_taken_for_objects_and_ndjson_and_not_where_a_rule_reads_more_than_features(
        mocker: Any) -> None:
    dec = JsonDecoder(DEFAULTS)
    decode = mocker.spy(dec, "decode")
    records = [make_record(b'{"id": "a", "severity": "high"}', dec),
               make_record(b'{"id": "b"}\n{"id": "c"}', dec),
               make_record(b'[{"id": "d"}]', dec)]
    intake = _intake(CONSTANT_ROUTES[1])
    batch = intake.prepare(records)
    assert [orjson.loads(d)["id"] for _, d in batch.rows] == ["a", "b", "c", "d"]
    both, siem, chat = intake._mask_of(("siem", "chat")), intake._mask_of(("siem",)), intake._mask_of(("chat",))
    assert [m for m, _ in batch.rows] == [both] * 4 and both == siem | chat
    assert decode.call_count == 1  # only the array went through Events
    # a rule on a feature (severity) is decided from the dict as well
    routed = _intake([{"name": "high", "when": {"severity": "high"}, "to": ["chat"]},
                      {"name": "default", "to": ["siem"]}])
    assert routed.router.constant is None and routed.router.native_ok
    decode.reset_mock()
    batch = routed.prepare(records)
    assert [m for m, _ in batch.rows] == [chat, siem, siem, siem]
    assert decode.call_count == 1
    # a rule on the title needs the Event
    by_title = _intake([{"name": "a", "when": {"title": {"regex": "x"}}, "to": ["chat"]},
                        {"name": "default", "to": ["siem"]}])
    assert not by_title.router.native_ok
    decode.reset_mock()
    by_title.prepare(records)
    assert decode.call_count == 3


@pytest.fixture
def spool(tmp_path: Any) -> Any:
    s = Spool(tmp_path, max_bytes=1 << 20, sync="normal")
    s.open(list(BITS))
    yield s
    s.close()


def test_a_record_whose_event_cannot_be_stored_is_dead_lettered_with_its_reason(spool: Spool) -> None:
    """A decoder whose native form holds what JSON cannot (a set): the record's dead letter
    names the event, as the Event path's does, and the rest of the batch is stored."""

    class SetInRaw(JsonDecoder):
        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__(config)
            self._native_ok = True  # this test's own opt-in to the shortcut

        def decode_native(self, record: RawRecord, received_text: str) -> list[dict[str, object]] | None:
            docs = super().decode_native(record, received_text)
            if docs is not None and docs[0]["id"] == "bad":
                docs[0]["raw"] = {1, 2}
            return docs

    dec = SetInRaw(DEFAULTS)
    intake = Intake(spool, _router(CONSTANT_ROUTES[0]), logger)
    submitted = intake.submit([make_record(b'{"id": "ok"}', dec), make_record(b'{"id": "bad"}', dec)])
    assert submitted.events == 1
    [(index, reason)] = submitted.errors
    assert index == 1 and "event 'bad' cannot be stored as JSON" in reason
    [letter] = spool.dead_letters()
    assert (letter.event_id, letter.data) == ("bad", b'{"id": "bad"}') and "cannot be stored as JSON" in letter.reason


def test_a_shortcut_that_raises_leaves_the_record_to_decode() -> None:
    """A plugin's bug in decode_native costs nothing: decode() stores the event, or
    dead-letters the record with its own reason, as without the shortcut."""

    class Buggy(JsonDecoder):
        def decode_native(self, record: RawRecord, received_text: str) -> list[dict[str, object]] | None:
            raise RuntimeError("bug in the shortcut")

    class BuggyBoth(Buggy):
        def decode(self, record: RawRecord) -> list[Any]:
            raise RuntimeError("bug in decode too")

    intake = _intake(CONSTANT_ROUTES[0])
    batch = intake.prepare([make_record(b'{"id": "kept"}', Buggy(DEFAULTS)),
                            make_record(b'{"id": "lost?"}', BuggyBoth(DEFAULTS))])
    assert [orjson.loads(d)["id"] for _, d in batch.rows] == ["kept"]
    [(index, reason)] = batch.failed
    assert index == 1 and "decoder failed: RuntimeError: bug in decode too" in reason
    assert [e[2] for e in batch.errors] == [b'{"id": "lost?"}']


#: one record for each way a rule on features can decide: two routes that continue, a route
#: to no sink, a route to a sink the spool does not know, nothing matched without a default
_DECISIONS = [
    b'{"id": "both", "severity": "critical", "score": 90, "source": "acme"}',
    b'{"id": "loud-only", "severity": "medium", "score": 10, "source": "acme"}',
    b'{"id": "scored-then-json", "severity": "low", "score": 30}',
    b'{"id": "json-only", "severity": "info"}',
    b'{"id": "nothing", "severity": "info", "source": "acme"}',
    b'{"id": "to-nowhere", "type": "NEW_ALERT", "source": "acme", "organization": "o"}',
    b'{"id": "n1", "severity": "high"}\n{"id": "n2", "severity": "info", "source": "acme"}',
    # each differs from one above in one feature only, so a feature read wrongly from the dict
    # (its memo keyed by another feature's value) decides one of them wrongly
    b'{"id": "low-unscored", "severity": "low", "score": 10}',
    b'{"id": "medium-json", "severity": "medium", "score": 10}',
    b'{"id": "finding", "type": "finding.new", "severity": "critical", "score": 90, "source": "acme"}',
    b'{"id": "backend", "severity": "info", "source": "acme", "repo": "backend-api"}',
    b'{"id": "frontend", "severity": "info", "source": "acme", "repo": "frontend"}',
    b'{"id": "vendor-new", "type": "NEW_ALERT", "severity": "critical", "score": 90, "source": "acme"}',
]


@pytest.mark.parametrize("routes", FEATURE_ROUTES)
def test_every_decision_of_feature_rules_is_the_event_paths(routes: list[dict[str, Any]]) -> None:
    config = {**DEFAULTS, "fields": {"organization.name": "organization", "repository.name": "repo"}}
    got = _prepared(_intake(routes), [make_record(d, JsonDecoder(config)) for d in _DECISIONS], False)
    want = _prepared(_intake(routes), [make_record(d, EventPathJson(config)) for d in _DECISIONS], False)
    assert got == want
    assert got.rows or got.unrouted or got.dropped


def test_the_router_decides_a_dict_as_it_decides_its_event_whatever_the_feature_values() -> None:
    """A decoder's dict may hold values of other types than the json decoder's (a score of
    7.5): the router tests them as they are, as it tests the Event's, never converted."""
    routes = [{"name": "scored", "when": {"score": {">": 7.2}}, "to": ["chat"]},
              {"name": "sev", "when": {"severity": ">= high"}, "to": ["chat"], "continue": True},
              {"name": "default", "to": ["siem"]}]
    for score, severity in ((7.5, 1), (7.0, 1), (7.0, 4), (True, 0)):
        ev = make_event(id="x", severity="info")
        ev.score, ev.severity_id = score, severity  # what a third-party decoder may set
        doc = ev.to_dict()
        by_event, by_dict = _router(routes), _router(routes)
        assert by_dict.native_ok
        assert by_dict.plan_native(doc) == by_event.plan(ev), (score, severity)
