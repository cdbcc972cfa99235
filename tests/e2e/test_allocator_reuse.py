"""The agent and its preparing child reuse the memory a batch freed (``agent.processes.allocator``).

The real agent tails a file through its preparing child and delivers to a real syslog-ng.
Bursts of 20,000 events of about 700 bytes arrive, each in one write; the page faults each
process took while delivering the third and the fourth (the first two grow the processes
to their working size) are read from ``/proc`` (counts, not timings). With
the allocator as the agent sets it, a batch reuses the pages the last one freed; with
glibc left to itself (an operator's ``GLIBC_TUNABLES`` in the environment turns the
agent's setting off) batches fault their pages in again, by how much swinging with the
machine's load.
As the agent sets it, its threads also share one malloc arena (counted from
``/proc/PID/maps`` after the bursts); glibc alone gives each of them its own.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import malloc_thread_arenas, spawned_children, wait_for

pytestmark = pytest.mark.e2e

EVENTS = 20_000


def _minor_faults(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])


def _settled(pid: int) -> None:
    """Wait until ``pid`` takes no page fault for half a second."""
    def quiet() -> bool:
        first = _minor_faults(pid)
        time.sleep(0.5)
        return _minor_faults(pid) == first
    wait_for(quiet, 60, what=f"process {pid} idle")


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def _faults_per_event(tmp_path: Path, collector: dict[str, Any], agent_process: Any,
                      env: dict[str, str]) -> tuple[list[float], list[float], int]:
    """The agent's and the child's minor page faults per delivered event in each measured
    burst, and the agent's thread arenas after the bursts."""
    tmp_path.mkdir()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          intake: {{processes: 1}}
        sources:
          events: {{type: file, paths: ["{tmp_path}/input.jsonl"], read_from: beginning, decoder: json}}
        sinks:
          collector: {{type: syslog, address: "127.0.0.1:{collector['port']}", transport: tcp, framing: octet}}
        routes:
          - {{name: main, to: [collector]}}
        """))
    agent = agent_process(config, env=env)
    wait_for(lambda: "preparing batches in 1 child process(es)" in agent.log and spawned_children(agent.proc.pid), 60,
             what="the agent and its child ready")
    [child] = spawned_children(agent.proc.pid)
    line = json.dumps({"title": "event", "severity": "high", "type": "finding.new", "description": "word " * 120})
    measured: list[tuple[float, float]] = []
    for burst in (1, 2, 3, 4):  # the first two grow each process to its working size; the others are measured
        _settled(agent.proc.pid)
        _settled(child)
        before = _minor_faults(agent.proc.pid), _minor_faults(child)
        with (tmp_path / "input.jsonl").open("a") as f:
            f.write(f"{line}\n" * EVENTS)  # one write: the tail finds whole batches
        wait_for(lambda: _lines(collector["out"]) >= burst * EVENTS, 120, what="every event at syslog-ng")
        after = _minor_faults(agent.proc.pid), _minor_faults(child)
        if burst > 2:
            measured.append(((after[0] - before[0]) / EVENTS, (after[1] - before[1]) / EVENTS))
    arenas = malloc_thread_arenas(agent.proc.pid)
    assert agent.stop() == 0
    return [m[0] for m in measured], [m[1] for m in measured], arenas


def test_batches_reuse_freed_memory_in_the_agent_and_its_child(tmp_path: Path, collector: dict[str, Any],
                                                                agent_process: Any) -> None:
    untuned = _faults_per_event(tmp_path / "untuned", collector, agent_process, {"GLIBC_TUNABLES": ""})
    tuned = _faults_per_event(tmp_path / "tuned", collector, agent_process, {})
    # As the agent sets it, each process takes nearly no fault once at its working size
    # (measured: agent 0.00-0.03 per event, child 0.00-0.002). Under the suite's parallel
    # load a process may still grow to a new high-water mark in one measured burst (the
    # child once took 0.02 per event, 1.6 MB: more answers waiting than in the first two),
    # so each claim is read from its quieter burst: at most one fault per 200 events.
    # glibc alone re-faults more, but by how much swings with the load (agent 0.00-0.90
    # per event, child 0.004-0.67; since the batch's rows are copied to their own size the
    # agent often takes none either): it is the control of the sum, not of each process.
    assert min(tuned[0]) <= 0.005 and min(tuned[1]) <= 0.005, (tuned, untuned)
    assert sum(tuned[0]) + sum(tuned[1]) <= sum(untuned[0]) + sum(untuned[1]), (tuned, untuned)
    # the tail, collector, spool writer and sink worker share the main arena (glibc alone: one each)
    assert tuned[2] == 0 and untuned[2] >= 2, (tuned, untuned)
