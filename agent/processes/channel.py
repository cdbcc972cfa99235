"""The two-way channel between the agent and one of its child processes, sized for batches.

``multiprocessing.Pipe(duplex=True)`` is a Unix socketpair, whose send buffer is capped
by ``net.core.wmem_max`` (208 KiB on a stock Debian). A file tail's batch is about
1.4 MB each way, so it crossed in a few dozen pieces, and between two pieces the
sending or receiving thread of the agent had to win back the interpreter lock from the
spool writer, the tail and the sink workers: up to the 5 ms switch interval each time.
Profiled on the running agent (py-spy, the side-by-side file workload), the tail's
thread spent 45 % of its busy samples in ``Connection._send`` and the child 23 % in its
own, waiting for the agent to read.

A pipe can be widened without privileges to ``/proc/sys/fs/pipe-max-size`` (1 MiB by
default) with ``F_SETPIPE_SZ``, so a channel here is two one-way pipes, each widened:
a batch crosses in one or two writes. Where widening is refused (another kernel, a
lower limit, the per-user pipe quota) the pipes keep their default size and work as
before, only slower. The messages, their pickling and their order are
``multiprocessing.connection``'s; only the transport changes.
"""

from __future__ import annotations

import fcntl
from multiprocessing.connection import Connection, Pipe
from multiprocessing.reduction import ForkingPickler
from typing import Any

__all__ = ["ChildChannel", "channel_pair", "pickled", "WANTED_PIPE_BYTES"]

#: the size asked for: a tail batch (2,000 lines of about 700 bytes) with room to spare;
#: the kernel's ``pipe-max-size`` caps it
WANTED_PIPE_BYTES = 4 << 20
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux; the constant is in fcntl from Python 3.10
_PIPE_MAX = "/proc/sys/fs/pipe-max-size"


class ChildChannel:
    """One end of the channel: ``send`` on one pipe, ``recv`` from the other.

    It stands where a duplex :class:`~multiprocessing.connection.Connection` stood:
    ``send``, ``recv``, ``poll`` and ``close``; :func:`multiprocessing.connection.wait` watches
    ``incoming``. A child gets its end as two file descriptors
    (:func:`agent.processes.launch.start_child`).
    """

    __slots__ = ("incoming", "outgoing")

    def __init__(self, incoming: Connection, outgoing: Connection) -> None:
        self.incoming = incoming
        self.outgoing = outgoing

    def send(self, obj: object) -> None:
        self.outgoing.send(obj)

    def send_bytes(self, buf: bytes | memoryview) -> None:
        """Send what :func:`pickled` made of a message (the other side's ``recv`` reads it as ``send``'s)."""
        self.outgoing.send_bytes(buf)

    def recv(self) -> Any:  # noqa: ANN401 - whatever the other side sent, as Connection.recv
        return self.incoming.recv()

    def poll(self, timeout: float) -> bool:
        """Whether a message (or EOF) is there to ``recv``, waiting at most ``timeout`` seconds."""
        return self.incoming.poll(timeout)

    def close(self) -> None:
        """Close both pipes (the other side then reads EOF)."""
        for conn in (self.outgoing, self.incoming):
            try:
                conn.close()
            except OSError:
                pass


def pickled(obj: object) -> memoryview:
    """``obj`` pickled as :meth:`ChildChannel.send` pickles it (so a sender can pickle on
    one thread, and see a pickling error there, and write on another)."""
    return ForkingPickler.dumps(obj)


def _pipe_limit() -> int:
    try:
        with open(_PIPE_MAX, encoding="ascii") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 20


def widen(conn: Connection, size: int) -> int:
    """Ask the kernel for a ``size``-byte buffer on the pipe under ``conn``; the size it has then."""
    try:
        return int(fcntl.fcntl(conn.fileno(), _F_SETPIPE_SZ, size))
    except OSError:
        return 0  # refused (a quota, not Linux): the default size still works


def channel_pair(size: int = WANTED_PIPE_BYTES) -> tuple[ChildChannel, ChildChannel]:
    """``(the agent's end, the child's end)``: two widened one-way pipes
    (:func:`agent.processes.launch.start_child` hands the child's end over and closes it here)."""
    size = min(size, _pipe_limit())
    down_read, down_write = Pipe(duplex=False)  # agent → child
    up_read, up_write = Pipe(duplex=False)  # child → agent
    for conn in (down_write, up_write):
        widen(conn, size)
    return ChildChannel(up_read, down_write), ChildChannel(down_read, up_write)
