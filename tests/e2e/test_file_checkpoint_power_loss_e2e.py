"""The file source's checkpoint after a power loss, through the real agent (tail → spool → file sink).

The checkpoint is written after every committed batch without an fsync (a ``kill -9``
keeps what the kernel was given) and fsynced, as ``checkpoints.synced.json``, at most
once a second and while the reader is idle. A power loss can leave
``checkpoints.json`` empty (its rename reached the disk, its data did not): emulated
here by emptying it after a ``kill -9``. With ``read_from: end``, a source that lost
its checkpoint would start at the file's end and skip what was written meanwhile;
the synced copy keeps every line, and only lines committed after it was written come
twice.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import json_lines, wait_for

pytestmark = pytest.mark.e2e


def test_an_emptied_checkpoint_falls_back_to_the_synced_copy_and_skips_nothing(tmp_path: Path, agent_process) -> None:
    src = tmp_path / "in" / "app.jsonl"
    src.parent.mkdir()
    out = tmp_path / "out" / "events.jsonl"
    state = tmp_path / "state" / "sources" / "files"
    config = tmp_path / "siemrelay.yaml"
    config.write_text(f"""
agent: {{state_dir: {tmp_path}/state}}
sources:
  files: {{type: file, paths: ["{src}"], read_from: end, batch_lines: 20, checkpoint_sync_s: 1.0}}
sinks:
  archive: {{type: file, path: "{out}", fsync: false}}
routes:
  - {{name: all, to: [archive]}}
""")

    def append(first: int, count: int) -> None:
        with src.open("a") as f:
            f.write("".join(json.dumps({"id": f"line-{i:04d}"}) + "\n" for i in range(first, first + count)))

    def delivered() -> list[int]:
        return [int(r["id"].split("-")[1]) for r in json_lines(out)]

    append(-10, 10)  # before the first start: read_from: end skips these
    agent = agent_process(config)
    wait_for(lambda: "following" in agent.log, 30, what="the file followed")
    append(0, 100)
    wait_for(lambda: len(delivered()) >= 100, 30, what="the first 100 lines")
    time.sleep(1.5)  # idle past the sync interval: the synced copy catches up
    append(100, 100)
    wait_for(lambda: len(delivered()) >= 200, 30, what="the next 100 lines")
    agent.send_signal(signal.SIGKILL)
    agent.proc.wait(10)
    assert json.loads((state / "checkpoints.synced.json").read_bytes())  # a synced copy was written
    (state / "checkpoints.json").write_bytes(b"")  # what a power loss can leave of a file renamed without an fsync
    append(200, 100)  # written while the agent is down
    agent_process(config)
    wait_for(lambda: set(delivered()) >= set(range(300)), 60, what="every line after the restart")
    time.sleep(0.5)  # anything read twice arrives meanwhile
    got = delivered()
    assert set(got) == set(range(300))  # the first ten were before the first start (read_from: end)
    twice = {i for i, n in Counter(got).items() if n > 1}
    assert twice <= set(range(100, 200)), "only what was committed after the synced copy comes twice"
