"""Generic webhook: body formats, HEC envelope, HMAC of the exact bytes, headers, outcomes."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from agent.sdk.outcome import Status
from agent.testing import FakeClock, make_event, spooled
from plugins.out_webhook.encoder import body, signature
from plugins.out_webhook.sink import WebhookSink
from tests.conftest import pick_port
from tests.peers.http_capture import HttpCapture
from tests.peers.sink_factory import make_sink, sink_config


def test_body_formats() -> None:
    assert body([b'{"a":1}', b'{"b":2}'], "array") == b'[{"a":1},{"b":2}]'
    assert body([b'{"a":1}', b'{"b":2}'], "ndjson") == b'{"a":1}\n{"b":2}\n'
    assert body([b'{"a":1}'], "object") == b'{"a":1}'
    with pytest.raises(ValueError):
        body([b"{}", b"{}"], "object")


def test_signature_is_hmac_sha256_hex() -> None:
    expected = hmac.new(b"s3cret-key", b"payload", hashlib.sha256).hexdigest()
    assert signature("s3cret-key", b"payload") == "sha256=" + expected
    assert signature("s3cret-key", b"payload", "") == expected
    assert signature("s3cret-key", b"payload", "", "100") == hmac.new(b"s3cret-key", b"100.payload", hashlib.sha256).hexdigest()


@pytest.fixture
def srv() -> HttpCapture:
    with HttpCapture(pick_port()) as capture:
        yield capture


def test_signed_batch_as_array(srv: HttpCapture) -> None:
    clock = FakeClock(1736951400.5)
    sink = make_sink(WebhookSink, {"url": srv.url + "/hook", "hmac": {"secret": "s3cret-key"},
                                   "headers": {"Authorization": "Bearer abc123", "X-Team": "soc"}}, clock=clock)
    events = [make_event(), make_event()]
    try:
        assert sink.send(spooled(events)).ok
    finally:
        sink.close()
    req = srv.requests[-1]
    assert json.loads(req.body) == [json.loads(e.to_json()) for e in events]
    assert req.headers["X-Siemrelay-Signature"] == "sha256=" + hmac.new(b"s3cret-key", req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Siemrelay-Timestamp"] == "1736951400"
    assert req.headers["Authorization"] == "Bearer abc123" and req.headers["X-Team"] == "soc"
    assert req.headers["Content-Type"] == "application/json" and req.headers["User-Agent"].startswith("siemrelay/")


def test_ndjson_hec_envelope(srv: HttpCapture) -> None:
    sink = make_sink(WebhookSink, {"url": srv.url, "format": "ndjson", "envelope": "hec", "host": "relay",
                                   "sourcetype": "zeropath:finding"})
    e = make_event()
    try:
        assert sink.send(spooled([e])).ok
    finally:
        sink.close()
    req = srv.requests[-1]
    assert req.headers["Content-Type"] == "application/x-ndjson"
    assert req.body == (b'{"time":1736951400.000,"host":"relay","source":"siemrelay","sourcetype":"zeropath:finding","event":'
                        + e.to_json() + b"}\n")


def test_object_format_forces_single_event_batches() -> None:
    assert sink_config(WebhookSink, {"url": "https://x.example/h", "format": "object"})["batch"]["max_events"] == 1


def test_outcomes_and_redaction(srv: HttpCapture) -> None:
    sink = make_sink(WebhookSink, {"url": srv.url + "/hook?key=SECRETQ", "headers": {"X-Api-Key": "k-123456"}})
    try:
        srv.script.append((503, {"Retry-After": "12"}, b"busy"))
        busy = sink.send(spooled([make_event()]))
        assert busy.status is Status.RETRY and busy.retry_after == 12
        srv.script.append((422, {}, b"bad payload k-123456"))
        bad = sink.send(spooled([make_event()]))
        assert bad.status is Status.REJECT and "k-123456" not in bad.reason
    finally:
        sink.close()
    assert "url" in WebhookSink.SECRET_KEYS and "secret" in WebhookSink.SECRET_KEYS


def test_reasons_never_carry_url_credentials(srv: HttpCapture) -> None:
    """A peer (or an exception) quoting the URL must not put its user:password into a reason."""
    url = srv.url.replace("http://", "http://bob:hunter2pw@") + "/hook"
    sink = make_sink(WebhookSink, {"url": url})  # identity redactor: the sink's own cleaning is tested
    try:
        srv.script.append((422, {}, f"rejected {url} and http://eve:s3cretpw@other.example/x".encode()))
        bad = sink.send(spooled([make_event()]))
    finally:
        sink.close()
    assert bad.status is Status.REJECT and "rejected" in bad.reason
    assert "hunter2pw" not in bad.reason and "s3cretpw" not in bad.reason and "bob" not in bad.reason
    assert "***@127.0.0.1" in bad.reason


def test_ocsf_schema(srv: HttpCapture) -> None:
    sink = make_sink(WebhookSink, {"url": srv.url, "format": "object", "schema": "ocsf"})
    try:
        assert sink.send(spooled([make_event()])).ok
    finally:
        sink.close()
    doc = json.loads(srv.requests[-1].body)
    assert "class_uid" in doc and "metadata" in doc
