"""The encoder is pure: these tests need no network and no running agent."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from agent.sdk import compose_sink_schema
from siemrelay_pagerduty.config import CONFIG_SCHEMA, DEFAULTS
from siemrelay_pagerduty.encoder import MAX_BODY_BYTES, dedup_key, encode_event, serialise

KEY = "A" * 32


@pytest.fixture
def options() -> dict[str, Any]:
    """The sink's options at their defaults, as siemrelay hands them to the sink."""
    import cerberus

    v = cerberus.Validator(compose_sink_schema(CONFIG_SCHEMA, DEFAULTS))
    assert v.validate({"type": "pagerduty", "routing_key": KEY}), v.errors
    return dict(v.document)


@pytest.mark.parametrize("severity, expected", [("critical", "critical"), ("high", "error"), ("medium", "warning"),
                                                ("low", "info"), ("info", "info"), ("unknown", "info")])
def test_severity_maps_to_pagerduty_names(event_factory, options, severity, expected) -> None:
    body = encode_event(event_factory(severity=severity), KEY, options)
    assert body["payload"]["severity"] == expected


def test_trigger_carries_the_event(event_factory, options) -> None:
    event = event_factory(severity="critical", title="SQL injection in /login", source="zeropath",
                          asset={"name": "shop.example.com", "type": "web"}, finding={"id": "F-42", "cwe": "CWE-89"},
                          links={"vendor": "https://app.zeropath.com/issues/F-42"})
    body = encode_event(event, KEY, options)
    assert body["routing_key"] == KEY
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "zeropath:F-42"
    assert body["payload"]["summary"] == "SQL injection in /login"
    assert body["payload"]["source"] == "shop.example.com"
    assert body["payload"]["timestamp"] == "2025-01-15T14:30:00Z"
    assert body["payload"]["class"] == "finding.new"
    assert body["payload"]["component"] == "web"
    assert body["payload"]["custom_details"]["finding"] == {"id": "F-42", "cwe": "CWE-89"}
    assert body["links"] == [{"href": "https://app.zeropath.com/issues/F-42", "text": "vendor"}]
    assert body["client_url"] == "https://app.zeropath.com/issues/F-42"


def test_resolved_finding_resolves_the_same_dedup_key(event_factory, options) -> None:
    opened = encode_event(event_factory(finding={"id": "F-7"}), KEY, options)
    closed = encode_event(event_factory(type="finding.resolved", finding={"id": "F-7"}), KEY, options)
    assert closed == {"routing_key": KEY, "event_action": "resolve", "dedup_key": opened["dedup_key"]}


def test_acknowledge_types(event_factory, options) -> None:
    options = {**options, "acknowledge_types": ["finding.verified"]}
    assert encode_event(event_factory(type="finding.verified"), KEY, options)["event_action"] == "acknowledge"


def test_dedup_key_falls_back_to_the_event_id_and_is_bounded(event_factory, options) -> None:
    assert dedup_key(event_factory(id="evt-x"), options) == "test:evt-x"
    long_key = dedup_key(event_factory(id="x" * 400), options)
    assert long_key.startswith("sha256:") and len(long_key) <= 255


def test_summary_is_cut_to_pagerdutys_limit(event_factory, options) -> None:
    body = encode_event(event_factory(title="t" * 5000), KEY, options)
    assert len(body["payload"]["summary"]) == 1024


def test_missing_title_and_asset_still_give_summary_and_source(event_factory, options) -> None:
    body = encode_event(event_factory(title="", source="detectify", type="scan.completed"), KEY, options)
    assert body["payload"]["summary"] == "detectify scan.completed"
    assert body["payload"]["source"] == "detectify"


def test_oversized_details_are_dropped_not_the_event(event_factory, options) -> None:
    options = {**options, "include_raw": True}
    body = encode_event(event_factory(raw={"blob": "x" * (MAX_BODY_BYTES + 10)}), KEY, options)
    data = serialise(body)
    assert len(data) <= MAX_BODY_BYTES
    assert "raw" not in orjson.loads(data)["payload"]["custom_details"]


def test_encoding_is_deterministic(event_factory, options) -> None:
    event = event_factory()
    assert serialise(encode_event(event, KEY, options)) == serialise(encode_event(event, KEY, options))
