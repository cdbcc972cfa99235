"""The syslog sink encoding in a child process (``encode_in: child``), end to end: a file
tailed by the agent, spooled, encoded in the child, parsed by a real syslog-ng.

Every event arrives once and in the file's order, also when the child is killed in the
middle of the run; the agent ends its children on stop and on reload, and no encoding
process outlives the agent.
"""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import child_pids, received_ids, spawned_children, write_numbered_events, wait_for


def _config(tmp_path: Path, port: int, app_name: str = "siemrelay") -> str:
    return textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          intake: {{processes: 0}}  # the only spawned children are then the sink's encoders
        sources:
          events: {{type: file, paths: ["{tmp_path}/input.jsonl"], read_from: beginning, decoder: json}}
        sinks:
          collector:
            type: syslog
            address: "127.0.0.1:{port}"
            transport: tcp
            framing: octet
            app_name: {app_name}
            encode_in: child
            batch: {{max_events: 50, max_wait_s: 0.05}}
            retry: {{initial_backoff_s: 0.05, max_backoff_s: 0.2, jitter: none}}
        routes:
          - {{name: default, to: [collector]}}
        """)










def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_every_event_arrives_once_and_in_order_through_syslog_ng(tmp_path: Path, collector: dict[str, Any],
                                                                 agent_process: Any) -> None:
    ids = write_numbered_events(tmp_path / "input.jsonl", 0, 2000)
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"]))
    agent = agent_process(config)
    assert agent.proc is not None
    wait_for(lambda: len(received_ids(collector["out"])) >= len(ids), 60, what="every event at syslog-ng")
    [child] = wait_for(lambda: spawned_children(agent.proc.pid) or None, 10, what="the encoding child")
    assert received_ids(collector["out"]) == ids
    assert agent.stop() == 0
    assert not _alive(child)


def test_a_killed_child_loses_and_duplicates_nothing(tmp_path: Path, collector: dict[str, Any], agent_process: Any) -> None:
    ids = write_numbered_events(tmp_path / "input.jsonl", 0, 3000)
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"]))
    agent = agent_process(config)
    assert agent.proc is not None
    wait_for(lambda: len(received_ids(collector["out"])) >= 200, 60, what="the first events at syslog-ng")
    [child] = spawned_children(agent.proc.pid)
    os.kill(child, signal.SIGKILL)
    ids += write_numbered_events(tmp_path / "input.jsonl", 3000, 1000)
    wait_for(lambda: len(received_ids(collector["out"])) >= len(ids), 60, what="every event at syslog-ng")
    assert received_ids(collector["out"]) == ids
    [replacement] = wait_for(lambda: spawned_children(agent.proc.pid) or None, 10, what="the replacement child")
    assert replacement != child
    assert agent.stop() == 0
    assert "encoding process died" in agent.log and not _alive(replacement)


def test_reload_and_stop_leave_no_encoding_process(tmp_path: Path, collector: dict[str, Any], agent_process: Any) -> None:
    ids = write_numbered_events(tmp_path / "input.jsonl", 0, 100)
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"]))
    agent = agent_process(config)
    assert agent.proc is not None
    wait_for(lambda: len(received_ids(collector["out"])) >= len(ids), 60, what="the events at syslog-ng")
    [before] = spawned_children(agent.proc.pid)
    config.write_text(_config(tmp_path, collector["port"], app_name="relay2"))  # a changed sink: a new worker
    agent.send_signal(signal.SIGHUP)
    wait_for(lambda: not _alive(before), 30, what="the old sink's child to end on reload")
    ids += write_numbered_events(tmp_path / "input.jsonl", 100, 100)
    wait_for(lambda: len(received_ids(collector["out"])) >= len(ids), 60, what="the events after the reload")
    assert received_ids(collector["out"]) == ids
    [after] = spawned_children(agent.proc.pid)
    assert after != before
    assert agent.stop() == 0
    assert not _alive(after)


def test_kill_9_of_the_agent_leaves_no_orphan(tmp_path: Path, collector: dict[str, Any], agent_process: Any) -> None:
    write_numbered_events(tmp_path / "input.jsonl", 0, 100)
    config = tmp_path / "siemrelay.yaml"
    config.write_text(_config(tmp_path, collector["port"]))
    agent = agent_process(config)
    assert agent.proc is not None
    wait_for(lambda: len(received_ids(collector["out"])) >= 100, 60, what="the events at syslog-ng")
    children = child_pids(agent.proc.pid)
    assert spawned_children(agent.proc.pid)
    agent.kill()
    wait_for(lambda: not any(_alive(c) for c in children), 30, what="every child of the killed agent to end")
