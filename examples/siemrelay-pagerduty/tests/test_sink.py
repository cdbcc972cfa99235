"""The sink against siemrelay's capturing HTTP receiver: what goes on the wire, and
how each PagerDuty answer becomes an outcome."""

from __future__ import annotations

from typing import Any

import cerberus
import pytest

from agent.sdk import Status
from agent.testing.receivers import Reply
from agent.sdk import compose_sink_schema
from agent.testing import spooled
from siemrelay_pagerduty.sink import PagerDutySink

KEY = "R0ut1ngKey0123456789abcdefABCDEF"


@pytest.fixture
def make_sink(http_receiver, sink_context) -> Any:
    sinks = []

    def make(**overrides: Any) -> PagerDutySink:
        v = cerberus.Validator(compose_sink_schema(PagerDutySink.CONFIG_SCHEMA, PagerDutySink.DEFAULTS))
        doc = {"type": "pagerduty", "url": f"{http_receiver.url}/v2/enqueue", "routing_key": KEY, **overrides}
        assert v.validate(doc), v.errors
        sink = PagerDutySink("pd", dict(v.document), sink_context)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close()


def test_each_event_is_one_post(make_sink, http_receiver, event_factory) -> None:
    http_receiver.reply_always(Reply(202, {"status": "success"}))
    outcome = make_sink().send(spooled([event_factory(severity="critical"), event_factory(severity="low")]))
    assert outcome.status is Status.OK
    requests = http_receiver.requests
    assert [r.path for r in requests] == ["/v2/enqueue", "/v2/enqueue"]
    assert [r.json()["payload"]["severity"] for r in requests] == ["critical", "info"]
    assert all(r.json()["routing_key"] == KEY for r in requests)
    assert requests[0].header("content-type") == "application/json"


def test_throttled_is_retry_with_retry_after(make_sink, http_receiver, event_factory) -> None:
    http_receiver.script(Reply(429, {"status": "throttle"}, headers={"Retry-After": "120"}))
    outcome = make_sink().send(spooled([event_factory()]))
    assert outcome.status is Status.RETRY
    assert outcome.retry_after == 120


def test_invalid_event_is_rejected_naming_which(make_sink, http_receiver, event_factory) -> None:
    http_receiver.script(202, Reply(400, {"status": "invalid event", "errors": ["'payload.summary' is missing"]}))
    outcome = make_sink().send(spooled([event_factory(), event_factory(), event_factory()]))
    assert outcome.status is Status.REJECT
    assert outcome.rejected_index == 1
    assert "invalid event" in outcome.reason
    assert len(http_receiver.requests) == 2  # stops at the first refusal


def test_server_error_stops_the_batch_for_a_retry(make_sink, http_receiver, event_factory) -> None:
    http_receiver.script(202, 503)
    outcome = make_sink().send(spooled([event_factory(), event_factory(), event_factory()]))
    assert outcome.status is Status.RETRY
    assert len(http_receiver.requests) == 2


def test_routing_key_stays_out_of_logs_and_reasons(make_sink, http_receiver, event_factory, sink_logs) -> None:
    http_receiver.reply_always(Reply(400, echo=True))  # a peer that quotes the request back
    sink = make_sink()
    sink.ctx.redact.add([KEY])  # the agent registers every SECRET_KEYS value with the redactor
    outcome = sink.send(spooled([event_factory()]))
    assert outcome.status is Status.REJECT
    assert KEY not in outcome.reason and KEY not in repr(sink) and KEY not in sink_logs.text


def test_healthcheck_reports_reachability(make_sink, free_tcp_port) -> None:
    assert make_sink().healthcheck().status is Status.OK
    unreachable = make_sink(url=f"http://127.0.0.1:{free_tcp_port}/v2/enqueue").healthcheck()
    assert unreachable.status is Status.RETRY


@pytest.fixture
def free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
