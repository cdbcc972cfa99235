"""Sink encoding in a child process, so a second core does the per-event encoding work.

The agent's threads share one interpreter lock: however many sink workers run, the
process uses one core. A sink whose encoder is pure (it declares
:attr:`agent.sdk.sink.Sink.ENCODE_OFFLOAD`, as every socket sink does) can have its
batches encoded by a child process while the main process tails, decodes and spools.

The child is a fresh interpreter (never a fork of a process that runs threads), started
by :func:`agent.processes.launch.start_child` (``siemrelay-encode-NAME`` on its command
line); it imports the sink's class by module and name, builds the same sink from the
same resolved configuration, and answers one request at a time over a pipe: the batch's
stored bytes in, the framed messages (or the encoder's exception) out. It never opens the
sink's transport.

What holds (the delivery promise is the worker's; this only changes where bytes are
computed):

- A child that dies, hangs past ``timeout_s`` or answers garbage is killed and
  replaced, with a warning; the batch in hand is encoded in-process instead, so it is
  neither lost nor sent twice (nothing was on the wire yet).
- An encoder exception in the child comes back as :class:`EncodeFailed` with the
  original type name and message, so the worker attributes it exactly as it does an
  in-process ``send`` that raised.
- The child ends when its parent's end of the pipe closes: on :meth:`close`, and when
  the agent is killed with SIGKILL (the kernel closes the pipe; no orphan stays).
"""

from __future__ import annotations

import importlib
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from agent.processes.channel import ChildChannel
from agent.processes.cores import usable_cores
from agent.processes.launch import ChildProcess, start_child
from agent.sdk.sink import Sink, SinkContext, SpooledEvent

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["EncodeFailed", "ChildEncoder", "offload_wanted", "importable", "GIVE_UP_AFTER"]

#: a child lost this many times in a row (it cannot even build its sink, say) is not started again
GIVE_UP_AFTER = 3


class EncodeFailed(Exception):
    """The sink's encoder raised in the child: its exception's type name, message and traceback."""

    def __init__(self, type_name: str, message: str, trace: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.trace = trace


@dataclass(frozen=True, slots=True)
class _Recipe:
    """What the child needs to build the same sink (picklable: no logger, no callables)."""

    module: str
    qualname: str
    name: str
    config: dict[str, Any]
    state_dir: str
    hostname: str


def importable(cls: type) -> bool:
    """Whether a child can import ``cls`` by module and name (not a class defined in a function)."""
    return "<locals>" not in cls.__qualname__ and cls.__module__ != "__main__"


def offload_wanted(sink: Sink, setting: str, cores: Callable[[], int] = usable_cores) -> bool:
    """Whether ``sink``'s batches are encoded in a child, from its ``encode_in`` setting.

    ``main``: never. ``child``: whenever the sink can (declares :attr:`Sink.ENCODE_OFFLOAD`
    and its class is importable). ``auto``: the same, and only when this process may use
    more than one core (on one core a child only adds the hand-over's cost).
    """
    able = bool(getattr(sink, "ENCODE_OFFLOAD", False)) and importable(type(sink))
    if setting == "main" or not able:
        return False
    return setting == "child" or cores() > 1


def _child_main(conn: ChildChannel, recipe: _Recipe) -> None:
    """The child's loop: build the sink, then answer encode requests until the pipe closes."""
    from loguru import logger

    cls: Any = importlib.import_module(recipe.module)
    for part in recipe.qualname.split("."):
        cls = getattr(cls, part)
    ctx = SinkContext(name=recipe.name, logger=logger.bind(component="sink", name=recipe.name),
                      state_dir=Path(recipe.state_dir), hostname=recipe.hostname)
    sink = cls(recipe.name, recipe.config, ctx)
    conn.send(("ready",))
    while True:
        try:
            items = conn.recv()
        except (EOFError, OSError):
            return  # the parent closed its end, or died: end with it
        try:
            frames = sink.encode_batch([SpooledEvent(seq, data) for seq, data in items])
        except Exception as exc:
            conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc()))
            continue
        conn.send(("ok", frames))


