"""``splunk_hec`` against a strict HEC receiver that follows Splunk's documented protocol."""

from __future__ import annotations

import gzip
import json
import ssl
from pathlib import Path
from typing import Any, Iterator

import pytest

from agent.sdk.outcome import Status
from agent.testing import FakeClock, make_event, spooled
from plugins.out_splunk_hec.encoder import gzip_bytes
from plugins.out_splunk_hec.sink import SplunkHecSink
from tests.conftest import pick_port
from tests.peers.certs import make_certs
from tests.peers.hec_receiver import HecReceiver
from tests.peers.sink_factory import make_sink

pytestmark = pytest.mark.e2e


@pytest.fixture
def hec() -> Iterator[HecReceiver]:
    with HecReceiver(pick_port(), tokens={"good-token": {"ack": False}, "ack-token": {"ack": True},
                                          "off-token": {"disabled": True}}) as receiver:
        yield receiver


def hec_sink(receiver: HecReceiver, **over: Any) -> SplunkHecSink:
    config = {"url": receiver.url, "token": "good-token", "host": "relay-host", "healthcheck_on_start": False, **over}
    return make_sink(SplunkHecSink, config)


def expected_body(events: list[Any], **meta: str) -> bytes:
    out = b""
    for e in events:
        ms = int(e.time.timestamp() * 1000)
        head = {"time": None, "host": meta.get("host", "relay-host"), "source": meta.get("source", "siemrelay"),
                "sourcetype": meta.get("sourcetype", "_json")}
        if "index" in meta:
            head["index"] = meta["index"]
        text = json.dumps(head, separators=(",", ":")).replace('"time":null', f'"time":{ms // 1000}.{ms % 1000:03d}')
        out += text[:-1].encode() + b',"event":' + e.to_json() + b"}"
    return out


def test_batch_is_gzip_and_byte_exact(hec: HecReceiver) -> None:
    events = [make_event(description=f"d{i} é \"q\"") for i in range(25)]
    sink = hec_sink(hec, index="security")
    try:
        outcome = sink.send(spooled(events))
        assert outcome.ok, outcome.reason
    finally:
        sink.close()
    req = hec.requests[-1]
    assert req.path == "/services/collector/event"
    assert req.headers["Authorization"] == "Splunk good-token"
    assert req.headers["Content-Encoding"] == "gzip"
    assert req.decoded == expected_body(events, index="security")
    assert req.body == gzip_bytes(req.decoded, 1)
    assert [e["event"] for e in hec.indexed] == [json.loads(e.to_json()) for e in events]
    assert all(e["index"] == "security" for e in hec.indexed)


def test_uncompressed_and_per_event_metadata(hec: HecReceiver) -> None:
    events = [make_event(source="zeropath", asset={"host": "web1"}), make_event(source="escape", asset={"host": "web2"})]
    sink = hec_sink(hec, gzip=False, host="{{ asset.host }}", source="{{ source }}", sourcetype="siemrelay:finding")
    try:
        assert sink.send(spooled(events)).ok
    finally:
        sink.close()
    req = hec.requests[-1]
    assert "Content-Encoding" not in req.headers and req.body == req.decoded
    assert [(e["host"], e["source"], e["sourcetype"]) for e in hec.indexed] == [
        ("web1", "zeropath", "siemrelay:finding"), ("web2", "escape", "siemrelay:finding")]


@pytest.mark.parametrize("code,status,circuit", [(4, Status.REJECT, True), (1, Status.REJECT, True)])
def test_bad_or_disabled_token_rejects_and_opens_the_circuit(hec: HecReceiver, code: int, status: Status, circuit: bool) -> None:
    sink = hec_sink(hec, token="wrong-token" if code == 4 else "off-token")
    try:
        outcome = sink.send(spooled([make_event()]))
    finally:
        sink.close()
    assert outcome.status is status and outcome.vendor_code == code and outcome.open_circuit is circuit
    assert outcome.http_status == 403
    assert "wrong-token" not in outcome.reason and "off-token" not in outcome.reason


def test_busy_and_throttled_are_retried_with_retry_after(hec: HecReceiver) -> None:
    sink = hec_sink(hec)
    try:
        hec.fail_next(9, **{"Retry-After": "7"})
        busy = sink.send(spooled([make_event()]))
        assert busy.status is Status.RETRY and busy.retry_after == 7
        assert (busy.http_status, busy.vendor_code) == (503, 9)
        hec.fail_next(18)
        assert sink.send(spooled([make_event()])).status is Status.RETRY
        assert sink.send(spooled([make_event()])).ok
    finally:
        sink.close()
    assert len(hec.indexed) == 1


