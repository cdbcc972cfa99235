"""Intake with compiled rules: one stored row per variant, each sink's mask on the right row."""

from __future__ import annotations

import textwrap
from typing import Any, Iterator

import orjson
import pytest
from loguru import logger

from agent.config.loader import load_yaml_text
from agent.errors import Problem
from agent.engine.intake import Intake
from agent.routing.router import Router, compile_routes
from agent.config.schema import ROUTE_SCHEMA, validate_section, with_nested_defaults
from agent.sdk.source import SubmitStatus
from agent.spool.store import Spool
from agent.testing import make_record
from plugins.dec_json.decoder import JsonDecoder


def rules(text: str) -> Router:
    data, smap = load_yaml_text(textwrap.dedent(text), "rules.yaml")
    problems: list[Problem] = []
    docs = [validate_section(r, with_nested_defaults(ROUTE_SCHEMA), smap, ("routes", i), problems)
            for i, r in enumerate(data["routes"])]
    router = compile_routes([d for d in docs if d is not None], {"siem", "slack", "archive"}, smap, problems)
    assert not problems, problems
    return router


RULES = """
routes:
  - name: slack-without-raw
    when: {severity: ">= high"}
    to: [slack]
    transforms: [{redact: [raw]}, {tag: paged}]
    continue: true
  - name: siem-gets-everything
    to: [siem]
  - name: default
    to: [archive]
"""


@pytest.fixture
def spool(tmp_path: Any) -> Iterator[Spool]:
    s = Spool(tmp_path, max_bytes=1 << 20, sync="normal")
    s.open(["siem", "slack", "archive"])
    yield s
    s.close()


def queued(spool: Spool, sink: str) -> list[tuple[int, dict[str, Any]]]:
    reader = spool.reader()
    try:
        batch, _ = reader.read(sink, 0, 1000, 1 << 30)
        return [(e.seq, orjson.loads(e.data)) for e in batch]
    finally:
        reader.close()


def native(i: str, severity: str) -> dict[str, Any]:
    return {"id": i, "time": "2025-01-01T00:00:00Z", "received_at": "2025-01-01T00:00:00Z", "source": "zeropath",
            "type": "finding.new", "severity": severity, "severity_id": {"high": 4, "low": 2}[severity],
            "raw": {"secret": i}}


def submit(intake: Intake, *events: dict[str, Any]) -> Any:
    return intake.submit([make_record(orjson.dumps(list(events)), JsonDecoder({}))])


def test_a_transformed_route_gets_its_own_row_and_the_others_share_the_original(spool: Spool) -> None:
    intake = Intake(spool, rules(RULES), logger)
    res = submit(intake, native("hi", "high"), native("lo", "low"))
    assert res.status is SubmitStatus.ACCEPTED and res.events == 2
    siem, slack = queued(spool, "siem"), queued(spool, "slack")
    assert [e["id"] for _, e in siem] == ["hi", "lo"]
    assert [e["id"] for _, e in slack] == ["hi"]
    assert siem[0][1]["raw"] == {"secret": "hi"} and siem[0][1]["tags"] == []
    assert slack[0][1]["raw"] is None and slack[0][1]["tags"] == ["paged"]
    assert siem[0][0] != slack[0][0]  # two variants: two rows, one per variant
    assert queued(spool, "archive") == []


def test_untransformed_fan_out_is_stored_once(spool: Spool) -> None:
    intake = Intake(spool, rules("""
        routes:
          - name: both
            to: [siem, slack]
    """), logger)
    submit(intake, native("a", "low"))
    (s1, _), = queued(spool, "siem")
    (s2, _), = queued(spool, "slack")
    assert s1 == s2  # the same row, with both sinks' bits


def test_dropped_and_unrouted_events_are_counted_apart(spool: Spool) -> None:
    intake = Intake(spool, rules("""
        routes:
          - name: quiet
            when: {severity: low}
            to: [slack]
            transforms: [{drop: true}]
          - name: high
            when: {severity: high}
            to: [siem]
    """), logger)
    res = submit(intake, native("a", "low"), native("b", "high"), {**native("c", "low"), "severity": "info", "severity_id": 1})
    assert res.status is SubmitStatus.ACCEPTED and res.events == 1
    counts = intake.stats.by_input["test"]
    assert (counts["events"], counts["dropped"], counts["unrouted"]) == (1, 1, 1)


def test_set_router_applies_to_the_next_batch(spool: Spool) -> None:
    intake = Intake(spool, rules("routes:\n  - name: a\n    to: [siem]\n"), logger)
    submit(intake, native("1", "low"))
    intake.set_router(rules("routes:\n  - name: b\n    to: [archive]\n"))
    submit(intake, native("2", "low"))
    assert [e["id"] for _, e in queued(spool, "siem")] == ["1"]
    assert [e["id"] for _, e in queued(spool, "archive")] == ["2"]


def test_per_route_counts_follow_the_plan_of_each_event_in_a_mixed_batch(spool: Spool) -> None:
    """Runs of one plan are counted together; a batch that switches plans back and forth
    still adds every event to the routes it matched and was queued by."""
    intake = Intake(spool, rules(RULES), logger)
    levels = ["high", "low", "low", "high", "high", "low"]
    res = submit(intake, *(native(str(i), level) for i, level in enumerate(levels)))
    assert res.status is SubmitStatus.ACCEPTED and res.events == 6
    routes = intake.stats.routes
    assert routes["slack-without-raw"] == {"matched": 3, "queued": 3}
    assert routes["siem-gets-everything"] == {"matched": 6, "queued": 6}
    assert "default" not in routes
    assert [e["id"] for _, e in queued(spool, "siem")] == [str(i) for i in range(6)]
    assert [e["id"] for _, e in queued(spool, "slack")] == ["0", "3", "4"]
