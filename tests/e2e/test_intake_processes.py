"""The intake's decoding in child processes (``agent.intake.processes: 1``), end to end.

A file source and an HTTP source feed the real agent, which prepares their batches in a
child and delivers to a real syslog-ng over RFC 5424/TCP. Every event arrives once and
in each source's order, also when the child is killed mid-stream (the HTTP sender's
redelivery is still de-duplicated); a reload with new routes reaches the child; the
agent ends its child on stop, and no child outlives a kill -9 of the agent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import child_pids, received_ids, spawned_children, write_numbered_events, pick_port, wait_for, wait_for_port

pytestmark = pytest.mark.e2e


def _config(tmp_path: Path, port: int, http_port: int, route_to_severity: str = "") -> str:
    when = f"when: {{severity: '{route_to_severity}'}}, " if route_to_severity else ""
    return textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          intake: {{processes: 1, child_min_bytes: 0}}  # every batch to the child, however small
        sources:
          events: {{type: file, paths: ["{tmp_path}/input.jsonl"], read_from: beginning, decoder: json, batch_lines: 200}}
          web:
            type: http
            address: "127.0.0.1:{http_port}"
            paths:
              /: {{decoder: json}}
        sinks:
          collector:
            type: syslog
            address: "127.0.0.1:{port}"
            transport: tcp
            framing: octet
            batch: {{max_events: 100, max_wait_s: 0.05}}
            retry: {{initial_backoff_s: 0.05, max_backoff_s: 0.2, jitter: none}}
        routes:
          - {{name: main, {when}to: [collector]}}
        """)




def _post(port: int, eid: str, severity: str = "high") -> int:
    body = json.dumps({"id": eid, "title": f"posted {eid}", "severity": severity})
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                        "--data-binary", body, f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=30)
    return int(r.stdout or 0)








def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _mapped_libraries(pid: int) -> set[str]:
    """The file names of the shared objects ``pid`` has mapped (``libssl.so.3``, ``_sqlite3.cpython-311-….so``)."""
    return {line.split()[-1].rsplit("/", 1)[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
            if ".so" in line.split()[-1]}


def test_file_and_http_events_arrive_once_in_order(tmp_path: Path, collector: dict[str, Any], agent_process: Any) -> None:
    ids = write_numbered_events(tmp_path / "input.jsonl", 0, 3000)
    http_port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"], http_port))
    agent = agent_process(config)
    wait_for_port(http_port)
    posted = [f"web-{i}" for i in range(20)]
    assert all(_post(http_port, eid) == 200 for eid in posted)
    assert _post(http_port, "web-3") == 200  # a redelivery: acknowledged, de-duplicated
    wait_for(lambda: len(received_ids(collector["out"])) >= len(ids) + len(posted), 60, what="every event at syslog-ng")
    got = received_ids(collector["out"])
    assert [i for i in got if i.startswith("ev-")] == ids
    assert [i for i in got if i.startswith("web-")] == posted
    [child] = spawned_children(agent.proc.pid)
    assert child_pids(agent.proc.pid) == [child]  # and no other process (no multiprocessing resource tracker)
    assert f"preparing batches in 1 child process(es), pid {child}" in agent.log
    # The child decodes, routes and renders syslog heads; it never opens TLS, the spool, a
    # YAML file or an event loop, and does not load them (they were 17 MB of its peak RSS):
    # whatever of OpenSSL's, SQLite's, libyaml's and asyncio's C parts the agent maps, its
    # child, having prepared file and HTTP batches, does not.
    heavy = ("libssl", "libcrypto", "libsqlite3", "_ssl.", "_hashlib.", "_sqlite3.", "_yaml.", "_asyncio.")
    in_agent = {lib for lib in _mapped_libraries(agent.proc.pid) if lib.startswith(heavy)}
    assert any(lib.startswith("libcrypto") for lib in in_agent) and any(lib.startswith("libsqlite3") for lib in in_agent)
    assert {lib for lib in _mapped_libraries(child) if lib.startswith(heavy)} == set()
    assert agent.stop() == 0
    assert not _alive(child)


def test_each_request_gets_its_own_answer_from_the_child(tmp_path: Path, collector: dict[str, Any],
                                                        agent_process: Any) -> None:
    """HTTP batches are prepared in the child too; what each request's records gave (events,
    bad lines, nothing usable) comes back per record, so each sender gets its exact answer."""
    http_port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"], http_port))
    agent = agent_process(config)
    wait_for_port(http_port)
    good = [{"id": f"nd-{i}", "title": "t", "severity": "high"} for i in range(3)]

    def post(body: str) -> tuple[int, dict[str, Any]]:
        r = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", "-H", "Content-Type: application/json",
                            "--data-binary", "@-", f"http://127.0.0.1:{http_port}/"],
                           input=body, capture_output=True, text=True, timeout=30)
        text, _, code = r.stdout.rpartition("\n")
        return int(code), json.loads(text)

    status, answer = post(json.dumps([good[0], good[1], 5]))  # two events and an item that is none
    assert status == 200 and answer["accepted"] == 2 and len(answer["errors"]) == 1
    status, answer = post("{not json")
    assert status == 400 and answer["errors"]
    status, answer = post(json.dumps(good[2]))
    assert status == 200 and answer["accepted"] == 1
    wait_for(lambda: {"nd-0", "nd-1", "nd-2"} <= set(received_ids(collector["out"])), 30, what="the good lines at syslog-ng")
    [child] = spawned_children(agent.proc.pid)
    assert f"preparing batches in 1 child process(es), pid {child}" in agent.log
    assert "prepared in-process" not in agent.log and agent.stop() == 0


