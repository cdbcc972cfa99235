"""Which commits reach the disk before they are answered, counted at the system call.

``sync: full`` promises that a source's batch is on disk before the source is answered:
every commit holding an append fsyncs the write-ahead log. A sink's acknowledgement
(its cursor, the segments it frees, dead-letter moves, history, retry state) does not
need an fsync of its own: lost in a power failure it only makes the sink send again
(at least once), and the next append's fsync flushes the whole log, acknowledgements
included. ``strace`` counts the fsync and fdatasync calls of a real process doing each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is installed by tests/run.sh")

ROOT = Path(__file__).resolve().parents[4]

SCRIPT = textwrap.dedent('''
    import sys
    from agent.spool.store import Spool
    state, sync, appends, acks, tail_appends = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    sp = Spool(state, sync=sync)
    sp.open(["siem"])
    row = [(1, b'{"id": "e", "pad": "' + b"x" * 500 + b'"}')]
    for _ in range(appends):
        sp.append(row * 10)
    print("MARK", flush=True)  # the counted part starts here (stdout is not traced)
    for _ in range(acks):
        position = sp.cursor("siem") + 1
        sp.ack("siem", position, failures=None)
        sp.record_delivery("siem", 0.0, ["e"], "ok", 200, True, 1, 1.0, None)
        sp.flush()
    for _ in range(tail_appends):
        sp.append(row * 10)
    sp.flush()
    print("END", flush=True)  # the close's checkpoint is not counted
    sp.close()
''')


def _fsyncs(tmp_path: Path, sync: str, appends: int, acks: int, tail_appends: int) -> int:
    """fsync/fdatasync calls after the MARK (open and set-up excluded), by the spool's process."""
    state = tmp_path / f"state-{sync}-{appends}-{acks}-{tail_appends}"
    trace = tmp_path / f"trace-{state.name}"
    script = tmp_path / "spool_fsyncs.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync,write", "-o", str(trace), sys.executable,
                    str(script), str(state), sync, str(appends), str(acks), str(tail_appends)],
                   check=True, env=env, timeout=120, capture_output=True)
    lines = trace.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if "MARK" in line)
    end = next(i for i, line in enumerate(lines) if "END" in line)
    return sum(1 for line in lines[start:end] if "fsync(" in line or "fdatasync(" in line)


def test_under_sync_full_every_append_commit_is_fsynced(tmp_path: Path) -> None:
    assert _fsyncs(tmp_path, "full", 1, 0, 20) >= 20


def test_a_sinks_acknowledgements_add_no_fsync_of_their_own(tmp_path: Path) -> None:
    one_append = _fsyncs(tmp_path, "full", 1, 0, 1)
    with_acks = _fsyncs(tmp_path, "full", 1, 30, 1)  # 30 commits of a cursor, freed segments and history
    assert one_append >= 1
    assert with_acks == one_append, f"30 acknowledgements added {with_acks - one_append} fsyncs"


def test_sync_normal_fsyncs_no_commit(tmp_path: Path) -> None:
    assert _fsyncs(tmp_path, "normal", 1, 10, 10) == 0
