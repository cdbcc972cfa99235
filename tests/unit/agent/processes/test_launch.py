"""Children started without multiprocessing's spawn: the function runs with its arguments
over the channel, the handle answers pid / is_alive / join / kill, no resource tracker
runs beside it, and a child that only prepares batches does not import ``requests``."""

from __future__ import annotations

import os
import sys
import time
from typing import Callable

from agent.processes.channel import ChildChannel
from agent.processes.launch import ChildProcess, start_child
from tests.conftest import child_pids


def echo(channel: ChildChannel, greeting: str, parent: int) -> None:
    """Answer the arguments and this process's view, then echo messages until EOF."""
    channel.send((greeting, parent, os.getppid(), os.getpid()))
    while True:
        try:
            channel.send(("echo", channel.recv()))
        except (EOFError, OSError):
            return


def imports(channel: ChildChannel) -> None:
    """What a preparing child imports: its module, the decoder plugins, the intake and router."""
    import agent.engine.prepare_child  # noqa: F401
    from agent.engine.intake import Intake  # noqa: F401
    from agent.plugins import DEFAULT_PLUGINS, load_plugins
    from agent.routing.router import compile_routes  # noqa: F401

    load_plugins(allow=[m for m in DEFAULT_PLUGINS if m.startswith("plugins.dec_")], entry_points=False)
    channel.send(sorted(m for m in ("requests", "urllib3", "multiprocessing.resource_tracker", "agent.cli.main")
                        if m in sys.modules))


def sleeper(channel: ChildChannel) -> None:
    time.sleep(60)


def _start(target: Callable[..., None], args: tuple[object, ...] = ()) -> tuple[ChildChannel, ChildProcess]:
    proc, ours = start_child(target, args, "siemrelay-prepare-test")
    return ours, proc


def test_the_child_runs_the_function_with_its_arguments_and_ends_at_eof() -> None:
    ours, proc = _start(echo, ("hello", os.getpid()))
    greeting, parent, ppid, pid = ours.recv()
    assert (greeting, parent, ppid, pid) == ("hello", os.getpid(), os.getpid(), proc.pid)
    ours.send({"batch": [1, 2, 3]})
    assert ours.recv() == ("echo", {"batch": [1, 2, 3]})
    assert proc.is_alive()
    assert child_pids(os.getpid()).count(pid) == 1
    ours.close()
    proc.join(10)
    assert not proc.is_alive()


def test_no_resource_tracker_and_no_cli_or_http_client_in_a_preparing_child() -> None:
    before = set(child_pids(os.getpid()))
    ours, proc = _start(imports)
    assert ours.recv() == []
    assert set(child_pids(os.getpid())) - before == {proc.pid}  # no third process
    ours.close()
    proc.join(10)


def test_kill_ends_a_child_that_does_not_read() -> None:
    ours, proc = _start(sleeper)
    assert proc.is_alive()
    proc.kill()
    proc.join(10)
    assert not proc.is_alive()
    ours.close()
