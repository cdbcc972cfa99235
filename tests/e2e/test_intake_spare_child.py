"""The preparing child started ahead of the configuration (``SpareChild``), through ``siemrelay run``.

On two cores or more ``siemrelay run`` starts a preparing child before it reads its
configuration, so the child's imports overlap the agent's own start. The pool must take
that process (not start a second one beside it), and nothing may leave it behind: a
configuration that wants no child (``agent.intake.processes: 0``) ends it at start, and
one the agent refuses ends it with the agent. Processes are found by a marker in their
environment, which the child inherits, so a leaked child is found even after its agent
has exited.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from agent.processes.cores import usable_cores
from tests.conftest import spawned_children, wait_for

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(usable_cores() < 2, reason="the spare is started only where auto starts a child")]


def _marked(marker: str) -> list[int]:
    """Live processes (not zombies) whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.append(int(entry.name))
    return found


def _config(tmp_path: Path, intake: str) -> Path:
    (tmp_path / "input.jsonl").write_text(json.dumps({"id": "e1", "title": "t", "severity": "high"}) + "\n")
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          {intake}
        sources:
          events: {{type: file, paths: ["{tmp_path}/input.jsonl"], read_from: beginning, decoder: json}}
        sinks:
          out: {{type: file, path: "{tmp_path}/out.jsonl"}}
        routes:
          - {{name: main, to: [out]}}
        """))
    return config


def test_the_child_started_ahead_is_the_one_that_prepares(tmp_path: Path, agent_process: Any) -> None:
    marker = f"SIEMRELAY_TEST_MARK={uuid.uuid4().hex}"
    agent = agent_process(_config(tmp_path, "intake: {processes: auto}"), env=dict([marker.split("=", 1)]))
    wait_for(lambda: "preparing batches in 1 child process(es)" in agent.log, 60, what="the pool to start")
    pid = int(re.search(r"preparing batches in 1 child process\(es\), pid (\d+)", agent.log).group(1))  # type: ignore[union-attr]
    wait_for(lambda: (tmp_path / "out.jsonl").exists(), 30, what="the event delivered")
    assert spawned_children(agent.proc.pid) == [pid]  # the spare was taken: no second child beside it
    assert sorted(_marked(marker)) == sorted([agent.proc.pid, pid])
    assert agent.stop() == 0
    wait_for(lambda: not _marked(marker), 10, what="every process of the agent to end")


def test_a_configuration_without_children_ends_the_spare_at_start(tmp_path: Path, agent_process: Any) -> None:
    marker = f"SIEMRELAY_TEST_MARK={uuid.uuid4().hex}"
    agent = agent_process(_config(tmp_path, "intake: {processes: 0}"), env=dict([marker.split("=", 1)]))
    wait_for(lambda: "siemrelay started" in agent.log, 60, what="the agent to start")
    wait_for(lambda: _marked(marker) == [agent.proc.pid], 10, what="the spare child to end")
    assert spawned_children(agent.proc.pid) == []
    assert agent.stop() == 0


def test_a_refused_configuration_leaves_no_child_behind(tmp_path: Path, agent_process: Any) -> None:
    marker = f"SIEMRELAY_TEST_MARK={uuid.uuid4().hex}"
    config = _config(tmp_path, "intake: {processes: auto}")
    config.write_text(config.read_text().replace("type: file, path", "type: no_such_sink, path"))
    agent = agent_process(config, env=dict([marker.split("=", 1)]))
    assert agent.wait(60) == 2 and "no_such_sink" in agent.log
    wait_for(lambda: not _marked(marker), 10, what="no process of the refused agent left")


def test_the_spare_never_outlives_an_agent_killed_while_starting(tmp_path: Path, agent_process: Any) -> None:
    """SIGKILL right after the start: the spare (still importing, or waiting for its recipe)
    reads EOF on its channel and ends."""
    marker = f"SIEMRELAY_TEST_MARK={uuid.uuid4().hex}"
    agent = agent_process(_config(tmp_path, "intake: {processes: auto}"), env=dict([marker.split("=", 1)]))
    wait_for(lambda: len(_marked(marker)) >= 2, 30, what="the spare child started")
    os.kill(agent.proc.pid, 9)
    agent.proc.wait(10)
    wait_for(lambda: not _marked(marker), 15, what="the spare child to end with its agent")
