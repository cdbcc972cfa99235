"""The admin API against a real in-process agent: tokens, sinks, test events, circuits, dead letters, metrics."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Iterator

import orjson
import pytest
from loguru import logger

from tests.conftest import wait_for
from tests.unit.agent.admin_support import ADMIN, HMAC_SECRET, QUERY_SECRET, READ, LiveAgent, Receiver, agent_yaml


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(200)
    yield r
    r.close()


@pytest.fixture
def agent(tmp_path: Path, receiver: Receiver) -> Iterator[LiveAgent]:
    path = tmp_path / "siemrelay.yaml"
    path.write_text(agent_yaml(tmp_path, receiver.port))
    with LiveAgent(path) as live:
        yield live


GETS = ["/", "/health", "/ready", "/metrics", "/openapi.json", "/api/v1/status", "/api/v1/sinks", "/api/v1/sinks/archive",
        "/api/v1/sinks/archive/deliveries", "/api/v1/sources", "/api/v1/event-types", "/api/v1/dlq"]
POSTS = ["/api/v1/sinks/archive/test", "/api/v1/sinks/archive/enable", "/api/v1/dlq/replay"]


def test_every_endpoint_needs_a_token_and_mutations_need_the_admin_one(agent: LiveAgent):
    for path in GETS + POSTS:
        call = agent.get if path in GETS else agent.post
        missing = call(path, token=None)
        assert missing.status_code == 401, path
        assert missing.json()["error"] and "Basic" in missing.headers["WWW-Authenticate"]
        assert call(path, token="wrong-token-0123456789").status_code == 401, path
    for path in GETS:
        assert agent.get(path, token=READ).status_code == 200, path
    for path in POSTS:
        refused = agent.post(path, token=READ)
        assert refused.status_code == 403, path
        assert "admin token" in refused.json()["error"]
        assert agent.post(path, token=ADMIN).status_code == 200, path


def test_browsers_authenticate_with_basic_and_the_token_as_password(agent: LiveAgent):
    creds = base64.b64encode(f"anyone:{READ}".encode()).decode()
    r = __import__("requests").get(agent.url + "/", headers={"Authorization": f"Basic {creds}"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]


def test_sinks_list_and_detail_hide_secrets(agent: LiveAgent):
    sinks = agent.get("/api/v1/sinks").json()["sinks"]
    assert [s["name"] for s in sinks] == ["archive", "remote"]
    assert all(s["state"] == "ok" and s["circuit"] == "closed" for s in sinks)
    detail = agent.get("/api/v1/sinks/remote")
    text = detail.text
    assert detail.status_code == 200
    assert HMAC_SECRET not in text and QUERY_SECRET not in text
    assert detail.json()["config"]["hmac"]["secret"] == "***" and detail.json()["config"]["url"] == "***"
    assert agent.get("/api/v1/sinks/nope").status_code == 404


def test_send_test_goes_through_the_real_transport_and_is_in_the_history(agent: LiveAgent, receiver: Receiver):
    res = agent.post("/api/v1/sinks/remote/test").json()
    assert res["ok"] and res["status"] == "ok" and res["code"] == 200
    body = orjson.loads(receiver.bodies[-1])
    assert body[0]["id"] == res["event_id"] and body[0]["type"] == "agent.test"
    history = wait_for(lambda: agent.get("/api/v1/sinks/remote/deliveries").json()["deliveries"], what="history row")
    assert history[0]["event_ids"] == [res["event_id"]] and history[0]["success"] is True

    receiver.status = 500
    failed = agent.post("/api/v1/sinks/remote/test").json()
    assert failed["ok"] is False and failed["status"] == "retry" and failed["code"] == 500
    row = wait_for(lambda: [d for d in agent.get("/api/v1/sinks/remote/deliveries").json()["deliveries"]
                            if d["event_ids"] == [failed["event_id"]]], what="failed test in history")[0]
    assert row["success"] is False and "HTTP 500" in row["error"] and QUERY_SECRET not in row["error"]


def test_an_open_circuit_is_reported_and_reenabled(agent: LiveAgent, receiver: Receiver):
    receiver.status = 503
    agent.post_event(id="circ-1", title="circuit")
    view = wait_for(lambda: [s for s in agent.get("/api/v1/sinks").json()["sinks"]
                             if s["name"] == "remote" and s["state"] == "circuit_open"], what="open circuit")[0]
    assert view["queue_depth"] == 1 and "HTTP 503" in view["last_error"]
    ready = agent.get("/ready").json()
    assert ready["ready"] is True and ready["sinks"]["remote"] == "open"
    metrics = agent.get("/metrics").text
    assert 'siemrelay_sink_circuit_state{sink="remote",state="open"} 1.0' in metrics
    receiver.status = 200
    answer = agent.post("/api/v1/sinks/remote/enable").json()
    assert answer["sink"] == "remote" and answer["circuit"] != "open"  # the state after the re-enable, not before
    wait_for(lambda: any(b"circ-1" in b for b in receiver.bodies), what="delivery after re-enable")
    after = wait_for(lambda: [s for s in agent.get("/api/v1/sinks").json()["sinks"]
                              if s["name"] == "remote" and s["circuit"] == "closed" and s["queue_depth"] == 0], what="drained")
    assert after[0]["events_sent"] == 1


def test_dead_letters_are_listed_and_replayed(agent: LiveAgent, receiver: Receiver):
    receiver.status = 400
    agent.post_event(id="dead-1", title="poison for now")
    dead = wait_for(lambda: agent.get("/api/v1/dlq", params={"sink": "remote"}).json()["dead_letters"], what="dead letter")
    assert dead[0]["event_id"] == "dead-1" and "HTTP 400" in dead[0]["reason"]
    assert orjson.loads(dead[0]["data"])["id"] == "dead-1"
    assert agent.post("/api/v1/dlq/replay", json={"ids": [1], "sink": 7}).status_code == 400
    assert agent.post("/api/v1/dlq/replay", json={"sink": "nope"}).status_code == 404
    receiver.status = 200
    assert agent.post("/api/v1/dlq/replay", json={"sink": "remote"}).json() == {"replayed": 1}
    wait_for(lambda: any(b"dead-1" in b for b in receiver.bodies), what="replayed delivery")
    assert agent.get("/api/v1/dlq", params={"sink": "remote"}).json()["dead_letters"] == []
    assert agent.get("/api/v1/dlq", params={"limit": "0"}).status_code == 400


def test_metrics_count_events_in_and_out_and_latency(agent: LiveAgent, receiver: Receiver):
    for i in range(3):
        agent.post_event(id=f"m-{i}", title="metric")
    wait_for(lambda: sum(len(orjson.loads(b)) for b in receiver.bodies) >= 3, what="deliveries")
    # the worker counts a batch as sent before its acknowledgement's commit lands (it overlaps the
    # next send), so the queue depth reaches 0 a moment after events_out reaches 3: wait for both
    text = wait_for(lambda: (t := agent.get("/metrics").text) and 'siemrelay_sink_events_out_total{sink="remote"} 3.0' in t
                    and 'siemrelay_sink_queue_depth{sink="remote"} 0.0' in t and t, what="metrics")
    assert 'siemrelay_source_events_in_total{source="hooks"} 3.0' in text
    assert 'siemrelay_sink_delivery_latency_seconds_count{sink="remote"}' in text
    assert agent.get("/metrics").headers["Content-Type"].startswith("text/plain; version=0.0.4")


def test_event_types_come_from_the_normalisation_table(agent: LiveAgent):
    types = {t["type"]: t for t in agent.get("/api/v1/event-types").json()["event_types"]}
    assert "finding.new" in types and "scan.completed" in types
    assert "finding_added" in types["finding.new"]["vendor_types"]["pentest"]
    assert types["report.ready"]["description"]


def test_tokens_never_reach_the_log(agent: LiveAgent):
    out = io.StringIO()
    sink_id = logger.add(out, level="DEBUG", format="{message}")
    try:
        agent.get("/api/v1/sinks", token="some-wrong-token-value")
        agent.post("/api/v1/sinks/remote/test")
        agent.post("/api/v1/sinks/remote/enable")
    finally:
        logger.remove(sink_id)
    assert ADMIN not in out.getvalue() and "some-wrong-token-value" not in out.getvalue()
    assert "admin API: POST /api/v1/sinks/remote/enable" in out.getvalue()