class ChildEncoder:
    """One sink's encoder in a child process; used by that sink's worker thread only.

    :meth:`encode` returns what ``sink.encode_batch`` would have returned, computed in the
    child when it is healthy, in-process otherwise. :meth:`close` ends the child.
    """

    def __init__(self, sink: Sink, logger: "Logger", *, timeout_s: float = 30.0, start_timeout_s: float = 60.0) -> None:
        cls = type(sink)
        self.sink = sink
        self.log = logger
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self._recipe = _Recipe(cls.__module__, cls.__qualname__, sink.name, dict(sink.config),
                               str(sink.ctx.state_dir), sink.ctx.hostname)
        self._proc: ChildProcess | None = None
        self._conn: ChildChannel | None = None
        self._ready = False
        self.restarts = 0
        self._lost_in_row = 0
        #: set after :data:`GIVE_UP_AFTER` losses in a row: encoding stays in-process from then on
        self.gave_up = False

    @property
    def pid(self) -> int | None:
        """The child's process id (None before the first start or after close)."""
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the child (it builds its sink while the caller goes on)."""
        if self._proc is not None:
            return
        proc, conn = start_child(_child_main, (self._recipe,), f"siemrelay-encode-{self.sink.name}")
        self._proc, self._conn, self._ready = proc, conn, False

    def encode(self, batch: Sequence[SpooledEvent]) -> Any:
        """The framed messages for ``batch``.

        :raises EncodeFailed: the encoder raised in the child (as it would have in-process).
        """
        if not self.gave_up:
            if self._proc is None:
                self.start()
            try:
                frames = self._ask(batch)
                self._lost_in_row = 0
                return frames
            except EncodeFailed:
                self._lost_in_row = 0
                raise
            except _ChildLost as lost:
                self._lost(str(lost))
        encode = self.sink.encode_batch
        assert encode is not None  # ENCODE_OFFLOAD promises it
        return encode(batch)

    def _lost(self, what: str) -> None:
        pid = self.pid
        self._kill()
        self._lost_in_row += 1
        if self._lost_in_row >= GIVE_UP_AFTER:
            self.gave_up = True
            self.log.error("sink {}: the encoding process {} (pid {}), {} times in a row; encoding in-process from now on",
                           self.sink.name, what, pid, self._lost_in_row)
            return
        self.log.warning("sink {}: the encoding process {} (pid {}); restarting it, this batch is encoded in-process",
                         self.sink.name, what, pid)
        self.restarts += 1
        self.start()

    def _ask(self, batch: Sequence[SpooledEvent]) -> Any:
        conn = self._conn
        assert conn is not None
        try:
            if not self._ready:
                self._ready = self._receive(conn, self.start_timeout_s)[0] == "ready"
                if not self._ready:
                    raise _ChildLost("sent no ready message")
            conn.send([(e.seq, e.data) for e in batch])
            answer = self._receive(conn, self.timeout_s)
        except (EOFError, OSError, BrokenPipeError):
            raise _ChildLost("died") from None
        if answer[0] == "ok":
            return answer[1]
        if answer[0] == "error":
            raise EncodeFailed(answer[1], answer[2], answer[3])
        raise _ChildLost(f"answered {answer[0]!r}")

    def _receive(self, conn: ChildChannel, timeout: float) -> tuple[Any, ...]:
        if not conn.poll(timeout):
            raise _ChildLost(f"did not answer within {timeout:.0f}s")
        answer = conn.recv()
        if not isinstance(answer, tuple) or not answer:
            raise _ChildLost("answered garbage")
        return answer

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()  # a healthy child sees EOF and ends by itself
        if proc is not None:
            proc.join(2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(5.0)

    def close(self) -> None:
        """End the child and wait for it (safe to call more than once)."""
        self._kill()


class _ChildLost(Exception):
    """The child died, hung or broke the protocol (never an encoder exception)."""
