"""Scale-out end to end: edge agent → 3-node JetStream cluster → pool of two relay agents → files.

Mid-stream, one relay is killed with SIGKILL and so is the NATS node that leads the
stream. Every event the edge accepted must reach a relay's file sink at least once.
The killed relay is restarted on its own state directory, as systemd would, so the
events it had spooled (and acknowledged to JetStream) are delivered too.
"""

from __future__ import annotations

import json
import time
import signal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import pick_port, wait_for, wait_for_port
from tests.peers.nats import NatsCluster, js_run, nats_cluster  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

BATCHES, PER_BATCH = 24, 50


def relay_config(tmp_path: Path, name: str, urls: list[str]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/{name}/state
  shutdown_timeout_s: 3
sources:
  jetstream:
    type: nats
    servers: {json.dumps(urls)}
    stream: EVENTS
    durable: relays
    fetch_batch: 64
    fetch_wait_s: 0.5
    ack_wait_s: 3
    submit_timeout_s: 1
    connect_timeout_s: 1
    reconnect_wait_s: 0.2
    create_stream:
      subjects: ["siem.events.>"]
      replicas: 3
      duplicate_window_s: 120
sinks:
  archive:
    type: file
    path: {tmp_path}/{name}/out.jsonl
    batch: {{max_wait_s: 0.05}}
routes:
  - name: default
    to: [archive]
""", encoding="utf-8")
    return path


def edge_config(tmp_path: Path, port: int, urls: list[str]) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(f"""
agent:
  state_dir: {tmp_path}/edge/state
  shutdown_timeout_s: 3
sources:
  web:
    type: http
    address: "127.0.0.1:{port}"
sinks:
  jetstream:
    type: nats
    servers: {json.dumps(urls)}
    subject: "siem.events.{{{{ source }}}}"
    stream: EVENTS
    connect_timeout_s: 1
    reconnect_wait_s: 0.2
    retry: {{initial_backoff_s: 0.2, max_backoff_s: 1, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 50, cooldown_s: 1}}
routes:
  - name: default
    to: [jetstream]
""", encoding="utf-8")
    return path


def ids_in(*files: Path) -> list[str]:
    out: list[str] = []
    for f in files:
        if f.exists():
            for line in f.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    try:
                        out.append(json.loads(line)["id"])
                    except ValueError:
                        pass  # a line being written right now
    return out


def stream_leader(cluster: NatsCluster) -> Any:
    alive = [n.url for n in cluster.nodes if n.alive]

    async def leader(js: Any, nc: Any) -> str:
        return (await js.stream_info("EVENTS")).cluster.leader

    name = js_run(alive, leader)
    return next(n for n in cluster.nodes if n.name == name)


def test_relay_and_nats_node_killed_mid_stream_lose_nothing(tmp_path: Path, nats_cluster: NatsCluster,
                                                            agent_process: Any) -> None:
    urls = nats_cluster.urls
    relay_a = agent_process(relay_config(tmp_path, "relay_a", urls))
    relay_b = agent_process(relay_config(tmp_path, "relay_b", urls))
    for r in (relay_a, relay_b):
        wait_for(lambda r=r: "consuming stream EVENTS" in r.log, timeout=30, what="relay bound to the consumer")
    port = pick_port()
    edge = agent_process(edge_config(tmp_path, port, urls))
    wait_for_port(port, timeout=20)

    out_a, out_b = tmp_path / "relay_a" / "out.jsonl", tmp_path / "relay_b" / "out.jsonl"
    sent: list[str] = []
    session = requests.Session()
    def send(b: int) -> None:
        batch = [{"id": f"evt-{b}-{i}", "title": f"finding {b}/{i}", "severity": "high", "source": "scanner"}
                 for i in range(PER_BATCH)]
        resp = session.post(f"http://127.0.0.1:{port}/events", data="\n".join(json.dumps(e) for e in batch), timeout=30)
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == PER_BATCH
        sent.extend(e["id"] for e in batch)

    b = 0
    # Both relays must be working on the stream before anything is killed. Which relay's
    # pull wins a message is up to the server, so keep the stream fed (bounded) until
    # each relay has delivered something.
    deadline = time.monotonic() + 60
    while b < BATCHES // 3 or not (ids_in(out_a) and ids_in(out_b)):
        assert time.monotonic() < deadline, "timed out waiting for both relays to deliver"
        send(b)
        b += 1
        if b >= BATCHES // 3:
            time.sleep(0.2)
    relay_a.kill()  # SIGKILL: whatever it pulled and did not acknowledge is redelivered
    stream_leader(nats_cluster).kill()
    kill_index = len(sent)
    for b in range(b, b + BATCHES - BATCHES // 3):
        send(b)

    after_kill = set(sent[kill_index:])
    # Only relay_b runs now, so an event sent after the kills in its file proves it carried
    # on through the node's death; waiting for that (not for a share of all events, which
    # the events sent before the kills can make up) keeps the restarted relay_a from
    # taking the whole rest of the stream first on a slow machine.
    wait_for(lambda: after_kill & set(ids_in(out_b)), timeout=90, what="the surviving relay to take over")
    relay_a = agent_process(relay_config(tmp_path, "relay_a", urls))  # restarted on its own spool
    # relay_b may deliver the rest alone: wait until the restarted relay has started (its
    # signal handlers installed) so the SIGTERM below tests a drain, not an interrupted import
    wait_for(lambda: "siemrelay started" in relay_a.log, timeout=60, what="the restarted relay to start")
    wait_for(lambda: set(sent) <= set(ids_in(out_a, out_b)), timeout=90,
             what=f"all {len(sent)} events in the relays' files")

    delivered = ids_in(out_a, out_b)
    assert set(delivered) == set(sent)  # nothing lost, nothing invented
    for proc in (edge, relay_a, relay_b):
        assert proc.stop(signal.SIGTERM) == 0, proc.log[-3000:]

