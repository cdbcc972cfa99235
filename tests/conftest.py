"""Shared fixtures: free loopback ports, config files and agent subprocesses.

``event_factory``, ``fake_clock``, ``http_receiver``, ``tcp_receiver`` and the sink
conformance suite come from siemrelay's own pytest plugin (``agent.testing.pytest_plugin``,
loaded by ``-p agent.testing.pytest_plugin`` in pyproject.toml's pytest options), the same
ones plugin authors opt into.

Fixtures that start processes always stop them, so no test leaves a process behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from agent.plugins import load_plugins
from bench.proctree import children as child_pids  # the benchmarks' listing: direct children of a pid
from tests.ports import pick_port  # re-exported: the tests import it from here

ROOT = Path(__file__).resolve().parent.parent


def _stale_extensions() -> list[str]:
    """Compiled modules under agent/ and plugins/ that are not what the tests should run: older
    than their source (an edit since the last ``pip install -e .``), or of a module no longer
    compiled (agent/compiled.py), which would shadow its source."""
    from importlib.machinery import EXTENSION_SUFFIXES

    from agent.compiled import HOT_PATH_MODULES

    stale = []
    for folder in ("agent", "plugins"):
        for built in sorted((ROOT / folder).rglob("*")):
            suffix = next((s for s in EXTENSION_SUFFIXES if built.name.endswith(s)), None)  # the longest first
            if suffix is None:
                continue
            source = built.with_name(built.name[:-len(suffix)] + ".py")
            name = ".".join(source.relative_to(ROOT).with_suffix("").parts)
            if name not in HOT_PATH_MODULES or not source.exists() or built.stat().st_mtime < source.stat().st_mtime:
                stale.append(str(built.relative_to(ROOT)))
    return stale


def pytest_configure(config: pytest.Config) -> None:
    stale = _stale_extensions()
    if stale:
        pytest.exit(f"compiled modules that are not their sources: {', '.join(stale)}; run `pip install -e .` "
                    "again (tests/run.sh does), or delete them to test the sources", returncode=4)


@pytest.fixture
def free_port() -> Callable[..., int]:
    return pick_port


@pytest.fixture
def plugin_set() -> Any:
    return load_plugins(entry_points=False)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a YAML config (dedented) into tmp_path and return its path."""

    def write(text: str, name: str = "siemrelay.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "condition") -> Any:
    """Poll ``predicate`` until truthy; fail the test with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    def connects() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_for(connects, timeout, what=f"{host}:{port} to accept connections")


class AgentProcess:
    """``python -m agent run -c CONFIG`` as a subprocess, logs captured to a file."""

    def __init__(self, config: Path, workdir: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.config = config
        self.workdir = workdir
        self.env = {**os.environ, **(env or {})}
        self.env.setdefault("PYTHONPATH", str(ROOT))
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"agent-{int(time.time() * 1000)}.log"

    def start(self) -> "AgentProcess":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "agent", "--log-format", "json", "run", "-c", str(self.config), *self.args],
                                     cwd=self.workdir, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        if hasattr(self, "_log"):
            self._log.close()


@pytest.fixture
def agent_process(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """Factory of agent subprocesses; every one is killed at teardown."""
    made: list[AgentProcess] = []

    def make(config: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> AgentProcess:
        ap = AgentProcess(config, tmp_path, env, args)
        made.append(ap)
        return ap.start()

    yield make
    for ap in made:
        ap.close()
        # shown by pytest only when the test failed: why an agent did not come up or what it said last
        print(f"--- agent {ap.config.name}, exit {ap.proc.returncode if ap.proc else None}, log {ap.log_path.name} (last 8 KB):")
        print(ap.log[-8192:])


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m agent ARGS`` and capture its output."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def spawned_children(pid: int) -> list[int]:
    """``pid``'s preparing and encoding children (``siemrelay-prepare-N``,
    ``siemrelay-encode-NAME`` on their command lines)."""
    found = []
    for child in child_pids(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"siemrelay-prepare-" in cmdline or b"siemrelay-encode-" in cmdline:
            found.append(child)
    return found


#: glibc's HEAP_MAX_SIZE on 64-bit machines: the address space each thread arena reserves
MALLOC_HEAP_SPAN = 64 << 20


def malloc_thread_arenas(pid: int) -> int:
    """How many thread arenas glibc's malloc made in ``pid`` (the main arena not counted), from
    ``/proc/PID/maps``: each is an anonymous mapping that starts on a :data:`MALLOC_HEAP_SPAN`
    boundary and, with the reserved (``---p``) rest that follows it, spans exactly that much."""
    regions = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        start, end = (int(x, 16) for x in fields[0].split("-"))
        regions.append((start, end, fields[1], fields[5] if len(fields) > 5 else ""))
    found = 0
    for i, (start, end, perms, name) in enumerate(regions):
        if name or start % MALLOC_HEAP_SPAN or not perms.startswith("rw"):
            continue
        if i + 1 < len(regions) and regions[i + 1][0] == end and regions[i + 1][2].startswith("---") \
                and not regions[i + 1][3]:
            end = regions[i + 1][1]
        found += end - start == MALLOC_HEAP_SPAN
    return found


def write_numbered_events(path: Path, first: int, count: int) -> list[str]:
    """Append ``count`` JSON events with ids ``ev-NNNNN`` from ``first``; their ids."""
    ids = [f"ev-{i:05d}" for i in range(first, first + count)]
    with path.open("a", encoding="utf-8") as f:
        for eid in ids:
            f.write(json.dumps({"id": eid, "title": f"event {eid}", "severity": "high", "type": "finding.new"}) + "\n")
    return ids


def json_lines(path: Path, rotated: bool = False) -> list[Any]:
    """The complete JSON lines a peer or a ``file`` sink wrote to ``path``, in order.

    The writer may be in the middle of a line while a test polls, so the text after the
    last newline is left for the next look. ``rotated``: also the files the sink rotated
    ``path`` into (``path.1`` …), by name.
    """
    out: list[Any] = []
    for p in sorted(p for p in path.parent.glob(path.name + "*") if p.name == path.name or p.suffix[1:].isdigit()) if rotated else [path]:
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        out += [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines() if line.strip()]
    return out


def received_ids(path: Path) -> list[str]:
    """Ids of the complete JSON lines a peer wrote to ``path`` (the last one may still be half written)."""
    return [record["id"] for record in json_lines(path)]


def require_tool(name: str, package: str) -> str:
    """The path of a peer the test command installs; a missing one fails the test, never skips it."""
    import shutil

    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: the test command (bash tests/run.sh) installs Debian's {package}")
    return path
