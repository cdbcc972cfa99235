"""Listening sockets that outlive one instance of a source, so a reload never refuses a connection.

A reload that changes a listening source stops the old instance and starts the new
one. If the old one closed its socket, every connection attempted in between would
be refused, and the connections already waiting in the old socket's accept queue
would be reset. Binding the new socket with ``SO_REUSEPORT`` before closing the old
one does not help either: Linux spreads new connections over both sockets, and what
sits in the old one's queue when it closes is still reset.

So the socket itself is handed over. A source asks its context's :class:`Listeners`
for its socket instead of binding one, and gets its own duplicate of a socket the
:class:`Listeners` keeps open. When a reload replaces the source under the same name,
the engine marks the hand-over (:meth:`Listeners.hand_over`) before stopping the old
instance, gives the same :class:`Listeners` to the new instance, and settles it
(:meth:`Listeners.settle`) once the new one started. Meanwhile the kernel keeps
completing handshakes (TCP) and queueing datagrams (UDP) on the socket; the new
instance accepts or reads them. A socket nobody took again (the address changed, the
source was removed) is closed when the hand-over settles.

A source therefore never calls ``shutdown()`` on a listening socket (it would end it
for the successor too): it stops its own loop and closes its duplicate.
"""

from __future__ import annotations

import socket
import threading

from agent.sdk.net import family_of

__all__ = ["Listeners"]

_Key = tuple[int, str, int]


class Listeners:
    """The listening sockets of one source name, kept open across the reloads that replace it.

    Thread-safe; a source calls :meth:`stream` or :meth:`datagram` in ``start`` and
    :meth:`close` at the end of ``stop``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[_Key, socket.socket] = {}
        self._taken: set[_Key] = set()
        self._handing_over = False

    def stream(self, host: str, port: int, *, backlog: int, v6only: bool = False) -> socket.socket:
        """A listening TCP socket on ``host:port``: the predecessor's if it had one there, else a new one.

        :param v6only: an IPv6 socket takes no IPv4 connections (what asyncio's servers do).
        :returns: a socket of the caller's own (a duplicate): closing it leaves the
            shared one listening.
        :raises OSError: the address cannot be bound.
        """
        sock = self._take((socket.SOCK_STREAM, host, port), host, port, v6only)
        sock.listen(backlog)  # also applies a changed backlog to a socket taken over
        return sock

    def datagram(self, host: str, port: int, *, receive_buffer: int = 0) -> socket.socket:
        """A bound UDP socket on ``host:port``, taken over or new, as :meth:`stream`."""
        sock = self._take((socket.SOCK_DGRAM, host, port), host, port, False)
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        return sock

    def _take(self, key: _Key, host: str, port: int, v6only: bool) -> socket.socket:
        with self._lock:
            held = self._open.get(key)
            if held is None:
                held = socket.socket(family_of(host), key[0])
                try:
                    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    if v6only and held.family == socket.AF_INET6:
                        held.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    held.bind((host, port))
                except OSError:
                    held.close()
                    raise
                self._open[key] = held
            self._taken.add(key)
            return held.dup()

    def hand_over(self) -> None:
        """The engine, before stopping a source it replaces: keep the sockets open through its ``close``."""
        with self._lock:
            self._handing_over = True
            self._taken.clear()

    def settle(self) -> None:
        """The engine, once the successor started (or failed to): close the sockets it did not take."""
        with self._lock:
            self._handing_over = False
            gone = [k for k in self._open if k not in self._taken]
            socks = [self._open.pop(k) for k in gone]
        for sock in socks:
            sock.close()

    def close(self) -> None:
        """The source stopped: close its listening sockets, unless a reload hands them to its successor."""
        with self._lock:
            if self._handing_over:
                return
            socks = list(self._open.values())
            self._open.clear()
            self._taken.clear()
        for sock in socks:
            sock.close()

    @property
    def open_count(self) -> int:
        """How many listening sockets are held (for tests and the status of a reload)."""
        with self._lock:
            return len(self._open)
