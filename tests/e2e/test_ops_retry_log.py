"""A sink failing again and again through a real HTTP peer: the log stays readable.

The peer answers 503 for a while; the agent retries every 50 ms. The journal must get
one warning for the whole failure streak (a periodic summary comes after 60 s, tested
with an injected clock in tests/unit/agent/delivery/test_streak.py), not one per retry,
and one line when the sink delivers again that counts the failed attempts.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import pick_port, wait_for, wait_for_port
from tests.unit.agent.admin_support import Receiver

pytestmark = pytest.mark.e2e

READ = "retrylog-read-token-123456"


def _lines(log: str, sink: str) -> list[dict[str, Any]]:
    out = []
    for raw in log.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if line.get("name") == sink and line.get("component") == "sink":
            out.append(line)
    return out


def test_a_failure_streak_logs_one_warning_and_its_end(tmp_path: Path, agent_process: Any) -> None:
    receiver = Receiver(503)
    admin_port, hook_port = pick_port(), pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", read_token: "{READ}"}}
        sources:
          hooks: {{type: http, address: "127.0.0.1:{hook_port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          siem:
            type: webhook
            url: "http://127.0.0.1:{receiver.port}/siem"
            batch: {{max_wait_s: 0}}
            retry: {{max_attempts: unlimited, initial_backoff_s: 0.05, max_backoff_s: 0.05, jitter: none}}
            circuit_breaker: {{failure_threshold: 1000, cooldown_s: 1}}
        routes:
          - {{name: default, to: [siem]}}
        """))
    auth = {"Authorization": f"Bearer {READ}"}

    def failures() -> int:
        view = requests.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks/siem", headers=auth, timeout=10).json()
        return int(view["failures"])

    try:
        agent = agent_process(config)
        wait_for_port(admin_port, timeout=30)
        wait_for_port(hook_port, timeout=30)
        r = requests.post(f"http://127.0.0.1:{hook_port}/events", json={"id": "streak-1", "title": "t"}, timeout=10)
        assert r.status_code == 200
        wait_for(lambda: failures() >= 20, 20, what="20 failed attempts against the 503 peer")
        receiver.status = 200
        wait_for(lambda: receiver.bodies, 20, what="the event to be delivered once the peer is back")
        failed = failures()
        wait_for(lambda: any(ln["message"].startswith("sink siem delivers again") for ln in _lines(agent.log, "siem")), 10,
                 what="the end of the streak to be logged")
        assert agent.stop() == 0
    finally:
        receiver.close()

    lines = _lines(agent.log, "siem")
    warnings = [ln["message"] for ln in lines if ln["level"] == "warning"]
    assert len(warnings) == 1, warnings  # one for the streak, not one per retry
    assert warnings[0].startswith("sink siem: delivery of 1 events failed: the peer is unavailable (HTTP 503 Service "
                                  "Unavailable): no; attempt 1, retrying in 0.05 s")
    ends = [ln["message"] for ln in lines if ln["message"].startswith("sink siem delivers again")]
    assert len(ends) == 1 and ends[0].startswith(f"sink siem delivers again after {failed} failed attempts in ")
