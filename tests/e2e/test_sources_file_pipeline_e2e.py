"""The file source with batches in flight, through the real agent: tail → spool → file sink, kill -9, restart.

A writer appends about 200,000 lines a second until the agent is killed (faster than the
agent reads on any machine it runs on), so the source keeps several batches waiting for
the spool's commit (``max_inflight_batches: 4``) when the agent is killed. (A fixed
60,000 lines written at once could be read whole before the kill on a fast machine.) After the
restart every line reaches the sink; a line comes twice only if it lies past the
checkpoint the killed agent left (at most the batches in flight: committed, perhaps,
but not yet acknowledged), or if the sink re-sends what it wrote just before the kill.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.conftest import json_lines, wait_for

pytestmark = pytest.mark.e2e

MAX_LINES = 400_000  # the writer's bound if the kill is late
SINK_BATCH = 200


def _config(tmp_path: Path) -> Path:
    text = f"""
agent:
  state_dir: {tmp_path}/state
  shutdown_timeout_s: 5
sources:
  files:
    type: file
    paths: ["{tmp_path}/in/*.jsonl"]
    batch_lines: 500
    max_inflight_batches: 4
sinks:
  archive:
    type: file
    path: {tmp_path}/out/events.jsonl
    fsync: false
    batch: {{max_events: {SINK_BATCH}, max_wait_s: 0.05}}
routes:
  - name: default
    to: [archive]
"""
    path = tmp_path / "siemrelay.yaml"
    path.write_text(text)
    (tmp_path / "in").mkdir(exist_ok=True)
    return path


def _line(i: int) -> bytes:
    return orjson.dumps({"id": f"line-{i:06d}", "title": "from file", "pad": "x" * 200}) + b"\n"


def _delivered(out: Path) -> list[int]:
    """Numbers of the lines the file sink wrote, its rotated files included."""
    return [int(record["id"].split("-")[1]) for record in json_lines(out, rotated=True)]


def _checkpointed_lines(tmp_path: Path, src: Path) -> int:
    """How many lines of ``src`` the checkpoint the killed agent left covers."""
    state = tmp_path / "state" / "sources" / "files" / "checkpoints.json"
    offset = max((v["offset"] for v in orjson.loads(state.read_bytes()).values()), default=0)
    return src.read_bytes()[:offset].count(b"\n")


def test_kill_9_with_batches_in_flight_then_restart_delivers_every_line(tmp_path: Path, agent_process) -> None:
    cfg = _config(tmp_path)
    src = tmp_path / "in" / "app.jsonl"
    out = tmp_path / "out" / "events.jsonl"
    agent = agent_process(cfg)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        with open(src, "ab", buffering=1 << 16) as fh:
            for start in range(0, MAX_LINES, 1000):
                if stop.is_set():
                    return
                fh.write(b"".join(_line(i) for i in range(start, start + 1000)))
                fh.flush()
                written[0] = start + 1000
                time.sleep(0.005)

    t = threading.Thread(target=writer)
    t.start()
    try:
        wait_for(lambda: out.exists() and len(_delivered(out)) > 5000, timeout=60, what="delivery under way")
        agent.send_signal(signal.SIGKILL)  # mid-stream: the writer still appends, batches wait for their commit
        agent.proc.wait(10)
    finally:
        stop.set()
        t.join(60)
    lines = written[0]
    covered = _checkpointed_lines(tmp_path, src)
    before_restart = _delivered(out)
    assert 0 < covered < lines, "the kill came after the source had read everything: nothing was in flight"
    agent_process(cfg)
    wait_for(lambda: set(_delivered(out)) >= set(range(lines)), timeout=120, what="every line after the restart")
    delivered = _delivered(out)
    assert set(delivered) == set(range(lines))
    twice = [i for i, n in Counter(delivered).items() if n > 1]
    # the source reads again only past its checkpoint; a line behind it comes twice only when the
    # sink re-sends what it wrote just before the kill (its cursor commit follows its writes)
    resent_by_sink = set(before_restart[-4 * SINK_BATCH:])
    assert {i for i in twice if i < covered} <= resent_by_sink, "lines the checkpoint covered were read again"
    assert len([i for i in twice if i >= covered]) <= 4 * 500, "more than the batches in flight were read again"
