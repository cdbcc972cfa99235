"""SIGHUP re-reads the rules under load: nothing lost or duplicated; a bad file keeps the old rules."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import json_lines, pick_port, wait_for, wait_for_port

pytestmark = pytest.mark.e2e

TEAM_V1 = """\
routes:
  - name: team
    when: {severity: critical}
    to: [slack]
    transforms: [{redact: [raw]}]
    continue: true
"""
TEAM_V2 = TEAM_V1.replace("severity: critical", "severity: low")
TEAM_BROKEN = TEAM_V1.replace("when: {severity: critical}", "when:\n      title: {regex: '(unclosed'}")
SIEM = "routes:\n  - name: siem-all\n    to: [siem]\n"


def _records(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return json_lines(path, rotated=True)


def test_sighup_swaps_rules_under_load(tmp_path: Path, agent_process) -> None:  # type: ignore[no-untyped-def]
    port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(f"""
agent: {{state_dir: {tmp_path}/state, shutdown_timeout_s: 5}}
sources:
  web: {{type: http, address: "127.0.0.1:{port}", paths: {{/events: {{decoder: json}}}}}}
sinks:
  siem: {{type: file, path: {tmp_path}/out/siem.jsonl}}
  slack: {{type: file, path: {tmp_path}/out/slack.jsonl}}
""")
    (tmp_path / "routes.d").mkdir()
    team = tmp_path / "routes.d" / "10-team.yaml"
    team.write_text(TEAM_V1)
    (tmp_path / "routes.d" / "90-siem.yaml").write_text(SIEM)
    agent = agent_process(config)
    wait_for_port(port)

    acked: dict[str, str] = {}
    stop = threading.Event()
    session = requests.Session()

    def post(eid: str, severity: str) -> None:
        r = session.post(f"http://127.0.0.1:{port}/events", timeout=5,
                         json={"id": eid, "type": "finding.new", "severity": severity, "raw_note": "keep"})
        if r.status_code == 200:
            acked[eid] = severity

    def sender() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                post(f"load-{n}", ("critical", "low")[n % 2])
            except requests.RequestException:
                time.sleep(0.01)

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        wait_for(lambda: len(acked) > 50, what="events before the reload")
        team.write_text(TEAM_V2)
        agent.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload done" in agent.log, what="the reload to finish")
        wait_for(lambda: len(acked) > 150, what="events after the reload")
    finally:
        stop.set()
        thread.join()
    post("after-low", "low")
    post("after-critical", "critical")

    team.write_text(TEAM_BROKEN)
    agent.send_signal(signal.SIGHUP)
    wait_for(lambda: "bad regex" in agent.log, what="the refused reload to be logged")
    assert f"{team}:4" in agent.log  # the error names the file and line
    post("still-v2-low", "low")
    post("still-v2-critical", "critical")
    assert agent.stop() == 0

    siem = [r["id"] for r in _records(tmp_path / "out" / "siem.jsonl")]
    slack = _records(tmp_path / "out" / "slack.jsonl")
    assert sorted(siem) == sorted(acked), "every acknowledged event reaches the SIEM exactly once"
    slack_ids = [r["id"] for r in slack]
    assert len(slack_ids) == len(set(slack_ids)), "no event is duplicated across the reload"
    # each event was routed by the old rules or the new ones, never by a mixture or neither:
    # the sender waits for each answer, so in sending order there is a cut before which
    # exactly the critical events went to slack, and after which exactly the low ones did
    load = sorted((i for i in acked if i.startswith("load-")), key=lambda i: int(i.split("-")[1]))
    routed = [i in set(slack_ids) for i in load]
    old_rules = [acked[i] == "critical" for i in load]
    new_rules = [acked[i] == "low" for i in load]
    cuts = [c for c in range(len(load) + 1)
            if routed[:c] == old_rules[:c] and routed[c:] == new_rules[c:]]
    assert cuts, f"no single switch-over explains which events went to slack: {list(zip(load, routed))}"
    assert {"after-low", "still-v2-low"} <= set(slack_ids)
    assert not {"after-critical", "still-v2-critical"} & set(slack_ids)
    assert any(acked[i] == "critical" for i in slack_ids) and any(acked[i] == "low" for i in slack_ids)
    # the transform applies to slack only
    assert all(r["raw"] is None for r in slack)
    assert all(r["raw"] is not None for r in _records(tmp_path / "out" / "siem.jsonl"))
