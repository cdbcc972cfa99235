"""Edge → JetStream → relay on one nats-server: the edge's spool bridges a NATS outage."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT, pick_port, received_ids, run_cli, wait_for, wait_for_port
from tests.peers.nats import NatsServer, js_run

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("example", ["nats-edge.yaml", "nats-relay.yaml"])
def test_example_configurations_validate(example: str) -> None:
    result = run_cli("validate", "-c", str(ROOT / "conf" / "examples" / example), env={"NATS_TOKEN": ""})
    assert result.returncode == 0, result.stdout + result.stderr


def test_events_accepted_while_nats_is_down_are_delivered_once_it_is_up(tmp_path: Path, agent_process: Any) -> None:
    nats_port, http_port = pick_port(), pick_port()
    url = f"nats://127.0.0.1:{nats_port}"
    (tmp_path / "edge.yaml").write_text(f"""
agent: {{state_dir: {tmp_path}/edge}}
sources:
  web: {{type: http, address: "127.0.0.1:{http_port}"}}
sinks:
  js:
    type: nats
    url: {url}
    subject: "siem.events.{{{{ severity }}}}"
    stream: EVENTS
    create_stream: {{subjects: ["siem.events.>"]}}
    connect_timeout_s: 0.5
    retry: {{initial_backoff_s: 0.2, max_backoff_s: 1}}
    circuit_breaker: {{cooldown_s: 1}}
routes: [{{name: default, to: [js]}}]
""")
    (tmp_path / "relay.yaml").write_text(f"""
agent: {{state_dir: {tmp_path}/relay}}
sources:
  js: {{type: nats, url: {url}, stream: EVENTS, subject: "siem.events.high", fetch_wait_s: 0.3, connect_timeout_s: 0.5}}
sinks:
  out: {{type: file, path: {tmp_path}/out.jsonl, batch: {{max_wait_s: 0.05}}}}
routes: [{{name: default, to: [out]}}]
""")
    edge = agent_process(tmp_path / "edge.yaml")
    relay = agent_process(tmp_path / "relay.yaml")
    wait_for_port(http_port, timeout=20)
    events = [{"id": f"down-{i}", "title": "t", "severity": "high" if i % 4 else "low", "source": "scanner"}
              for i in range(200)]
    resp = requests.post(f"http://127.0.0.1:{http_port}/events", data="\n".join(json.dumps(e) for e in events), timeout=10)
    assert resp.status_code == 200 and resp.json()["accepted"] == 200  # spooled at the edge, NATS is down
    wait_for(lambda: "cannot connect" in edge.log and "cannot connect" in relay.log, timeout=20, what="both noticing")
    server = NatsServer(tmp_path / "nats", port=nats_port).start()
    try:
        out = tmp_path / "out.jsonl"
        wanted = {e["id"] for e in events if e["severity"] == "high"}  # the relay filters on the subject
        wait_for(lambda: set(received_ids(out)) == wanted,
                 timeout=60, what="the 150 high events at the relay")

        async def count(js: Any, nc: Any) -> int:
            return (await js.stream_info("EVENTS")).state.messages

        assert js_run(server.url, count) == 200
        assert edge.stop(signal.SIGTERM) == 0 and relay.stop(signal.SIGTERM) == 0
    finally:
        server.stop()
