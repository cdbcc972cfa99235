"""Options of the nats source."""

from __future__ import annotations

from typing import Any

import cerberus
import pytest

from agent.config.schema import compose_source_schema
from plugins.in_nats.config import CONFIG_SCHEMA, check_config
from agent.sdk.nats_options import stream_config


def validated(**doc: Any) -> dict[str, Any]:
    v = cerberus.Validator(compose_source_schema(CONFIG_SCHEMA), allow_unknown=False)
    assert v.validate({"type": "nats", **doc}), v.errors
    return dict(v.document)


def test_defaults_share_one_durable_and_bound_work_in_flight() -> None:
    cfg = validated(stream="EVENTS")
    assert cfg["durable"] == "siemrelay" and cfg["decoder"] == "json" and cfg["dedup"] is True
    assert cfg["max_ack_pending"] == 1024 and cfg["ack_wait_s"] == 30.0 and cfg["max_deliver"] == -1
    assert check_config(cfg) == []


def test_stream_is_required_and_names_are_checked() -> None:
    v = cerberus.Validator(compose_source_schema(CONFIG_SCHEMA), allow_unknown=False)
    assert not v.validate({"type": "nats"}) and "stream" in v.errors
    assert not v.validate({"type": "nats", "stream": "EV.ENTS"}) and "stream" in v.errors
    assert not v.validate({"type": "nats", "stream": "EVENTS", "durable": "a b"}) and "durable" in v.errors


def test_a_submit_that_can_outlast_ack_wait_is_refused() -> None:
    problems = check_config(validated(stream="EVENTS", ack_wait_s=2, submit_timeout_s=2))
    assert any("ack_wait_s" in p for p in problems)
    assert check_config(validated(stream="EVENTS", ack_wait_s=5, submit_timeout_s=2, fetch_wait_s=1)) == []


def test_create_stream_needs_subjects() -> None:
    assert any("subjects" in p for p in check_config(validated(stream="EVENTS", create_stream={})))
    assert check_config(validated(stream="EVENTS", subject="siem.>", create_stream={})) == []


@pytest.mark.parametrize("max_age, expected", [(0, 120.0), (60, 60.0), (3600, 120.0)])
def test_the_duplicate_window_never_exceeds_max_age(max_age: float, expected: float) -> None:
    cfg = validated(stream="EVENTS", create_stream={"subjects": ["siem.>"], "max_age_s": max_age})
    assert stream_config("EVENTS", cfg["create_stream"]).duplicate_window == expected
