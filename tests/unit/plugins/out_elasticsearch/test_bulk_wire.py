"""The ``_bulk`` body, read back with a JSON parser line by line as Elasticsearch does,
and the reading of per-item answers."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.model import score_from_severity
from agent.testing import make_event, spooled
from plugins.out_elasticsearch.encoder import read_items
from plugins.out_elasticsearch.sink import ElasticsearchSink
from tests.peers.sink_factory import make_sink

_text = st.text(max_size=20)


@settings(max_examples=40, deadline=None)
@given(specs=st.lists(st.tuples(st.text(min_size=1, max_size=600), _text, st.integers(0, 5),
                                st.dictionaries(st.text(max_size=5), _text, max_size=3)), min_size=1, max_size=5),
       schema=st.sampled_from(["native", "ocsf", "ecs"]))
def test_bulk_body_is_action_and_source_pairs(specs: list[tuple[str, str, int, dict[str, str]]], schema: str) -> None:
    events = [make_event(id=i, source=src or "x", severity_id=sev, score=score_from_severity(sev), raw=raw)
              for i, src, sev, raw in specs]
    sink = make_sink(ElasticsearchSink, {"url": "http://127.0.0.1:9", "index": "logs-siemrelay-{{ source }}",
                                         "schema": schema})
    try:
        body = sink.encode_batch(spooled(events))
    finally:
        sink.close()
    assert body.endswith(b"\n")
    text = body.split(b"\n")[:-1]
    lines = [json.loads(line, object_pairs_hook=no_duplicate_keys) for line in text]
    assert len(lines) == 2 * len(events)
    for event, action, doc in zip(events, lines[::2], lines[1::2]):
        create = action["create"]
        assert create["_index"] == f"logs-siemrelay-{event.source}".lower()
        assert create["_id"] == event.id if len(event.id.encode()) <= 512 else len(create["_id"]) == 64
        assert doc["@timestamp"].startswith("2025-01-15T14:30:00")
        if schema == "native":
            assert {k: v for k, v in doc.items() if k != "@timestamp"} == json.loads(event.to_json())


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys in a bulk document: {keys}"
    return dict(pairs)


def item(status: int, kind: str = "") -> dict[str, Any]:
    return {"create": {"status": status, **({"error": {"type": kind, "reason": "r"}} if kind else {})}}


def test_read_items() -> None:
    assert read_items({"errors": False, "items": []}, 3).rejected is None
    v = read_items({"errors": True, "items": [item(201), item(409, "version_conflict_engine_exception"),
                                              item(429, "es_rejected_execution_exception"), item(400, "mapper_parsing_exception")]}, 4)
    assert (v.rejected, v.status) == (3, 400) and "mapper_parsing_exception" in v.reason
    v = read_items({"errors": True, "items": [item(201), item(429, "es_rejected_execution_exception")]}, 2)
    assert (v.rejected, v.retry, v.status) == (None, 1, 429)
    assert read_items({"errors": True, "items": [item(409, "version_conflict_engine_exception")]}, 1).retry is None
