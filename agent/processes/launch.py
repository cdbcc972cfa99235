"""Start a child interpreter that runs one function over a :class:`ChildChannel`.

``multiprocessing``'s ``spawn`` start method did this before, at a price measured on
the side-by-side file workload (docs/hot-path.md): it starts a second helper process,
the *resource tracker* (13 MB of RSS, tracking semaphores and shared memory the
agent's children never use), and the child imports the agent's ``__main__`` again
(the whole CLI) before it runs anything. Here the child is the same interpreter started
with :class:`subprocess.Popen`: the parent's ``sys.path`` in an environment variable,
the channel's two pipe ends passed as file descriptors, and the function with its
arguments pickled down the channel as the first message. So the child imports only
what its function needs, and no third process runs.

The handle answers what the pool asked of a ``multiprocessing.Process``: ``pid``,
``is_alive``, ``join`` and ``kill``. A child never outlives the agent: when the agent
dies, the kernel closes its pipe ends, and the child reads EOF (it also asks for
SIGKILL on the agent's death, :func:`agent.engine.prepare_child.child_main`).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from multiprocessing.connection import Connection
from typing import Callable, Sequence

from agent.processes.allocator import tune_allocator
from agent.processes.channel import ChildChannel, channel_pair

__all__ = ["ChildProcess", "SpareChild", "start_child", "boot"]

_PATH_VAR = "SIEMRELAY_CHILD_SYS_PATH"
_BOOT = (f"import json, os, sys; sys.path[:] = json.loads(os.environ.pop({_PATH_VAR!r})); "
         "from agent.processes.launch import boot; boot()")


class ChildProcess:
    """A started child: the few things the agent asks of it."""

    __slots__ = ("_popen",)

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen

    @property
    def pid(self) -> int:
        return self._popen.pid

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        """Wait for the child to end, at most ``timeout`` seconds (it may still run after)."""
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        self._popen.kill()  # a no-op once it has ended (Popen checks)


def _spawn(name: str, preload: Sequence[str] = ()) -> tuple[subprocess.Popen[bytes], ChildChannel]:
    """A child interpreter importing ``preload``, then waiting for its function; the agent's end."""
    ours, theirs = channel_pair()
    fds = (theirs.incoming.fileno(), theirs.outgoing.fileno())
    env = dict(os.environ)
    env[_PATH_VAR] = json.dumps([p for p in sys.path if isinstance(p, str)])
    try:
        popen = subprocess.Popen([sys.executable, "-P", "-c", _BOOT, name, str(fds[0]), str(fds[1]), ",".join(preload)],
                                 pass_fds=fds, env=env, stdin=subprocess.DEVNULL, close_fds=True)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return popen, ours


class SpareChild:
    """A child started ahead of need: it imports ``preload`` while the agent is still
    starting, then waits for the function :func:`start_child` gives it.

    A child's start is mostly imports (about 0.2 s on the side-by-side machine), and until
    the preparing child is ready the agent prepares every batch itself, on one core. The
    agent's own start (its imports, the plugins, the configuration) takes about as long,
    so a child started before it, on the other core, is ready when the first file is
    read. A spare nobody takes is ended by :meth:`discard` (or reads EOF when the agent
    ends, and ends too), so it never outlives the agent.
    """

    def __init__(self, name: str, preload: Sequence[str] = ()) -> None:
        self.name = name
        self._started: tuple[subprocess.Popen[bytes], ChildChannel] | None = _spawn(name, preload)

    @property
    def pid(self) -> int | None:
        """The spare's process id while nobody has taken it."""
        return self._started[0].pid if self._started is not None else None

    def take(self) -> tuple[subprocess.Popen[bytes], ChildChannel] | None:
        """The started child and the agent's end of its channel, once; None afterwards."""
        started, self._started = self._started, None
        return started

    def discard(self) -> None:
        """End the spare unless it was taken (safe to call more than once)."""
        started = self.take()
        if started is None:
            return
        popen, ours = started
        ours.close()
        popen.kill()  # it was given nothing: nothing is lost
        try:
            popen.wait(5.0)
        except subprocess.TimeoutExpired:
            pass


def start_child(target: Callable[..., None], args: tuple[object, ...], name: str, spare: SpareChild | None = None
                ) -> tuple[ChildProcess, ChildChannel]:
    """Start a child that calls ``target(its end of the channel, *args)``; return it and the
    agent's end of a fresh :func:`~agent.processes.channel.channel_pair`.

    Only the child holds its end afterwards, so the agent reads EOF when the child dies,
    and the child when the agent closes its end (or dies).

    :param target: a module-level function (pickled by reference: the child imports its module).
    :param name: shown on the child's command line (``ps``).
    :param spare: a :class:`SpareChild` to give ``target`` to instead of starting one
        (when it is still there to take).
    """
    started = spare.take() if spare is not None else None
    popen, ours = started if started is not None else _spawn(name)
    try:
        ours.send((target, args))
    except (OSError, ValueError):
        pass  # it died at once: its caller sees EOF on the channel
    return ChildProcess(popen), ours


def boot() -> None:
    """The child's side: rebuild its end of the channel, read the function, run it."""
    down, up = int(sys.argv[2]), int(sys.argv[3])
    tune_allocator()  # as the agent does: a child's batches churn the same megabytes
    channel = ChildChannel(Connection(down, writable=False), Connection(up, readable=False))
    for module in filter(None, sys.argv[4].split(",")):  # _spawn always passes the preload list (maybe empty)
        try:  # while the agent starts (SpareChild); what fails here fails again, reported, where it is used
            importlib.import_module(module)
        except Exception:
            pass
    try:
        target, args = channel.recv()
    except (EOFError, OSError):
        return  # the agent closed the channel before the child started
    target(channel, *args)
