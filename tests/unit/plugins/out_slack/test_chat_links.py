"""Chat buttons open only links.*: a Detectify finding's target URL (the vulnerable page,
maybe with the injected payload) is never a button, in Slack or in Teams."""

from __future__ import annotations

from pathlib import Path

import orjson

from agent.testing import make_record
from plugins.dec_detectify.decoder import DetectifyDecoder
from plugins.out_slack.encoder import event_message
from plugins.out_teams.encoder import event_card

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "vendors" / "detectify" / "finding.json"
TARGET = "https://app.example.com/api/users?id=1"


def test_detectify_target_url_is_no_button() -> None:
    dec = DetectifyDecoder({})
    [event] = dec.decode(make_record(FIXTURE.read_bytes(), dec))
    doc = event.to_dict()
    assert event.links is None and event.finding is not None and event.finding["url"] == TARGET
    slack = orjson.dumps(event_message(doc)).decode()
    assert "\"type\":\"button\"" not in slack
    assert '"url":"' + TARGET not in slack
    teams = orjson.dumps(event_card(doc)).decode()
    assert "Action.OpenUrl" not in teams


def test_a_vendor_link_is_the_button() -> None:
    dec = DetectifyDecoder({})
    [event] = dec.decode(make_record(FIXTURE.read_bytes(), dec))
    doc = {**event.to_dict(), "links": {"vendor": "https://detectify.com/finding/abc"}}
    assert '"url":"https://detectify.com/finding/abc"' in orjson.dumps(event_message(doc)).decode()
    assert "Action.OpenUrl" in orjson.dumps(event_card(doc)).decode()