def test_malformed_event_is_rejected_with_its_index(hec: HecReceiver) -> None:
    sink = hec_sink(hec, index="{{ organization.name }}")
    events = [make_event(organization={"name": "main"}), make_event(organization={"name": "main"}),
              make_event(organization={"name": "nope"})]
    try:
        outcome = sink.send(spooled(events))
    finally:
        sink.close()
    assert outcome.status is Status.REJECT and outcome.rejected_index == 2
    assert (outcome.http_status, outcome.vendor_code) == (400, 7)
    assert not outcome.open_circuit and hec.indexed == []


def test_indexer_acknowledgement_is_polled_before_ok(hec: HecReceiver) -> None:
    hec.ack_after_polls = 2
    sink = hec_sink(hec, token="ack-token", ack={"enabled": True, "timeout_s": 10, "poll_interval_s": 0.05})
    try:
        outcome = sink.send(spooled([make_event(), make_event()]))
    finally:
        sink.close()
    assert outcome.ok and "ackId 0" in outcome.reason
    acks = [r for r in hec.requests if r.path == "/services/collector/ack"]
    assert len(acks) == 3 and json.loads(acks[-1].body) == {"acks": [0]}
    channel = hec.requests[0].headers["X-Splunk-Request-Channel"]
    assert all(r.headers["X-Splunk-Request-Channel"] == channel for r in hec.requests)


def test_unacknowledged_batch_is_retried_after_the_timeout(hec: HecReceiver) -> None:
    hec.ack_after_polls = 10 ** 6
    clock = FakeClock()
    sink = make_sink(SplunkHecSink, {"url": hec.url, "token": "ack-token", "healthcheck_on_start": False,
                                     "ack": {"enabled": True, "timeout_s": 1, "poll_interval_s": 0.01}}, clock=clock)
    polls = 0
    original = sink.client.request

    def counting(method: str, url: str, **kw: Any) -> Any:
        nonlocal polls
        if url.endswith("/ack"):
            polls += 1
            clock.advance(0.4)
        return original(method, url, **kw)

    sink.client.request = counting  # type: ignore[method-assign]
    try:
        outcome = sink.send(spooled([make_event()]))
    finally:
        sink.close()
    assert outcome.status is Status.RETRY and "acknowledgement" in outcome.reason and polls == 3


def test_ack_on_a_token_without_ack_opens_the_circuit(hec: HecReceiver) -> None:
    sink = hec_sink(hec, ack={"enabled": True})
    try:
        outcome = sink.send(spooled([make_event()]))
    finally:
        sink.close()
    assert outcome.status is Status.REJECT and outcome.open_circuit


def test_healthcheck(hec: HecReceiver) -> None:
    good, bad = hec_sink(hec), hec_sink(hec, token="nope-token")
    try:
        assert good.healthcheck().ok and good.healthcheck().vendor_code == 17
        assert bad.healthcheck().status is Status.REJECT
        hec.health_code = 18
        unhealthy = good.healthcheck()
        assert unhealthy.status is Status.RETRY and (unhealthy.http_status, unhealthy.vendor_code) == (503, 18)
    finally:
        good.close()
        bad.close()


def test_connection_refused_is_retry(tmp_path: Path) -> None:
    sink = make_sink(SplunkHecSink, {"url": f"http://127.0.0.1:{pick_port()}", "token": "t0ken-secret",
                                     "healthcheck_on_start": False})
    try:
        outcome = sink.send(spooled([make_event()]))
    finally:
        sink.close()
    assert outcome.status is Status.RETRY and "t0ken-secret" not in outcome.reason


def test_tls_verification_on_by_default(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "certs")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.server_cert, certs.server_key)
    with HecReceiver(pick_port(), ssl_context=ctx) as receiver:
        untrusted = hec_sink(receiver)  # system CAs only: our throwaway CA is unknown
        trusted = hec_sink(receiver, tls={"ca_file": str(certs.ca)})
        try:
            refused = untrusted.send(spooled([make_event()]))
            assert refused.status is Status.RETRY and "SSL" in refused.reason
            assert trusted.send(spooled([make_event()])).ok
        finally:
            untrusted.close()
            trusted.close()
    assert len(receiver.indexed) == 1


def test_body_is_what_gzip_module_reads(hec: HecReceiver) -> None:
    sink = hec_sink(hec)
    try:
        sink.send(spooled([make_event()]))
    finally:
        sink.close()
    assert gzip.decompress(hec.requests[-1].body) == hec.requests[-1].decoded