def test_a_child_killed_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, collector: dict[str, Any],
                                                                 agent_process: Any) -> None:
    ids = write_numbered_events(tmp_path / "input.jsonl", 0, 4000)
    http_port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"], http_port))
    agent = agent_process(config)
    wait_for(lambda: len(received_ids(collector["out"])) >= 200, 60, what="the first events at syslog-ng")
    [child] = spawned_children(agent.proc.pid)
    os.kill(child, signal.SIGKILL)
    ids += write_numbered_events(tmp_path / "input.jsonl", 4000, 2000)
    wait_for_port(http_port)
    assert all(_post(http_port, f"web-{i}") == 200 for i in range(10))
    wait_for(lambda: len(received_ids(collector["out"])) >= len(ids) + 10, 60, what="every event at syslog-ng")
    got = received_ids(collector["out"])
    assert [i for i in got if i.startswith("ev-")] == ids
    assert [i for i in got if i.startswith("web-")] == [f"web-{i}" for i in range(10)]
    [replacement] = wait_for(lambda: spawned_children(agent.proc.pid) or None, 30, what="the replacement child")
    assert replacement != child
    assert agent.stop() == 0
    assert "preparing process died" in agent.log and not _alive(replacement)


def test_a_reload_reaches_the_child_and_stop_ends_it(tmp_path: Path, collector: dict[str, Any], agent_process: Any) -> None:
    ids = write_numbered_events(tmp_path / "input.jsonl", 0, 100)
    http_port = pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"], http_port))
    agent = agent_process(config)
    wait_for(lambda: len(received_ids(collector["out"])) >= len(ids), 60, what="the events at syslog-ng")
    [child] = spawned_children(agent.proc.pid)
    config.write_text(_config(tmp_path, collector["port"], http_port, route_to_severity="low"))
    agent.send_signal(signal.SIGHUP)
    wait_for(lambda: "reload done" in agent.log, 30, what="the reload")
    wait_for_port(http_port)
    assert _post(http_port, "web-high", "high") == 200  # no route takes it now: counted as unrouted
    assert _post(http_port, "web-low", "low") == 200
    wait_for(lambda: "web-low" in received_ids(collector["out"]), 30, what="the event the new route takes")
    assert "web-high" not in received_ids(collector["out"])
    assert spawned_children(agent.proc.pid) == [child]  # the same child, with the new routes
    assert agent.stop() == 0
    assert not _alive(child)


def test_kill_9_of_the_agent_leaves_no_orphan(tmp_path: Path, collector: dict[str, Any], agent_process: Any) -> None:
    write_numbered_events(tmp_path / "input.jsonl", 0, 100)
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"], pick_port()))
    agent = agent_process(config)
    wait_for(lambda: len(received_ids(collector["out"])) >= 100, 60, what="the events at syslog-ng")
    children = child_pids(agent.proc.pid)
    assert spawned_children(agent.proc.pid)
    agent.kill()
    wait_for(lambda: not any(_alive(c) for c in children), 30, what="every child of the killed agent to end")
