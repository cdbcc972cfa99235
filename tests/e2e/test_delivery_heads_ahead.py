"""Heads rendered ahead, end to end: what a real syslog-ng reads is what the sink renders from the stored event.

The agent prepares its batches in a child, which renders each event's RFC 5424 header
and structured data while it has time to spare (agent.sdk.heads); the syslog sink renders
the rest itself. A real syslog-ng parses every message, and its fields must be the ones
the event sent as MSG calls for, whichever process rendered them: the PRI from its
severity, the MSGID from its type, every SD-PARAM of the default ``sd_fields`` from its
field (values of every JSON type, including ones the child must decline). A reload that
changes the sink's settings while events stream never lets a head rendered for the old
settings out: once the first message with the new APP-NAME arrives, no message has the
old one. ``/metrics`` says how many heads came ahead, so the test also knows the child's
path was taken.
"""

from __future__ import annotations

import json
import signal
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from agent.sdk import field_text, lookup, pri
from plugins.out_syslog import encoder
from plugins.out_syslog.config import DEFAULT_SD_FIELDS
from agent.compiled import compiled_state
from tests.conftest import pick_port, spawned_children, wait_for, wait_for_port
from tests.peers.syslog_ng import SyslogNg, written_json_lines

pytestmark = pytest.mark.e2e

READ = "heads-read-token-123456"
SD_ID = "siemrelay@32473"
FIELD_VALUES: list[object] = [7, "F-7", 2.5, True, ["a", "b"], {"k": "v"}, "", None, 'q"]\\x']


@pytest.fixture
def parsed(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """syslog-ng reading RFC 5424 over TCP, writing what it parsed of each message as JSON."""
    port = pick_port()
    out = tmp_path / "parsed.jsonl"
    template = ("$(format-json --key .SDATA.* --pair pri=${PRI} --pair msgid=${MSGID} --pair app=${PROGRAM} "
                "--pair msg=${MESSAGE})\\n")
    body = (f'source s {{ syslog(ip("127.0.0.1") port({port}) transport("tcp")); }};\n'
            f'destination d {{ file("{out}" template("{template}")); }};\n'
            'log { source(s); destination(d); };\n')
    sng = SyslogNg(body, tmp_path / "syslog-ng", [("127.0.0.1", port)]).start()
    try:
        yield {"port": port, "out": out}
    finally:
        sng.stop()


def _config(tmp_path: Path, port: int, admin_port: int, app_name: str) -> str:
    return textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          intake: {{processes: 1, child_min_bytes: 0}}
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", read_token: "{READ}"}}
        sources:
          events:
            type: file
            paths: ["{tmp_path}/input.jsonl"]
            read_from: beginning
            batch_lines: 100
            decoder:
              type: json
              fields: {{asset.name: host, finding.id: fid, finding.category: cat, links.vendor: url, repository.name: repo}}
        sinks:
          collector:
            type: syslog
            address: "127.0.0.1:{port}"
            transport: tcp
            framing: octet
            app_name: {app_name}
            batch: {{max_events: 200, max_wait_s: 0.05}}
        routes:
          - {{name: main, to: [collector]}}
        """)


def _write(path: Path, first: int, count: int) -> None:
    with path.open("a", encoding="utf-8") as f:
        for i in range(first, first + count):
            line = {"id": f"ev-{i}", "title": f"event {i}", "severity": ["low", "high", "critical", "info"][i % 4],
                    "type": "finding.new" if i % 2 else "scan.completed", "host": f"web-{i % 7}",
                    "fid": FIELD_VALUES[i % len(FIELD_VALUES)], "cat": "xss" if i % 3 else None,
                    "url": f"https://example.com/{i}", "repo": "" if i % 5 else "acme/app"}
            f.write(json.dumps(line) + "\n")


def _records(out: Path) -> list[dict[str, Any]]:
    return written_json_lines(out)


def _expected_params(event: dict[str, Any]) -> dict[str, str]:
    """The SD-PARAMs the default ``sd_fields`` call for (empty values are left out)."""
    params = {}
    for name, path in DEFAULT_SD_FIELDS.items():
        value = lookup(event, path)
        if value is None or (not value and isinstance(value, (str, list, dict))):
            continue
        params[name] = field_text(value)
    return params


def _check(record: dict[str, Any], app: str) -> str:
    """Asserts syslog-ng's reading of one message against its MSG (the stored event); its id."""
    event = json.loads(record["msg"])
    assert record["pri"] == str(int(pri(16, event["severity_id"])[1:-1])), record
    assert record["msgid"] == event["type"] and record["app"] == app, record
    params = (record.get("_SDATA") or {}).get(SD_ID) or {}
    assert params == _expected_params(event), (params, event)
    return str(event["id"])


def _heads(port: int) -> tuple[float, float]:
    r = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {READ}"}, timeout=10)
    values = {s.name: s.value for f in text_string_to_metric_families(r.text) for s in f.samples
              if s.labels.get("sink") == "collector"}
    return values["siemrelay_sink_heads_rendered_ahead_total"], values["siemrelay_sink_heads_rendered_by_sink_total"]


def test_every_head_is_the_one_its_event_calls_for(tmp_path: Path, parsed: dict[str, Any], agent_process: Any) -> None:
    admin_port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, parsed["port"], admin_port, "siemrelay"))
    _write(tmp_path / "input.jsonl", 0, 3000)
    agent = agent_process(config)
    wait_for_port(admin_port)
    wait_for(lambda: len(_records(parsed["out"])) >= 3000, 90, what="the 3,000 events at syslog-ng")
    assert [_check(r, "siemrelay") for r in _records(parsed["out"])] == [f"ev-{i}" for i in range(3000)]
    ahead, by_sink = _heads(admin_port)
    assert ahead > 0 and ahead + by_sink >= 3000  # the child rendered some; any it did not, the sink did
    # the rendering ran compiled in both processes where this install compiled it (agent/compiled.py)
    compiled = all(compiled_state().values())
    assert f"hot path: {'compiled' if compiled else 'pure Python'}" in agent.log
    [child] = spawned_children(agent.proc.pid)
    mapped = {line.split()[-1] for line in Path(f"/proc/{child}/maps").read_text().splitlines() if "/" in line}
    assert (str(encoder.__file__) in mapped) is compiled  # the child renders the heads with the same build
    assert agent.stop() == 0


def test_a_reload_that_changes_the_sink_lets_no_head_of_the_old_settings_out(
        tmp_path: Path, parsed: dict[str, Any], agent_process: Any) -> None:
    admin_port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, parsed["port"], admin_port, "siemrelay"))
    total = 30000
    _write(tmp_path / "input.jsonl", 0, total)
    agent = agent_process(config)
    wait_for_port(admin_port)
    wait_for(lambda: len(_records(parsed["out"])) >= 2000, 90, what="the first events at syslog-ng")
    config.write_text(_config(tmp_path, parsed["port"], admin_port, "relay-b"))
    agent.send_signal(signal.SIGHUP)  # while batches are in flight in the child
    wait_for(lambda: "reload done" in agent.log, 30, what="the reload to finish")
    wait_for(lambda: len(_records(parsed["out"])) >= total, 120, what="every event at syslog-ng")
    records = _records(parsed["out"])
    apps = [r["app"] for r in records]
    switch = apps.index("relay-b")
    assert 2000 <= switch < total and set(apps[switch:]) == {"relay-b"}, "a message of the old settings after the reload"
    assert sorted(int(_check(r, a)[3:]) for r, a in zip(records, apps)) == list(range(total))  # each once, heads right
    assert agent.stop() == 0
