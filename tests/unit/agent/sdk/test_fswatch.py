"""The inotify wrapper against the real kernel: the changes a file tail needs, with their paths."""

from __future__ import annotations

import os
from pathlib import Path

from agent.sdk.fswatch import DirectoryWatcher, FsChange


def collect(w: DirectoryWatcher, want: int) -> list[tuple[FsChange, str, int]]:
    out: list[tuple[FsChange, str, int]] = []
    for _ in range(20):
        out += [(e.change, os.path.basename(e.path), e.cookie) for e in w.read(0.1)]
        if len(out) >= want:
            break
    return out


def test_create_rename_delete_are_reported_with_paired_cookies(tmp_path: Path) -> None:
    w = DirectoryWatcher()
    try:
        assert w.available, w.error  # the test machine is Linux: notifications must work here
        assert w.watch(str(tmp_path)) and w.watch(str(tmp_path))  # idempotent
        (tmp_path / "app.log").write_bytes(b"x\n")
        os.rename(tmp_path / "app.log", tmp_path / "app.log.1")
        os.unlink(tmp_path / "app.log.1")
        seen = collect(w, 5)
        kinds = [(c, n) for c, n, _ in seen if c is not FsChange.MODIFIED]
        assert kinds == [(FsChange.CREATED, "app.log"), (FsChange.MOVED_FROM, "app.log"),
                         (FsChange.MOVED_TO, "app.log.1"), (FsChange.DELETED, "app.log.1")]
        cookies = [k for c, _, k in seen if c in (FsChange.MOVED_FROM, FsChange.MOVED_TO)]
        assert len(set(cookies)) == 1 and cookies[0] != 0
    finally:
        w.close()
    assert not w.available and w.read(0) == []


def test_a_missing_directory_is_refused_not_raised(tmp_path: Path) -> None:
    w = DirectoryWatcher()
    try:
        assert w.watch(str(tmp_path / "nope")) is False and w.error
    finally:
        w.close()


_NO_PROCESSES = """
import os, subprocess, sys, tempfile
def refuse(*args, **kwargs):
    raise AssertionError(f"a process was started: {args[1] if len(args) > 1 else kwargs.get('args')}")
subprocess.Popen.__init__ = refuse  # what ctypes.util.find_library's `ldconfig -p` would go through
from agent.processes.allocator import tune_allocator
from agent.sdk.fswatch import DirectoryWatcher
print(tune_allocator(environ={}))
w = DirectoryWatcher()
assert w.available, w.error
with tempfile.TemporaryDirectory() as d:
    assert w.watch(d)
    open(os.path.join(d, "app.log"), "wb").close()
    print(sorted({e.change.name for e in w.read(1.0)}))
w.close()
"""


def test_the_watcher_and_the_allocator_start_no_process() -> None:
    # Both load the C library: through the interpreter's own symbols, not by running
    # `ldconfig -p` (a fork of the agent at every start, counted in its peak memory by
    # anything that sums its processes). In a fresh interpreter: the library's lookup
    # is kept for the life of a process.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[4]
    res = subprocess.run([sys.executable, "-c", _NO_PROCESSES], cwd=root, capture_output=True, text=True, timeout=60, check=False,
                         env=dict(os.environ, PYTHONPATH=str(root)))
    assert res.returncode == 0, res.stderr
    said, changes = res.stdout.splitlines()
    assert said.startswith("glibc ") and "CREATED" in changes
