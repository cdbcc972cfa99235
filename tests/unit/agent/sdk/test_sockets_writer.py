"""``Writer``: ``write_joined`` (a batch's frames handed over as one buffer, with ``write``'s
outcomes) and ``release`` (a connection closed in order)."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from agent.sdk.outcome import Status
from agent.sdk.sockets import Writer
from agent.testing import TCPReceiver


def test_a_joined_batch_reaches_a_stream_peer_as_written() -> None:
    with TCPReceiver() as peer:
        writer = Writer("tcp", peer.address)
        try:
            outcome = writer.write_joined(b"3 abc3 def", 2)
            assert outcome.ok and "2 messages" in outcome.reason
            assert peer.wait_for_bytes(10) == b"3 abc3 def"
        finally:
            writer.close()


def test_a_joined_batch_is_appended_to_a_file(tmp_path: Path) -> None:
    writer = Writer("file", path=str(tmp_path / "out.log"))
    try:
        assert writer.write_joined(b"a\nb\n", 2).ok
        assert writer.write([b"c\n"]).ok
    finally:
        writer.close()
    assert (tmp_path / "out.log").read_bytes() == b"a\nb\nc\n"


def test_an_unreachable_peer_is_a_retry_not_an_exception() -> None:
    with TCPReceiver() as peer:
        address = peer.address
    outcome = Writer("tcp", address, timeout_s=1.0).write_joined(b"1 a", 1)
    assert outcome.status is Status.RETRY and "cannot connect" in outcome.reason


def test_udp_refuses_a_joined_batch() -> None:
    """On UDP each message is one datagram: joining them would send one malformed datagram."""
    with pytest.raises(ValueError, match="own datagram"):
        Writer("udp", "127.0.0.1:514").write_joined(b"ab", 2)


def test_release_waits_until_the_receiver_has_read_everything_and_closed() -> None:
    """The receiver closes its side only after reading to the end: when ``release`` returns
    True, every byte is with it (a successor's connection cannot overtake them)."""
    data = b"".join(b"%d %s" % (len(m), m) for m in [b"x" * 1000] * 2000)
    with TCPReceiver() as peer:
        writer = Writer("tcp", peer.address)
        assert writer.write_joined(data, 2000).ok
        assert writer.release() is True
        assert peer.data == data  # read in full before the release returned, not waited for here
        assert writer.write_joined(b"1 a", 1).ok  # a released writer connects again on demand
        writer.release()


def test_release_of_a_receiver_that_never_reads_gives_up_after_timeout_s() -> None:
    """A hung receiver (the kernel accepted the connection, the process never reads) holds a
    release only ``timeout_s``; the connection is closed all the same."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        writer = Writer("tcp", f"127.0.0.1:{silent.getsockname()[1]}", timeout_s=0.3)
        assert writer.write_joined(b"3 abc", 1).ok
        assert writer.release() is False
        assert writer.write_joined(b"3 def", 1).ok  # closed: the next write opens a new connection
        assert writer.connects == 2
        writer.close()


def test_release_of_a_connection_the_receiver_reset_returns_at_once() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        writer = Writer("tcp", f"127.0.0.1:{server.getsockname()[1]}", timeout_s=30.0)
        assert writer.write_joined(b"3 abc", 1).ok
        conn, _ = server.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # unread data and linger 0: a reset
        assert writer.release() is True  # nothing left to wait for (well within the 30 s)
