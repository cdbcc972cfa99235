"""The ``otlp`` sink's wire format, read back with the official ``opentelemetry-proto`` messages.

Property-tested: for any events, what the sink would send (protobuf or OTLP/JSON)
parses as an ``ExportLogsServiceRequest`` with every field as docs/sinks.md maps it,
and the ``otlp`` decoder (what the ``otlp`` source runs) gives the same events back.
"""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from agent.model import Event, score_from_severity
from agent.sdk.otlp import attributes_dict, from_any_value
from agent.testing import make_event, make_record, spooled
from plugins.in_otlp.decoder import OtlpDecoder
from plugins.in_otlp.request import log_dicts, to_json
from plugins.out_otlp.encoder import compress
from plugins.out_otlp.sink import OtlpSink
from tests.peers.sink_factory import make_sink

SEVERITY_NUMBER = {0: 0, 1: 9, 2: 12, 3: 13, 4: 17, 5: 21}
_key = st.text(st.characters(codec="utf-8", exclude_characters="."), min_size=1, max_size=8)
_leaf = st.one_of(st.text(min_size=1, max_size=12), st.integers(-(2 ** 63), 2 ** 63 - 1),
                  st.floats(allow_nan=False, allow_infinity=False), st.booleans())
_group = st.dictionaries(_key, st.one_of(_leaf, st.dictionaries(_key, _leaf, min_size=1, max_size=2)), max_size=3)
_time = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc))


@st.composite
def events(draw: Any) -> Event:
    sev = draw(st.integers(0, 5))
    when = draw(_time)
    return make_event(id=draw(st.text(min_size=1, max_size=20)), time=when,
                      received_at=when + timedelta(microseconds=draw(st.integers(0, 10 ** 9))),
                      source=draw(st.text(min_size=1, max_size=10)), type=draw(st.text(min_size=1, max_size=15)),
                      vendor_type=draw(st.text(max_size=10)), severity_id=sev, score=score_from_severity(sev),
                      title=draw(st.text(max_size=30)), description=draw(st.text(max_size=30)),
                      asset=draw(_group) or None, finding=draw(_group) or None,
                      tags=draw(st.lists(st.text(max_size=5), max_size=3)),
                      raw=draw(st.dictionaries(_key, _leaf, min_size=1, max_size=3)))


def sink(**over: Any) -> OtlpSink:
    return make_sink(OtlpSink, {"url": "http://127.0.0.1:9/v1/logs", "service_name": "relay-a",
                                "resource": {"deployment.environment.name": "test"}, **over})


def parse(body: bytes, encoding: str) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    if encoding == "json":
        json_format.Parse(body, request)
    else:
        request.ParseFromString(body)
    return request


def nanos(dt: datetime) -> int:
    return int((dt - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1)) * 1000


def decode_back(request: ExportLogsServiceRequest) -> list[Event]:
    decoder = OtlpDecoder({"source": "otlp", "event_type": "log"})
    return [e for item in log_dicts(request) for e in decoder.decode(make_record(to_json(item), decoder))]


def comparable(e: Event, *, raw: bool) -> dict[str, Any]:
    doc = e.to_dict()
    if not raw:
        doc.pop("raw")
    return doc


@settings(max_examples=30, deadline=None)
@given(batch=st.lists(events(), min_size=1, max_size=4), encoding=st.sampled_from(["protobuf", "json"]),
       include_raw=st.booleans())
def test_title_body_maps_every_field_and_decodes_back(batch: list[Event], encoding: str, include_raw: bool) -> None:
    s = sink(encoding=encoding, include_raw=include_raw)
    try:
        request = parse(s.encode_batch(spooled(batch)), encoding)
    finally:
        s.close()
    [resource_logs] = request.resource_logs
    resource = attributes_dict(resource_logs.resource.attributes)
    assert resource["service.name"] == "relay-a" and resource["deployment.environment.name"] == "test"
    assert resource["host.name"]
    [scope_logs] = resource_logs.scope_logs
    assert scope_logs.scope.name == "siemrelay"
    assert len(scope_logs.log_records) == len(batch)
    for event, record in zip(batch, scope_logs.log_records):
        doc = event.to_dict()
        assert record.time_unix_nano == nanos(event.time)
        assert record.observed_time_unix_nano == nanos(event.received_at)
        assert record.severity_number == SEVERITY_NUMBER[event.severity_id]
        assert record.severity_text == doc["severity"]
        assert record.event_name == event.type
        assert record.body.string_value == event.title
        attrs = attributes_dict(record.attributes)
        assert attrs["siemrelay.id"] == event.id and attrs["siemrelay.type"] == event.type
        assert attrs["siemrelay.source"] == event.source and attrs["siemrelay.severity_id"] == event.severity_id
        for key, value in (event.asset or {}).items():
            if not isinstance(value, dict):
                assert attrs[f"siemrelay.asset.{key}"] == value
        assert ("siemrelay.raw" in attrs) == include_raw
        assert not any(k.startswith(("siemrelay.title", "siemrelay.time", "siemrelay.received_at")) for k in attrs)
    assert [comparable(e, raw=include_raw) for e in decode_back(request)] == \
        [comparable(e, raw=include_raw) for e in batch]


@settings(max_examples=25, deadline=None)
@given(batch=st.lists(events(), min_size=1, max_size=3), encoding=st.sampled_from(["protobuf", "json"]))
def test_event_body_is_the_whole_native_event(batch: list[Event], encoding: str) -> None:
    s = sink(encoding=encoding, body="event")
    try:
        request = parse(s.encode_batch(spooled(batch)), encoding)
    finally:
        s.close()
    records = request.resource_logs[0].scope_logs[0].log_records
    assert [from_any_value(r.body) for r in records] == [e.to_dict() for e in batch]
    assert [attributes_dict(r.attributes) for r in records] == [
        {"siemrelay.id": e.id, "siemrelay.source": e.source, "siemrelay.type": e.type} for e in batch]
    assert [e.to_dict() for e in decode_back(request)] == [e.to_dict() for e in batch]


def test_gzip_is_deterministic_and_standard() -> None:
    data = b"x" * 1000
    assert compress(data) == compress(data) and gzip.decompress(compress(data)) == data


def test_missing_protobuf_is_a_config_error_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from plugins.out_otlp.config import check_config

    real = importlib.import_module

    def no_proto(name: str, *a: Any) -> Any:
        if name.startswith("opentelemetry.proto"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *a)

    monkeypatch.setattr(importlib, "import_module", no_proto)
    problems = check_config({"tls": {}})
    assert problems and "siemrelay[otlp]" in problems[0]
