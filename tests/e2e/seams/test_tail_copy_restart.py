"""A copytruncate copy stays a copy across a graceful restart of ``siemrelay run``.

The path a user drives: YAML → file source (``paths: [app.log*]``, or ``[app*.log]``
with date-named copies) → spool → worker →
file sink, the agent stopped with SIGTERM and started again on the same state. The
copies are made the way logrotate's copytruncate makes them, by hand, so each case is
exact instead of a race:

- a copy **shorter than what the agent read** from the original (the application wrote
  on while the copy was taken; those lines reached the agent, not the copy): its
  checkpoint offset lies past its end, and after the restart it must not look like a
  truncated live file read again from 0 (it did: the rotation torture test delivered
  one rotated file twice about one run in eight);
- a copy still **being written** when the agent stopped, its original not truncated yet:
  after the restart both hold the same new lines, read once (from the original);
- a copy whose original was **truncated while the agent was down**: the copy's rest
  (past the original's checkpoint) is read, then the new original from 0.
"""

from __future__ import annotations

import collections
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import AgentProcess, received_ids, wait_for, write_numbered_events

pytestmark = pytest.mark.e2e


class Tail:
    """One agent tailing ``logs/app.log*`` into ``out.jsonl``, restartable on the same state."""

    def __init__(self, write_config: Callable[[str], Path], agent_process: Callable[[Path], AgentProcess],
                 tmp_path: Path, glob: str, copy_name: str) -> None:
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.app = self.logs / "app.log"
        self.app.touch()
        self.copy = self.logs / copy_name
        self.out = tmp_path / "out.jsonl"
        self.config = write_config(f"""
            agent: {{state_dir: {tmp_path}/state}}
            sources:
              app: {{type: file, paths: ["{self.logs}/{glob}"], decoder: json, rotate_wait_s: 1.0}}
            sinks:
              out: {{type: file, path: {self.out}, fsync: false}}
            routes:
              - {{name: default, to: [out]}}
            """)
        self.start_agent = agent_process
        self.agent = self.start()

    def start(self) -> AgentProcess:
        self.agent = self.start_agent(self.config)
        wait_for(lambda: "following" in self.agent.log, timeout=30, what="the agent to follow app.log")
        return self.agent

    def stop(self) -> None:
        assert self.agent.stop() == 0  # graceful: every acknowledged line is checkpointed

    def delivered(self, count: int) -> None:
        wait_for(lambda: len(received_ids(self.out)) >= count, timeout=20, what=f"{count} events delivered")
        time.sleep(2.0)  # longer than a poll and rotate_wait: a file read again would show by now

    def counts(self) -> collections.Counter[str]:
        return collections.Counter(received_ids(self.out))


def copy_of(src: Path, dst: Path, length: int | None = None) -> None:
    """Copy ``src`` to ``dst`` (the first ``length`` bytes), as copytruncate's copy step does."""
    data = src.read_bytes()
    dst.write_bytes(data if length is None else data[:length])


def truncate(path: Path) -> None:
    os.truncate(path, 0)


def assert_once(counts: collections.Counter[str], first: int, count: int) -> None:
    expected = {f"ev-{i:05d}" for i in range(first, first + count)}
    twice = sorted(i for i, n in counts.items() if n > 1)
    assert not twice, f"{len(twice)} events delivered twice, e.g. {twice[:5]}"
    assert set(counts) == expected, f"lost {sorted(expected - set(counts))[:5]}, unexpected {sorted(set(counts) - expected)[:5]}"


# (glob, the copy's name): numbered copies sort after the original; logrotate's
# ``dateext`` with ``extension .log`` names the copy so that it sorts (and is found) first
LAYOUTS = [("app.log*", "app.log.1"), ("app*.log", "app-20261206.log")]


@pytest.fixture(params=LAYOUTS, ids=["app.log.1", "dateext"])
def tail(request: pytest.FixtureRequest, write_config: Any, agent_process: Any, tmp_path: Path) -> Tail:
    glob, copy_name = request.param
    return Tail(write_config, agent_process, tmp_path, glob, copy_name)


def test_a_copy_shorter_than_what_was_read_is_not_read_again_after_a_restart(tail: Tail) -> None:
    write_numbered_events(tail.app, 0, 100)
    tail.delivered(100)
    # the copy got the first 60 lines; the application wrote 40 more before the truncate,
    # which the agent read from the original (they are delivered, and lost to the copy)
    cut = sum(len(line) for line in tail.app.read_bytes().splitlines(keepends=True)[:60])
    copy_of(tail.app, tail.copy, cut)
    truncate(tail.app)
    write_numbered_events(tail.app, 100, 10)
    tail.delivered(110)
    assert "reading the copy" in tail.agent.log
    tail.stop()
    tail.start()
    write_numbered_events(tail.app, 110, 10)
    tail.delivered(120)
    tail.stop()
    assert_once(tail.counts(), 0, 120)


def stopped_while_copying(tail: Tail) -> None:
    """100 lines delivered, logrotate's copy step started (the agent follows the copy in
    the original's shadow), the agent stopped; while it is down the application writes
    50 more lines and the copy step copies them too."""
    write_numbered_events(tail.app, 0, 100)
    tail.delivered(100)
    copy_of(tail.app, tail.copy)
    wait_for(lambda: "is a copy of" in tail.agent.log, timeout=10, what="the agent to see the copy")
    tail.stop()
    write_numbered_events(tail.app, 100, 50)
    shutil.copyfile(tail.app, tail.copy)


def test_a_copy_being_written_at_the_stop_shadows_its_original_after_the_restart(tail: Tail) -> None:
    stopped_while_copying(tail)
    tail.start()
    tail.delivered(150)
    truncate(tail.app)  # the truncate step: the copy is let go at the original's offset
    write_numbered_events(tail.app, 150, 10)
    tail.delivered(160)
    tail.stop()
    assert_once(tail.counts(), 0, 160)


def test_a_copy_whose_original_was_truncated_while_stopped_reads_its_rest(tail: Tail) -> None:
    stopped_while_copying(tail)  # lines 100-149 reach the copy, not the agent
    truncate(tail.app)
    write_numbered_events(tail.app, 150, 10)
    tail.start()
    tail.delivered(160)
    tail.stop()
    assert_once(tail.counts(), 0, 160)
