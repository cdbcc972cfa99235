"""Listening sockets handed from one instance of a source to the next (what a reload does)."""

from __future__ import annotations

import socket

import pytest

from agent.sdk.listeners import Listeners
from tests.ports import pick_port


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_a_connection_made_while_the_sources_swap_is_accepted_by_the_successor() -> None:
    listeners = Listeners()
    first = listeners.stream("127.0.0.1", 0, backlog=16)
    port = first.getsockname()[1]
    listeners.hand_over()
    first.close()  # the old instance stops
    listeners.close()  # ... and gives its sockets back: kept, a hand-over is pending
    with _connect(port) as client:  # between the two instances: queued by the kernel, not refused
        client.sendall(b"hello")
        second = listeners.stream("127.0.0.1", 0, backlog=16)  # same key: the same socket
        listeners.settle()
        assert second.getsockname()[1] == port
        second.settimeout(5)
        conn, _ = second.accept()
        with conn:
            assert conn.recv(5) == b"hello"
    second.close()
    listeners.close()
    assert listeners.open_count == 0
    with pytest.raises(ConnectionRefusedError):
        _connect(port).close()


def test_a_datagram_sent_while_the_sources_swap_waits_for_the_successor() -> None:
    listeners = Listeners()
    first = listeners.datagram("127.0.0.1", 0, receive_buffer=65536)
    port = first.getsockname()[1]
    listeners.hand_over()
    first.close()
    listeners.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"<13>1 - - - - - - during the reload", ("127.0.0.1", port))
    second = listeners.datagram("127.0.0.1", 0)
    listeners.settle()
    second.settimeout(5)
    assert second.recvfrom(1024)[0] == b"<13>1 - - - - - - during the reload"
    second.close()
    listeners.close()


def test_a_socket_the_successor_does_not_take_again_closes_when_the_hand_over_settles() -> None:
    listeners = Listeners()
    old = listeners.stream("127.0.0.1", 0, backlog=16)
    old_port = old.getsockname()[1]
    listeners.hand_over()
    old.close()
    listeners.close()
    new = listeners.stream("127.0.0.1", pick_port(), backlog=16)  # the address changed
    assert listeners.open_count == 2
    listeners.settle()
    assert listeners.open_count == 1
    with pytest.raises(ConnectionRefusedError):
        _connect(old_port).close()
    with _connect(new.getsockname()[1]):
        pass
    new.close()
    listeners.close()


def test_without_a_hand_over_close_releases_the_address() -> None:
    listeners = Listeners()
    sock = listeners.stream("127.0.0.1", 0, backlog=16)
    port = sock.getsockname()[1]
    sock.close()
    listeners.close()
    assert listeners.open_count == 0
    with pytest.raises(ConnectionRefusedError):
        _connect(port).close()
    again = Listeners().stream("127.0.0.1", port, backlog=16)  # the port is free for anyone again
    again.close()


def test_an_address_in_use_raises_and_holds_nothing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listeners = Listeners()
        with pytest.raises(OSError):
            listeners.stream("127.0.0.1", taken.getsockname()[1], backlog=16)
        assert listeners.open_count == 0
