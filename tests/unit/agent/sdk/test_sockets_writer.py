"""``Writer.write_joined``: a batch's frames handed over as one buffer, with ``write``'s outcomes."""

from __future__ import annotations

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
