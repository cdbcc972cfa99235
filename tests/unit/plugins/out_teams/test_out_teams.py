"""Teams Adaptive Cards, validated against the official Adaptive Card 1.5 JSON schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from agent.delivery import Status
from agent.testing import make_event, spooled
from plugins.out_teams.encoder import MAX_BYTES, encode
from plugins.out_teams.sink import TeamsSink
from tests.conftest import pick_port
from tests.peers.http_capture import HttpCapture
from tests.peers.sink_factory import make_sink, sink_config

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "fixtures" / "adaptivecards" / "adaptive-card-1.5.json").read_text())
VALIDATOR = jsonschema.Draft6Validator(SCHEMA)


def card_of(body: bytes) -> dict[str, Any]:
    message = orjson.loads(body)
    assert message["type"] == "message" and len(message["attachments"]) == 1
    attachment = message["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    errors = sorted(VALIDATOR.iter_errors(card), key=str)
    assert not errors, errors[0]
    assert float(card["version"]) >= 1.4
    return card


def test_the_validator_rejects_a_bad_card() -> None:
    bad = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "x", "color": "Red"}]}
    assert list(VALIDATOR.iter_errors(bad))


def test_single_event_card() -> None:
    e = make_event(title="RCE", description="details", severity="critical", asset={"name": "api"},
                   links={"vendor": "https://vendor.example/f/9"}, finding={"id": "F9", "cve": ["CVE-2024-1"]})
    card = card_of(encode([e.to_dict()]))
    title, facts, desc = card["body"][:3]
    assert title["text"] == "🔴 RCE" and title["color"] == "Attention" and title["weight"] == "Bolder"
    got = {f["title"]: f["value"] for f in facts["facts"]}
    assert got["Severity"] == "Critical (95)" and got["Asset"] == "api" and got["CVE"] == "CVE-2024-1"
    assert desc["text"] == "details"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in test", "url": "https://vendor.example/f/9"}]


@pytest.mark.parametrize("severity,color", [("high", "Attention"), ("medium", "Warning"), ("low", "Accent"), ("info", "Good")])
def test_title_colour_follows_severity(severity: str, color: str) -> None:
    assert card_of(encode([make_event(severity=severity).to_dict()]))["body"][0]["color"] == color


def test_huge_event_is_cut_under_28_kb_with_an_ellipsis() -> None:
    body = encode([make_event(description="é" * 60000, title="t" * 2000).to_dict()])
    assert len(body) <= MAX_BYTES
    card = card_of(body)
    assert card["body"][2]["text"].endswith("…")


def test_digest_card() -> None:
    docs = [make_event(severity=s, links={"vendor": "https://v/x"}).to_dict() for s in ["low", "critical", "high", "high"]]
    card = card_of(encode(docs, max_items=2))
    assert card["body"][0]["text"] == "4 new findings: 1 critical, 2 high, 1 low"
    assert card["body"][1]["text"].startswith("🔴 **Critical** [")
    assert card["body"][-1]["text"].startswith("…and 2 more")


def test_large_digest_fits() -> None:
    docs = [make_event(title="x" * 400, description="y" * 5000).to_dict() for _ in range(500)]
    body = encode(docs, max_items=40)
    assert len(body) <= MAX_BYTES
    card_of(body)


def test_send_and_legacy_throttling_in_a_200() -> None:
    with HttpCapture(pick_port()) as srv:
        sink = make_sink(TeamsSink, {"url": srv.url + "/webhookb2/KEY"})
        try:
            assert sink.send(spooled([make_event()])).ok
            card_of(srv.requests[-1].body)
            srv.script.append((200, {}, b"Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429"))
            assert sink.send(spooled([make_event()])).status is Status.RETRY
            srv.script.append((202, {}, b""))
            assert sink.send(spooled([make_event()])).ok
            srv.script.append((410, {}, b"gone"))
            gone = sink.send(spooled([make_event()]))
            assert gone.open_circuit and "KEY" not in gone.reason
        finally:
            sink.close()


def test_digest_config() -> None:
    doc = sink_config(TeamsSink, {"url": "https://x.webhook.office.com/a", "digest": {"window_s": 60, "max_items": 5}})
    assert doc["batch"]["max_wait_s"] == 60 and doc["batch"]["max_events"] == 1000
