"""The agent ↔ child channel: widened pipes, whole messages in order, EOF when a side goes,
and the child's sender thread (answers in order, pickling errors to the caller)."""

from __future__ import annotations

import fcntl
import threading
import time

import pytest

from agent.processes.channel import ChildChannel, channel_pair, pickled
from agent.engine.prepare_child import _Sender

_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)


def _pipe_size(channel: ChildChannel) -> int:
    return int(fcntl.fcntl(channel.outgoing.fileno(), _F_GETPIPE_SZ))


def _limit() -> int:
    with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as f:
        return int(f.read())


def test_both_pipes_are_widened_to_what_the_kernel_allows() -> None:
    agent, child = channel_pair()
    try:
        wanted = min(4 << 20, _limit())
        assert _pipe_size(agent) == wanted and _pipe_size(child) == wanted
        assert wanted > 212_992  # more than a socketpair's default send buffer, the transport before
    finally:
        agent.close()
        child.close()


def test_a_batch_sized_message_fits_the_pipe_without_a_reader() -> None:
    """What the widening is for: a writer hands over a whole batch without waiting for the reader."""
    agent, child = channel_pair()
    try:
        message = ("batch", 1, [b"x" * 700] * 1000)  # about 0.7 MB pickled, a tail batch's order of size
        assert len(pickled(message)) < _pipe_size(agent)
        done = threading.Event()
        threading.Thread(target=lambda: (agent.send(message), done.set()), daemon=True).start()
        assert done.wait(5), "the send waited for a reader"
        assert child.recv() == message
    finally:
        agent.close()
        child.close()


def test_messages_cross_whole_and_in_order_both_ways_and_eof_follows_a_close() -> None:
    agent, child = channel_pair()
    big = b"y" * (3 << 20)  # larger than any pipe: crosses in pieces, read as one message
    received: list[object] = []
    reader = threading.Thread(target=lambda: received.extend(child.recv() for _ in range(3)))
    reader.start()
    agent.send(("a", 1))
    agent.send(("b", big))
    agent.send(("c", 3))
    reader.join(10)
    assert received == [("a", 1), ("b", big), ("c", 3)]
    child.send_bytes(pickled(("done", 7)))
    assert agent.recv() == ("done", 7)
    child.close()
    with pytest.raises(EOFError):
        agent.recv()
    agent.close()


def test_the_sender_keeps_the_order_and_leaves_pickling_errors_to_the_caller() -> None:
    agent, child = channel_pair()
    try:
        sender = _Sender(child)
        sender.put(("done", 1, "first"))
        with pytest.raises(TypeError):
            sender.put(("done", 2, threading.Lock()))  # a result that does not pickle: the child answers "failed"
        sender.put(("failed", 2, "traceback"))
        sender.put(("done", 3, "x" * (2 << 20)))
        got = [agent.recv() for _ in range(3)]
        assert [m[:2] for m in got] == [("done", 1), ("failed", 2), ("done", 3)]
    finally:
        agent.close()
        child.close()


def test_the_sender_stops_the_child_once_the_agent_is_gone() -> None:
    agent, child = channel_pair()
    sender = _Sender(child, depth=1)
    agent.close()  # the agent died: the next write fails
    deadline = time.monotonic() + 10
    with pytest.raises(OSError):
        while time.monotonic() < deadline:
            sender.put(("done", 1, "x" * 1000))
    child.close()
