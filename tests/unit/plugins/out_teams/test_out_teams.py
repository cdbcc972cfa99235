"""Teams Adaptive Cards, validated against the official Adaptive Card 1.5 JSON schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from agent.sdk.outcome import Status
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
    got = {f["title"]: rendered(f["value"])[0].strip() for f in facts["facts"]}  # Markdown-escaped, shown as typed
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


# ------------------------------------------------ Markdown from event data renders as typed

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402

#: CommonMark with auto-linking of bare URLs, fuzzy domains included: stricter than Teams
MARKDOWN = MarkdownIt("commonmark", {"linkify": True}).enable("linkify")
MARKDOWN.linkify.set({"fuzzy_link": True})

_HOSTILE = ["[click](http://evil)", "![img](http://evil/x.png)", "<a href='http://evil'>x</a>", "http://evil.example",
            "www.evil.example", "evil.example", "**bold**", "_it_", "# head", "> quote", "- item", "1. item",
            "    code", "`tick`", "[ref]: http://evil", "\\", "&amp;", "\n", "|a|b|", "~~s~~"]
hostile_text = st.lists(st.one_of(st.sampled_from(_HOSTILE), st.text(max_size=6)), max_size=6).map("".join)


def rendered(markdown: str) -> tuple[str, list[str]]:
    """What a Markdown renderer shows for ``markdown``: its text and the links it makes."""
    text, links = [], []

    def walk(tokens: Any) -> None:
        for token in tokens:
            if token.type in ("link_open", "image"):
                links.append(token.attrGet("href") or token.attrGet("src"))
            if token.type in ("text", "text_special", "code_inline", "code_block", "html_inline", "html_block"):
                text.append(token.content)
            if token.type in ("softbreak", "hardbreak", "paragraph_close"):
                text.append("\n")
            walk(token.children or [])

    walk(MARKDOWN.parse(markdown))
    return "".join(text), links


def _words(text: str) -> str:
    return " ".join(text.replace("\x00", "\ufffd").split())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=hostile_text, description=hostile_text, asset=hostile_text, finding=hostile_text)
def test_event_data_never_becomes_a_link_and_shows_as_typed(title: str, description: str, asset: str,
                                                             finding: str) -> None:
    event = make_event(title=title or "t", description=description, asset={"name": asset or "a"},
                       finding={"id": finding or "f"}, links={"vendor": "https://vendor.example/f/1"})
    card = card_of(encode([event.to_dict()]))
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    texts += [f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]]
    for markdown in texts:
        assert rendered(markdown)[1] == [], markdown  # the only link is the OpenUrl action
    shown = {_words(rendered(t)[0]) for t in texts}
    for value in (title or "t", description, asset or "a", finding or "f"):
        if _words(value):
            assert any(_words(value) in s for s in shown), value
    assert card["actions"][0]["url"] == "https://vendor.example/f/1"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(titles=st.lists(hostile_text, min_size=2, max_size=5), url_tail=hostile_text)
def test_digest_links_are_only_the_vendor_links(titles: list[str], url_tail: str) -> None:
    url = "https://vendor.example/f/" + "".join(c for c in url_tail if c.isprintable() and not c.isspace())
    docs = [make_event(title=t or "t", links={"vendor": url}).to_dict() for t in titles]
    card = card_of(encode(docs, max_items=10))
    for block in card["body"]:
        text, links = rendered(block["text"])
        assert all(link.startswith("https://vendor.example/f/") for link in links), links
        assert len(links) <= 1
    for block in card["body"][1:-1]:
        assert len(rendered(block["text"])[1]) == 1  # each listed event links to its vendor page


def test_a_hostile_title_reaches_the_webhook_as_text() -> None:
    """Through the sink and over HTTP: the posted card shows the Markdown literally."""
    event = make_event(title="[click](http://evil) ![img](http://evil/p.png)", description="see www.evil.example",
                       links={"vendor": "https://vendor.example/f/2"})
    with HttpCapture(pick_port()) as srv:
        sink = make_sink(TeamsSink, {"url": srv.url + "/webhookb2/KEY"})
        try:
            assert sink.send(spooled([event])).ok
            card = card_of(srv.requests[-1].body)
        finally:
            sink.close()
    title, description = card["body"][0]["text"], card["body"][2]["text"]
    assert rendered(title) == ("🟠 [click](http://evil) ![img](http://evil/p.png)\n", [])
    assert rendered(description) == ("see www.evil.example\n", [])
