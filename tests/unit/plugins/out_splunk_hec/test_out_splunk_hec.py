"""HEC encoding and the documented status codes → delivery outcomes."""

from __future__ import annotations

import pytest

from agent.sdk.outcome import Status
from agent.delivery.retry import DEFAULT_RETRY_ON, Verdict, classify
from agent.testing import make_event, spooled
from plugins.out_splunk_hec.encoder import HecFormat, encode_event, hec_time
from plugins.out_splunk_hec.responses import HEC_CODES, classify_hec
from plugins.out_splunk_hec.sink import SplunkHecSink, endpoints
from tests.peers.sink_factory import make_sink, sink_config


def test_time_is_epoch_seconds_with_milliseconds() -> None:
    assert hec_time("2025-01-15T14:30:00.123Z") == b"1736951400.123"
    assert hec_time("2025-01-15T14:30:00Z") == b"1736951400.000"
    assert hec_time("nonsense") == b""


def test_event_object_golden() -> None:
    meta = HecFormat(host="h", source="s", sourcetype="st", index="main").metadata(None)
    assert encode_event(b'{"a":1}', "2025-01-15T14:30:00Z", meta) == (
        b'{"time":1736951400.000,"host":"h","source":"s","sourcetype":"st","index":"main","event":{"a":1}}')


def test_endpoints_from_base_or_full_url() -> None:
    assert endpoints("https://s:8088") == ("https://s:8088/services/collector/event", "https://s:8088/services/collector/ack",
                                          "https://s:8088/services/collector/health")
    assert endpoints("https://s:8088/prefix/services/collector/event")[1] == "https://s:8088/prefix/services/collector/ack"


@pytest.mark.parametrize("code", sorted(HEC_CODES))
def test_every_documented_code_has_an_outcome(code: int) -> None:
    status, _ = HEC_CODES[code]
    outcome = classify_hec(status, {"text": "x", "code": code}, None)
    if code in (0, 17, 24, 25):
        assert outcome.status is Status.OK
    elif code in (1, 2, 3, 4, 10, 11, 14, 16, 21, 22):
        assert outcome.status is Status.REJECT and outcome.open_circuit
    elif code in (5, 6, 7, 12, 13, 15):
        assert outcome.status is Status.REJECT and not outcome.open_circuit
    else:
        assert outcome.status is Status.RETRY
        # what the worker does with it under the default retry_on: retry, never dead letters
        assert classify(outcome, DEFAULT_RETRY_ON) == Verdict.RETRY
    assert (outcome.http_status, outcome.vendor_code) == (status, code)


def test_retry_after_and_invalid_event_number() -> None:
    assert classify_hec(429, {"text": "x", "code": 26}, "5").retry_after == 5
    assert classify_hec(400, {"text": "x", "code": 6, "invalid-event-number": 3}, None).rejected_index == 3


def test_non_json_answers_fall_back_to_http_status() -> None:
    assert classify_hec(413, None, None).status is Status.REJECT
    assert classify_hec(502, None, "2").retry_after == 2
    assert classify_hec(401, None, None).open_circuit


def test_token_is_secret_and_plain_http_elsewhere_is_refused() -> None:
    assert "token" in SplunkHecSink.SECRET_KEYS
    with pytest.raises(ValueError, match="clear text"):
        sink_config(SplunkHecSink, {"url": "http://splunk.example.com:8088", "token": "t"})


def test_ocsf_schema_renders_ocsf_events() -> None:
    sink = make_sink(SplunkHecSink, {"url": "https://s:8088", "token": "t", "schema": "ocsf", "host": "h"})
    body = sink.encode_batch(spooled([make_event()]))
    import orjson
    event = orjson.loads(body)["event"]
    assert "class_uid" in event and "severity_id" in event
    sink.close()
