"""``{{ path }}`` templates end to end: the YAML a user writes → HTTP listener → route
transform → spool → worker → sink → the real peer (a strict HEC receiver, Debian's
syslog-ng, nats-server), and the deprecated ``{path}`` spelling still delivered with a
warning that names the file, line and key.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from nats.js.errors import NotFoundError

from agent.testing import make_event
from tests.conftest import pick_port, wait_for, wait_for_port
from tests.peers.hec_receiver import HecReceiver
from tests.peers.nats import NatsServer, js_run
from tests.peers.pipeline import Pipeline
from tests.peers.syslog_ng import SyslogNg

pytestmark = pytest.mark.e2e

EVENTS = [
    make_event(id="tpl-1", source="zeropath", vendor_type="ISSUE_NEW", severity="critical", title="SQLi",
               asset={"host": "web1.example"}),
    make_event(id="tpl-2", source="escape", vendor_type="SCAN_ALERT", severity="low", title="Open redirect",
               asset={"host": "api.example"}),
]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """syslog-ng reading RFC 5424 over TCP and writing back the header fields it parsed."""
    port, out = pick_port(), tmp_path / "syslog.jsonl"
    tpl = '"$(format-json host=$HOST app=$PROGRAM procid=$PID msgid=$MSGID msg=$MESSAGE)\\n"'
    body = (f'source s_tcp {{ syslog(ip("127.0.0.1") port({port}) transport("tcp")); }};\n'
            f'destination d_out {{ file("{out}" template({tpl})); }};\nlog {{ source(s_tcp); destination(d_out); }};\n')
    sng = SyslogNg(body, tmp_path / "sng", [("127.0.0.1", port)])
    sng.start()
    try:
        yield port, out
    finally:
        sng.stop()


def post_events(port: int) -> None:
    body = "\n".join(e.to_json().decode() for e in EVENTS)
    resp = requests.post(f"http://127.0.0.1:{port}/events", data=body, timeout=10)
    assert resp.status_code == 200 and resp.json()["accepted"] == len(EVENTS), resp.text


def test_templated_options_reach_splunk_syslog_ng_and_nats(tmp_path: Path, agent_process: Any,
                                                           collector: tuple[int, Path]) -> None:
    syslog_port, syslog_out = collector
    http_port = pick_port()
    with HecReceiver(pick_port(), tokens={"good-token": {"ack": False}},
                     indexes=("sec_zeropath", "sec_escape")) as hec, NatsServer(tmp_path / "nats") as nats:
        config = tmp_path / "siemrelay.yaml"
        config.write_text(f"""
agent: {{state_dir: {tmp_path}/state}}
sources:
  web: {{type: http, address: "127.0.0.1:{http_port}"}}
sinks:
  splunk:
    type: splunk_hec
    url: {hec.url}
    token: good-token
    index: "sec_{{{{ source }}}}"
    host: "{{{{ asset.host }}}}"
    source: "siemrelay:{{{{ type }}}}"
    sourcetype: "siemrelay:{{vendor_type}}"
    healthcheck_on_start: false
    batch: {{max_wait_s: 0.05}}
  collector:
    type: syslog
    address: "127.0.0.1:{syslog_port}"
    hostname: "{{{{ asset.host }}}}"
    app_name: "{{{{ source }}}}"
    procid: "{{{{ severity_id }}}}"
    msgid: "{{{{ vendor_type }}}}"
    msg_format: text
    text_template: "{{{{ severity }}}}: {{{{ title }}}}"
    batch: {{max_wait_s: 0.05}}
  js:
    type: nats
    url: {nats.url}
    subject: "siem.{{{{ source }}}}.{{{{ severity }}}}.{{{{ year }}}}"
    stream: EVENTS
    create_stream: {{subjects: ["siem.>"]}}
    batch: {{max_wait_s: 0.05}}
routes:
  - name: default
    to: [splunk, collector, js]
    transforms:
      - set: {{title: "[{{{{ source }}}}] {{{{ title }}}}"}}
""")
        agent = agent_process(config)
        wait_for_port(http_port, timeout=20)
        post_events(http_port)

        indexed = hec.wait_indexed(2)
        assert sorted((e["index"], e["host"], e["source"], e["sourcetype"], e["event"]["title"]) for e in indexed) == [
            ("sec_escape", "api.example", "siemrelay:finding.new", "siemrelay:SCAN_ALERT", "[escape] Open redirect"),
            ("sec_zeropath", "web1.example", "siemrelay:finding.new", "siemrelay:ISSUE_NEW", "[zeropath] SQLi"),
        ]

        def syslog_records() -> list[dict[str, Any]] | None:
            lines = syslog_out.read_text().splitlines() if syslog_out.exists() else []
            return [json.loads(x) for x in lines] if len(lines) >= 2 else None

        records = wait_for(syslog_records, 15, what="2 messages at syslog-ng")
        assert sorted((r["host"], r["app"], r["procid"], r["msgid"], r["msg"]) for r in records) == [
            ("api.example", "escape", "2", "SCAN_ALERT", "low: [escape] Open redirect"),
            ("web1.example", "zeropath", "5", "ISSUE_NEW", "critical: [zeropath] SQLi"),
        ]

        async def subjects(js: Any, nc: Any) -> list[str]:
            try:
                info = await js.stream_info("EVENTS")
            except NotFoundError:  # the sink creates the stream with its first batch
                return []
            return [(await js.get_msg("EVENTS", seq)).subject for seq in range(1, info.state.last_seq + 1)]

        wait_for(lambda: len(js_run(nats.url, subjects)) >= 2, 15, what="2 messages in the stream")
        assert sorted(js_run(nats.url, subjects)) == ["siem.escape.low.2025", "siem.zeropath.critical.2025"]
        assert "Traceback" not in agent.log
        # the single-brace sourcetype above was delivered, and start-up said where and how to fix it
        assert f"{config}:13: sinks.splunk.sourcetype: the single-brace placeholder" in agent.log
        assert "write 'siemrelay:{{ vendor_type }}'" in agent.log
        assert agent.stop(signal.SIGTERM) == 0


def test_old_spelling_is_delivered_with_a_warning_and_an_unknown_index_is_dead_lettered(tmp_path: Path) -> None:
    """``index: "{source}"`` (the single-brace form) still names each event's index; the
    receiver refuses the one index it does not have (HEC code 7) and only that event is
    dead-lettered, with the receiver's reason."""
    with HecReceiver(pick_port(), tokens={"good-token": {"ack": False}}, indexes=("zeropath",)) as hec:
        with Pipeline(tmp_path, f"""
            agent: {{state_dir: "{{state_dir}}"}}
            sinks:
              splunk:
                type: splunk_hec
                url: {hec.url}
                token: good-token
                index: "{{source}}"
                healthcheck_on_start: false
                retry: {{max_attempts: 0}}
            routes:
              - {{name: default, to: [splunk]}}
            """) as p:
            [warning] = p.cfg.warnings
            assert (warning.file, warning.line, warning.path) == (str(tmp_path / "siemrelay.yaml"), 8, "sinks.splunk.index")
            assert "deprecated" in warning.message and "write '{{ source }}'" in warning.message
            p.submit(EVENTS)
            p.run()
            assert [(e["index"], e["event"]["id"]) for e in hec.indexed] == [("zeropath", "tpl-1")]
            [dead] = p.dead_letters()
            assert dead.event_id == "tpl-2" and "Incorrect index" in dead.reason
