"""The spool and its dead letters are private whatever the umask the agent starts with.

The spool holds event bodies and dead letters (the raw bytes a sender posted, secrets
included when a sender leaks them). The audit ran the agent under ``umask 000`` and
found the database world-readable. Here the agent runs as a subprocess under that
umask, stores an event and a decode dead letter, and the state directory, the database
and its WAL files must be private; the ``dlq`` CLI, which can create a spool on its
own, must do the same; and a spool left world-readable by an older version is
narrowed when the agent opens it.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, pick_port, wait_for, wait_for_port

pytestmark = pytest.mark.e2e


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as fh:
        return subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(config)], env=env, cwd=config.parent,
                                stdout=fh, stderr=subprocess.STDOUT, umask=0o000)


def _config(tmp_path: Path, port: int, state: Path) -> Path:
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {state}
        sources:
          hooks: {{type: http, address: "127.0.0.1:{port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/out.jsonl}}
        routes:
          - {{name: default, to: [archive]}}
        """))
    return config


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_agent_under_umask_000_keeps_spool_and_dead_letters_private(tmp_path: Path) -> None:
    port = pick_port()
    state = tmp_path / "state"
    proc = _start(_config(tmp_path, port, state), tmp_path / "agent.log")
    try:
        wait_for_port(port, timeout=30)
        ok = requests.post(f"http://127.0.0.1:{port}/events", json={"id": "m-1", "title": "fine"}, timeout=10)
        bad = requests.post(f"http://127.0.0.1:{port}/events", data=b'{"id": "m-2", "token": "s3cr', timeout=10,
                            headers={"Content-Type": "application/json"})
        assert ok.status_code == 200 and bad.status_code == 400, (ok.text, bad.text)
        db = state / "spool.db"
        wait_for(lambda: (state / "spool.db-wal").exists(), 10, what="the WAL file")
        files = [db, state / "spool.db-wal", state / "spool.db-shm"]
        for path in files:
            assert _mode(path) & 0o037 == 0, f"{path.name} is {oct(_mode(path))} under umask 000"
        assert _mode(state) & 0o027 == 0, f"state directory is {oct(_mode(state))}"
    finally:
        _stop(proc)
    listed = subprocess.run([sys.executable, "-m", "agent", "dlq", "list", "-c", str(tmp_path / "siemrelay.yaml")],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert "(decode:hooks)" in listed.stdout, listed.stdout + listed.stderr  # the dead letter is really in there
    assert _mode(state / "spool.db") & 0o037 == 0


def test_the_dlq_cli_creating_a_spool_under_umask_000_keeps_it_private(tmp_path: Path) -> None:
    state = tmp_path / "fresh-state"
    config = _config(tmp_path, pick_port(), state)
    res = subprocess.run([sys.executable, "-m", "agent", "dlq", "list", "-c", str(config)], umask=0o000,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert _mode(state) & 0o027 == 0, oct(_mode(state))
    assert _mode(state / "spool.db") & 0o037 == 0, oct(_mode(state / "spool.db"))


def test_a_world_readable_spool_from_before_is_narrowed_at_start(tmp_path: Path) -> None:
    port = pick_port()
    state = tmp_path / "state"
    config = _config(tmp_path, port, state)
    proc = _start(config, tmp_path / "first.log")
    try:
        wait_for_port(port, timeout=30)
    finally:
        _stop(proc)
    os.chmod(state, 0o777)
    os.chmod(state / "spool.db", 0o666)
    proc = _start(config, tmp_path / "second.log")
    try:
        wait_for_port(port, timeout=30)
        assert _mode(state / "spool.db") == 0o640
        assert _mode(state) == 0o750
    finally:
        _stop(proc)
