"""A reload that replaces a stream sink keeps the order at the receiver.

A reload that changes a ``syslog`` sink's settings closes the old sink's connection and
opens a new one. A receiver reads each connection on its own: if the new connection
opens while the old one still holds unread messages in the receiver's socket buffer (a
receiver that is behind, as any is under load), the receiver reads both at once and
writes old and new messages interleaved, so events are out of order and a message of the
old settings follows one of the new. The sink therefore releases its connection in
order: it half-closes it and waits (up to its ``retry.timeout_s``) until the receiver has
read everything and closed its side, and only then connects again.

The test makes the receiver fall behind on purpose: a real syslog-ng is stopped
(SIGSTOP) while the agent sends 150 events of the old settings into the connection and is
reloaded, and continued (SIGCONT) two seconds after more events were written (the
code before this mend had reconnected and sent them meanwhile). Every event must arrive
once, in file order, and no old message after the first new one. A receiver that never
reads must not hold the agent's stop past ``agent.shutdown_timeout_s`` either.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import pick_port, wait_for, wait_for_port
from tests.peers.syslog_ng import SyslogNg, written_json_lines

pytestmark = pytest.mark.e2e

READ = "order-read-token-123456"


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """syslog-ng reading RFC 5424 over TCP, writing each message's APP-NAME and MSG as JSON."""
    port = pick_port()
    out = tmp_path / "parsed.jsonl"
    template = "$(format-json --pair app=${PROGRAM} --pair msg=${MESSAGE})\\n"
    body = (f'source s {{ syslog(ip("127.0.0.1") port({port}) transport("tcp")); }};\n'
            f'destination d {{ file("{out}" template("{template}")); }};\n'
            'log { source(s); destination(d); };\n')
    sng = SyslogNg(body, tmp_path / "syslog-ng", [("127.0.0.1", port)]).start()
    try:
        yield {"port": port, "out": out, "peer": sng}
    finally:
        assert sng.proc is not None
        if sng.proc.poll() is None:
            os.kill(sng.proc.pid, signal.SIGCONT)  # a stopped process cannot take the SIGTERM of stop()
        sng.stop()


def _config(tmp_path: Path, port: int, admin_port: int, app_name: str, archive: bool = False) -> str:
    extra = f"""
          archive: {{type: file, path: "{tmp_path}/archive.jsonl"}}""" if archive else ""
    return textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", read_token: "{READ}"}}
        sources:
          events:
            type: file
            paths: ["{tmp_path}/input.jsonl"]
            read_from: beginning
            decoder: json
        sinks:
          collector:
            type: syslog
            address: "127.0.0.1:{port}"
            transport: tcp
            framing: octet
            app_name: {app_name}
            sd_fields: {{}}
            batch: {{max_events: 50, max_wait_s: 0.02}}{extra}
        routes:
          - {{name: main, to: [collector{", archive" if archive else ""}]}}
        """)


def _write(path: Path, first: int, count: int) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.writelines(json.dumps({"id": f"ev-{i}", "title": "e", "severity": "high"}) + "\n"
                     for i in range(first, first + count))


def _records(out: Path) -> list[tuple[str, int]]:
    return [(r["app"], int(json.loads(r["msg"])["id"][3:])) for r in written_json_lines(out)]


def _sent(port: int) -> float:
    r = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {READ}"}, timeout=10)
    return sum(s.value for f in text_string_to_metric_families(r.text) for s in f.samples
               if s.name == "siemrelay_sink_events_out_total" and s.labels.get("sink") == "collector")


@pytest.mark.parametrize("add_sink", [False, True], ids=["sink-changed", "sink-changed-and-one-added"])
def test_a_reload_while_the_receiver_is_behind_keeps_every_event_in_order(
        tmp_path: Path, receiver: dict[str, Any], agent_process: Any, add_sink: bool) -> None:
    """A sink changed alone is replaced in place; with a sink added the spool is reopened
    with the new set of queues (another path through the reload): both keep the order."""
    admin_port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    source = tmp_path / "input.jsonl"
    config.write_text(_config(tmp_path, receiver["port"], admin_port, "relay-a"))
    _write(source, 0, 100)
    agent = agent_process(config)
    wait_for_port(admin_port)
    wait_for(lambda: len(_records(receiver["out"])) >= 100, 60, what="the first events at syslog-ng")

    peer = receiver["peer"].proc
    os.kill(peer.pid, signal.SIGSTOP)  # the receiver falls behind: what is sent now waits in its socket
    try:
        _write(source, 100, 150)
        wait_for(lambda: _sent(admin_port) >= 250, 30, what="the agent to send the events of the old settings")
        config.write_text(_config(tmp_path, receiver["port"], admin_port, "relay-b", archive=add_sink))
        agent.send_signal(signal.SIGHUP)
        _write(source, 250, 150)
        time.sleep(2.0)  # the old code reconnects and sends the new events meanwhile
    finally:
        os.kill(peer.pid, signal.SIGCONT)
    wait_for(lambda: "reload done" in agent.log, 30, what="the reload to finish")
    _write(source, 400, 50)  # surely sent with the new settings
    wait_for(lambda: len(_records(receiver["out"])) >= 450, 60, what="every event at syslog-ng")

    records = _records(receiver["out"])
    assert [i for _, i in records] == list(range(450)), "events out of order or not once each"
    apps = [a for a, _ in records]
    switch = apps.index("relay-b")  # events written right after the SIGHUP may still go out with the old settings
    assert switch >= 250 and set(apps[switch:]) == {"relay-b"}, "a message of the old settings after the reload"
    assert agent.stop() == 0


def test_a_receiver_that_never_reads_does_not_hold_the_agent_past_its_stop_deadline(
        tmp_path: Path, agent_process: Any) -> None:
    """Releasing a connection in order waits for the receiver (up to ``retry.timeout_s``,
    here 30 s); a hung receiver must not hold the stop past ``agent.shutdown_timeout_s``."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody ever reads
        port = silent.getsockname()[1]
        config = tmp_path / "siemrelay.yaml"
        config.write_text(textwrap.dedent(f"""\
            agent:
              state_dir: {tmp_path}/state
              shutdown_timeout_s: 2
            sources:
              events: {{type: file, paths: ["{tmp_path}/input.jsonl"], read_from: beginning, decoder: json}}
            sinks:
              collector:
                type: syslog
                address: "127.0.0.1:{port}"
                transport: tcp
                retry: {{timeout_s: 30}}
            routes:
              - {{name: main, to: [collector]}}
            """))
        _write(tmp_path / "input.jsonl", 0, 10)
        agent = agent_process(config)
        wait_for(lambda: "siemrelay started" in agent.log, 60, what="the agent to start")
        wait_for(lambda: _established(port), 30, what="the sink's connection")
        started = time.monotonic()
        assert agent.stop(timeout=20) == 0
        assert time.monotonic() - started < 10  # about the 2 s deadline and its second, not the 30 s timeout
        assert "was still closing at the stop's deadline" in agent.log


def _established(port: int) -> bool:
    """Whether a TCP connection to ``port`` on loopback is established (from /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()  # sl, local address, remote address, state (01: ESTABLISHED), ...
        if fields[2].endswith(f":{port:04X}") and fields[3] == "01":
            return True
    return False
