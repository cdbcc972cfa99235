"""Slack Block Kit payloads, checked with the official slack_sdk block models; send outcomes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from slack_sdk.models.blocks import Block

from agent.sdk.outcome import Status
from agent.testing import make_event, spooled
from plugins.out_slack.encoder import encode, escape_mrkdwn
from plugins.out_slack.sink import SlackSink
from tests.conftest import pick_port
from tests.peers.http_capture import HttpCapture
from tests.peers.sink_factory import make_sink, sink_config


def validate(payload: dict[str, Any]) -> list[Any]:
    """Every block must load into slack_sdk's models and pass their validation."""
    assert isinstance(payload["text"], str) and payload["text"]
    assert len(payload["blocks"]) <= 50
    blocks = [Block.parse(b) for b in payload["blocks"]]
    for block in blocks:
        assert block is not None
        block.validate_json()
    return blocks


def test_escape() -> None:
    assert escape_mrkdwn("a & <b> c") == "a &amp; &lt;b&gt; c"


def test_single_event_message() -> None:
    e = make_event(title="SQL injection", description="x < y & z > w", severity="critical",
                   asset={"name": "shop"}, links={"vendor": "https://vendor.example/f/1"})
    payload = encode([e.to_dict()])
    blocks = validate(payload)
    types = [b["type"] for b in payload["blocks"]]
    assert types == ["header", "section", "section", "actions", "context"]
    assert payload["blocks"][0]["text"]["text"] == "🔴 SQL injection"
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert fields == ["*Severity*\nCritical (95)", "*Type*\nfinding.new", "*Source*\ntest", "*Asset*\nshop"]
    assert payload["blocks"][2]["text"]["text"] == "x &lt; y &amp; z &gt; w"
    assert payload["blocks"][3]["elements"][0]["url"] == "https://vendor.example/f/1"
    context = payload["blocks"][4]["elements"][0]["text"]
    # Slack shows {time} in the reader's time zone: no "UTC" label on it; the fallback is the ISO time
    assert context.startswith("<!date^1736951400^{date_short_pretty} {time}|2025-01-15T14:30:00")
    assert "UTC" not in context
    assert payload["text"] == "[CRITICAL] SQL injection (test)"
    assert len(blocks) == 5


def test_limits_are_enforced_by_truncating() -> None:
    e = make_event(title="T" * 500, description="&" * 5000, repository={"name": "r" * 3000},
                   finding={"cve": ["CVE-2024-0001"] * 500})
    payload = encode([e.to_dict()])
    validate(payload)
    assert len(payload["blocks"][0]["text"]["text"]) == 150
    text = payload["blocks"][2]["text"]["text"]
    assert len(text) <= 3000 and text.endswith("&amp;…")
    assert all(len(f["text"]) <= 2000 for f in payload["blocks"][1]["fields"])


def test_repository_when_no_asset() -> None:
    payload = encode([make_event(repository={"name": "org/app"}).to_dict()])
    assert payload["blocks"][1]["fields"][3]["text"] == "*Repository*\norg/app"


def test_digest_summarises_and_lists_the_top_ones() -> None:
    sev = ["critical"] * 2 + ["high"] * 5 + ["medium"] * 4 + ["low"] * 3
    docs = [make_event(severity=s, title=f"{s} <{i}>", links={"vendor": f"https://v/{i}|x"}).to_dict() for i, s in enumerate(sev)]
    payload = encode(docs, max_items=5)
    validate(payload)
    assert payload["blocks"][0]["text"]["text"] == "14 new findings: 2 critical, 5 high, 4 medium, 3 low"
    items = [b["text"]["text"] for b in payload["blocks"][1:-1]]
    assert len(items) == 5 and items[0].startswith("🔴 *Critical* <https://v/0%7Cx|critical &lt;0&gt;>")
    assert "…and 9 more" in payload["blocks"][-1]["elements"][0]["text"]


def test_digest_of_200_events_stays_under_50_blocks() -> None:
    payload = encode([make_event().to_dict() for _ in range(200)], max_items=40)
    validate(payload)


def test_digest_window_drives_the_batch() -> None:
    assert sink_config(SlackSink, {"url": "https://hooks.slack.com/services/T/B/X"})["batch"]["max_events"] == 1
    doc = sink_config(SlackSink, {"url": "https://hooks.slack.com/services/T/B/X", "digest": {"window_s": 300}})
    assert doc["batch"]["max_wait_s"] == 300 and doc["batch"]["max_events"] == 1000
    assert (doc["rate_limit"]["per_second"], doc["rate_limit"]["burst"]) == (1, 1)
    explicit = sink_config(SlackSink, {"url": "https://hooks.slack.com/services/T/B/X", "digest": {"window_s": 300},
                                       "batch": {"max_wait_s": 5}})
    assert explicit["batch"]["max_wait_s"] == 5


@pytest.fixture
def capture() -> Any:
    with HttpCapture(pick_port()) as srv:
        yield srv


def test_send_posts_json_and_maps_statuses(capture: HttpCapture) -> None:
    url = capture.url + "/services/T000/B000/SECRETKEY"
    sink = make_sink(SlackSink, {"url": url})
    try:
        assert sink.send(spooled([make_event()])).ok
        sent = orjson.loads(capture.requests[-1].body)
        validate(sent)
        capture.script.append((429, {"Retry-After": "30"}, b"rate_limited"))
        slow = sink.send(spooled([make_event()]))
        assert slow.status is Status.RETRY and slow.retry_after == 30
        capture.script.append((400, {}, b"invalid_blocks"))
        assert sink.send(spooled([make_event()])).status is Status.REJECT
        capture.script.append((404, {}, b"no_service"))
        gone = sink.send(spooled([make_event()]))
        assert gone.status is Status.REJECT and gone.open_circuit and "SECRETKEY" not in gone.reason
    finally:
        sink.close()


def test_connection_errors_never_show_the_webhook_key() -> None:
    sink = make_sink(SlackSink, {"url": f"http://127.0.0.1:{pick_port()}/services/T000/B000/SECRETKEY"})
    try:
        outcome = sink.send(spooled([make_event()]))
    finally:
        sink.close()
    assert outcome.status is Status.RETRY and "SECRETKEY" not in outcome.reason and "T000" not in outcome.reason
