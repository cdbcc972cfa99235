"""The decoders' native shortcut end to end: the same events reach the same sinks as through Events.

Where the routes read only features and transform nothing, the json and syslog decoders
hand the intake each event's native dict and the router decides from it
(``Decoder.decode_native``, ``Router.plan_native``; docs/hot-path.md section 19). Two real
agents read the same input through their preparing child: one with feature rules (the
shortcut), one with the same rules after a route whose title regex never matches, which
keeps the whole configuration on the Event path. Every sink's file must hold the same
events in the same order, byte for byte once the receiving time is set aside; the record
that is not JSON is dead-lettered by both.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import json_lines, run_cli, wait_for

pytestmark = pytest.mark.e2e

RULES = """\
          - {name: urgent, when: {severity: ">= high"}, to: [chat], continue: true}
          - {name: cloud, when: {source: [aws, gcp], score: {">=": 50}}, to: [siem, chat]}
          - {name: repos, when: {repository: "backend-*"}, to: [chat]}
          - {name: default, to: [siem]}
"""
#: a route no event matches, whose title regex makes the router need Events for everything
EVENT_PATH = """\
          - {name: never, when: {title: {regex: "^\\\\A never matches \\\\Z$"}}, to: [siem]}
"""


def _lines() -> list[str]:
    sources = ["aws", "gcp", "acme", "json"]
    severities = ["info", "low", "medium", "high", "critical", 9.8, "82", None]
    out = []
    for i in range(400):
        event: dict[str, Any] = {"id": f"ev-{i:04d}", "title": f"event {i}", "time": f"2026-12-08T00:00:{i % 60:02d}Z",
                                 "source": sources[i % 4], "severity": severities[i % len(severities)],
                                 "score": (i * 7) % 101, "repo": "backend-api" if i % 5 == 0 else "frontend"}
        out.append(json.dumps(event))
        if i % 97 == 0:
            out.append(json.dumps([{"id": f"arr-{i}-a", "severity": "high", "time": "2026-12-08T01:00:00Z"},
                                   {"id": f"arr-{i}-b", "time": 1765155600123}]))
        if i % 131 == 0:
            out.append("this line is not JSON")
    return out


def _config(tmp_path: Path, name: str, rules: str) -> Path:
    base = tmp_path / name
    base.mkdir()
    path = base / "siemrelay.yaml"
    path.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {base}/state
          intake: {{processes: 1, child_min_bytes: 0}}
        decoders:
          mapped: {{type: json, fields: {{repository.name: repo}}}}
        sources:
          events: {{type: file, paths: ["{tmp_path}/input.jsonl"], read_from: beginning, decoder: mapped, batch_lines: 64}}
        sinks:
          siem: {{type: file, path: "{base}/siem.jsonl"}}
          chat: {{type: file, path: "{base}/chat.jsonl"}}
        routes:
        """) + rules)
    return path


def _without_receiving_time(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "received_at"} for e in events]


def test_feature_rules_deliver_what_the_event_path_delivers(tmp_path: Path, agent_process: Any) -> None:
    lines = _lines()
    (tmp_path / "input.jsonl").write_text("\n".join(lines) + "\n")
    events = sum(2 if line.startswith("[") else 0 if not line.startswith("{") else 1 for line in lines)
    shortcut, by_events = _config(tmp_path, "shortcut", RULES), _config(tmp_path, "events", EVENT_PATH + RULES)
    agents = [agent_process(shortcut), agent_process(by_events)]
    at_siem = {d: tmp_path / d / "siem.jsonl" for d in ("shortcut", "events")}
    at_chat = {d: tmp_path / d / "chat.jsonl" for d in ("shortcut", "events")}
    # every event reaches siem or chat (or both); the run is over when each agent's queues are empty
    for d in ("shortcut", "events"):
        wait_for(lambda d=d: len({e["id"] for e in json_lines(at_siem[d]) + json_lines(at_chat[d])}) >= events, 60,
                 what=f"every event delivered by the {d} agent")
    for agent in agents:
        assert agent.stop() == 0
    for files in (at_siem, at_chat):
        got, want = json_lines(files["shortcut"]), json_lines(files["events"])
        assert got and _without_receiving_time(got) == _without_receiving_time(want)
    # the decisions themselves, each event at most once per sink
    chat_ids = [e["id"] for e in json_lines(at_chat["shortcut"])]
    siem_ids = [e["id"] for e in json_lines(at_siem["shortcut"])]
    assert len(chat_ids) == len(set(chat_ids)) and len(siem_ids) == len(set(siem_ids))
    assert "ev-0003" in chat_ids and "ev-0003" not in siem_ids  # high, json: urgent only (the default takes the rest)
    assert "ev-0012" in chat_ids and "ev-0012" in siem_ids  # critical, aws, score 84: urgent, then cloud
    for d in ("shortcut", "events"):
        dead = run_cli("dlq", "list", "-c", str(tmp_path / d / "siemrelay.yaml"), "--json")
        assert dead.returncode == 0, dead.stderr
        letters = json.loads(dead.stdout)
        assert len(letters) == len([line for line in lines if line.startswith("this")])
        assert all(letter["reason"].startswith("json: malformed JSON") and letter["input"] == "events" for letter in letters)
