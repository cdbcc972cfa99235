"""A Splunk HEC busy outage, driven the way the audit drove it: the agent as a process,
events POSTed to its HTTP listener at a steady rate, the strict HEC receiver answering
``503 {"code": 9, "text": "Server is busy"}`` for a while, then recovering.

Every event posted must be indexed exactly once after recovery, nothing may be in dead
letters, and the circuit must have opened meanwhile (the audit found 5% of the events
dead-lettered, the circuit never opening and the queue never draining).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest
import requests

from tests.conftest import pick_port, run_cli, wait_for, wait_for_port
from tests.peers.hec_receiver import HecReceiver

pytestmark = pytest.mark.e2e

RATE = 100          # events per second posted to the agent
SECONDS = 4.0       # how long they are posted
OUTAGE = (0.5, 2.5)  # seconds after the start during which HEC answers "busy"


def write_config(tmp_path: Path, listen: int, hec_url: str) -> Path:
    path = tmp_path / "siemrelay.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 3
  spool: {{sync: normal}}
sources:
  web:
    type: http
    address: "127.0.0.1:{listen}"
sinks:
  splunk:
    type: splunk_hec
    url: "{hec_url}"
    token: good-token
    healthcheck_on_start: false
    batch: {{max_events: 200, max_wait_s: 0.05}}
    retry: {{jitter: none, initial_backoff_s: 0.1, multiplier: 2, max_backoff_s: 0.4, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 3, cooldown_s: 0.5}}
routes:
  - name: default
    to: [splunk]
""")
    return path


def native(i: int) -> dict[str, str]:
    return {"id": f"ev-{i:05d}", "time": "2025-01-15T14:30:00Z", "received_at": "2025-01-15T14:30:00Z",
            "source": "test", "type": "finding.new", "severity": "high", "title": f"finding {i}"}


def feed(port: int, posted: list[str]) -> None:
    """POST ``RATE`` events a second for ``SECONDS``, ten at a time, on a fixed schedule."""
    per_post = 10
    start = time.monotonic()
    i = 0
    with requests.Session() as s:
        while i < RATE * SECONDS:
            due = start + i / RATE
            time.sleep(max(0.0, due - time.monotonic()))
            batch = [native(n) for n in range(i, i + per_post)]
            r = s.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(batch),
                       headers={"Content-Type": "application/json"}, timeout=10)
            assert r.status_code == 200, r.text
            posted.extend(e["id"] for e in batch)
            i += per_post


def test_a_busy_outage_delivers_every_event_once_after_recovery(tmp_path: Path, agent_process) -> None:
    listen = pick_port()
    with HecReceiver(pick_port()) as hec:
        cfg = write_config(tmp_path, listen, hec.url)
        agent = agent_process(cfg)
        wait_for_port(listen)
        posted: list[str] = []
        feeder = threading.Thread(target=feed, args=(listen, posted))
        feeder.start()
        time.sleep(OUTAGE[0])
        hec.outage = (9, {})
        time.sleep(OUTAGE[1] - OUTAGE[0])
        busy_answers = sum(1 for r in hec.requests if r.answer.get("code") == 9)
        hec.outage = None
        feeder.join(SECONDS + 10)
        assert not feeder.is_alive() and len(posted) == RATE * SECONDS  # the listener accepted every post
        hec.wait_indexed(len(posted), timeout=30)
        indexed = [e["event"]["id"] for e in hec.indexed]
        dead = orjson.loads(run_cli("dlq", "list", "-c", str(cfg), "--json").stdout)
        log = agent.log
    assert busy_answers >= 3, "the outage never reached the sink"
    assert dead == []
    assert sorted(indexed) == sorted(posted) and len(indexed) == len(set(indexed)) == RATE * SECONDS
    assert indexed == posted  # and in order
    assert "circuit open" in log
