"""Rotation torture: a real writer rotates ``app.log`` while ``siemrelay run`` tails it.

The path a user drives: YAML → file source → spool → worker → file sink, the agent a
subprocess with its default polling and rotation settings. A separate writer process
(``rotation_writer.py``) writes numbered lines and rotates like logrotate (rename, or
copytruncate), every second and every 0.3 s, with ``paths: [app.log]`` and with
``paths: [app.log*]``. Every line written is counted against every line delivered:

- no line is delivered twice (a rotated file is not read again under its new name);
- rename rotation loses nothing, however fast;
- copytruncate loses only lines written between the start of the copy and the end of
  the truncate (the writer records that window of each rotation): copytruncate itself
  destroys them before any reader can see them.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.e2e
WRITER = Path(__file__).with_name("rotation_writer.py")
RATE = 2000  # lines per second: a busy application, well within the agent's throughput on a shared core
ROTATE_WAIT_S = 1.0  # shorter than the default, so a rotated file is let go (and a re-read would show) within the test


def delivered_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    ids = []
    for line in path.read_text().splitlines():
        try:
            ids.append(json.loads(line)["id"])
        except (ValueError, KeyError):
            pass  # a line being written
    return ids


def settled(out: Path, quiet_s: float) -> None:
    """Wait until the sink file stopped growing for ``quiet_s`` (bounded: the writer has stopped)."""
    last = (-1, time.monotonic())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        size = out.stat().st_size if out.exists() else 0
        if size != last[0]:
            last = (size, time.monotonic())
        elif time.monotonic() - last[1] >= quiet_s:
            return
        time.sleep(0.1)


def run_writer(logs: Path, mode: str, period: float, duration: float, result: Path) -> dict[str, Any]:
    subprocess.run([sys.executable, str(WRITER), str(logs), mode, str(period), str(duration), str(RATE), str(result)],
                   check=True, timeout=duration + 30)
    outcome: dict[str, Any] = json.loads(result.read_text())
    return outcome


CASES = [(mode, period) for mode in ("rename", "copytruncate") for period in (1.0, 0.3)] + [
    ("rename", 0.1),  # faster than the default poll (0.25 s): a file lives and is renamed away between two polls
]


@pytest.mark.parametrize("glob", [False, True], ids=["app.log", "app.log*"])
@pytest.mark.parametrize("mode,period", CASES)
def test_rotation_loses_nothing_and_duplicates_nothing(mode: str, period: float, glob: bool, write_config: Any,
                                                       agent_process: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").touch()
    out = tmp_path / "out.jsonl"
    pattern = f"{logs}/app.log*" if glob else f"{logs}/app.log"
    cfg = write_config(f"""
        agent: {{state_dir: {tmp_path}/state, spool: {{sync: normal}}}}
        sources:
          app: {{type: file, paths: ["{pattern}"], decoder: json, rotate_wait_s: {ROTATE_WAIT_S}}}
        sinks:
          out: {{type: file, path: {out}, fsync: false}}
        routes:
          - {{name: default, to: [out]}}
        """)
    agent = agent_process(cfg)
    wait_for(lambda: "following" in agent.log, timeout=30, what="the agent to follow app.log")
    duration = 4.0 if period >= 1 else 3.0  # a few seconds each, at least 3 rotations
    result = run_writer(logs, mode, period, duration, tmp_path / "writer.json")
    written = {f"L{i:07d}" for i in range(result["written"])}
    at_risk = {f"L{i:07d}" for first, last in result["windows"] for i in range(first, last + 1)}
    must_arrive = written - at_risk

    try:
        wait_for(lambda: must_arrive <= set(delivered_ids(out)), timeout=20, what="every line outside copytruncate's windows")
    except AssertionError:
        pass  # the figures below say what is missing
    settled(out, quiet_s=ROTATE_WAIT_S + 1.5)  # long enough for a released file to be found and read again
    agent.stop()
    ids = delivered_ids(out)
    counts = collections.Counter(ids)
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    lost = written - set(counts)
    print(f"\n{mode} every {period}s, paths [{'app.log*' if glob else 'app.log'}]: written {len(written)}, "
          f"rotations {result['rotations']}, delivered {len(ids)}, duplicates {duplicates}, lost {len(lost)}, "
          f"copytruncate window {len(at_risk)} lines")
    assert result["rotations"] >= 0.9 * duration / period - 1  # the writer kept (nearly) to its schedule
    assert set(counts) <= written, "delivered a line nobody wrote"
    assert duplicates == 0, f"{duplicates} lines delivered twice, e.g. {[i for i, n in counts.items() if n > 1][:5]}"
    assert not lost - at_risk, f"lost {sorted(lost - at_risk)[:10]}"
    if mode == "rename":
        assert not lost


@pytest.mark.parametrize("mode", ["rename", "copytruncate"])
def test_restart_in_the_middle_of_rotations_reads_nothing_twice(mode: str, write_config: Any, agent_process: Any,
                                                               tmp_path: Path) -> None:
    """Checkpoints keep a file's identity across a restart: under ``app.log*`` the rotated files are
    found again under their new names and read on from their offsets, copies are not read from 0."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").touch()
    out = tmp_path / "out.jsonl"
    cfg = write_config(f"""
        agent: {{state_dir: {tmp_path}/state, spool: {{sync: normal}}}}
        sources:
          app: {{type: file, paths: ["{logs}/app.log*"], decoder: json, rotate_wait_s: {ROTATE_WAIT_S}}}
        sinks:
          out: {{type: file, path: {out}, fsync: false}}
        routes:
          - {{name: default, to: [out]}}
        """)
    agent = agent_process(cfg)
    wait_for(lambda: "following" in agent.log, timeout=30, what="the agent to follow app.log")
    result_path = tmp_path / "writer.json"
    writer = subprocess.Popen([sys.executable, str(WRITER), str(logs), mode, "0.3", "4", str(RATE), str(result_path), "100"])  # nothing deleted while the agent is down
    try:
        time.sleep(1.5)
        assert agent.stop() == 0  # graceful: what was acknowledged is checkpointed
        time.sleep(0.7)  # rotations while the agent is down
        agent = agent_process(cfg)
        writer.wait(timeout=40)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    result = json.loads(result_path.read_text())
    written = {f"L{i:07d}" for i in range(result["written"])}
    at_risk = {f"L{i:07d}" for first, last in result["windows"] for i in range(first, last + 1)}
    try:
        wait_for(lambda: written - at_risk <= set(delivered_ids(out)), timeout=20, what="every line outside the windows")
    except AssertionError:
        pass  # the figures below say what is missing
    settled(out, quiet_s=ROTATE_WAIT_S + 1.5)
    assert agent.stop() == 0
    counts = collections.Counter(delivered_ids(out))
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    lost = written - set(counts)
    print(f"\n{mode} every 0.3s with a restart, paths [app.log*]: written {len(written)}, duplicates {duplicates}, "
          f"lost {len(lost)}, copytruncate window {len(at_risk)} lines")
    assert duplicates == 0, f"e.g. {[i for i, n in counts.items() if n > 1][:5]}"
    assert not lost - at_risk, f"lost {sorted(lost - at_risk)[:10]}"
