"""A threaded ``http.server`` that serves a handed-over socket and drains its connections at stop.

``ThreadingHTTPServer.shutdown()`` only stops accepting: a client's keep-alive
connection goes on being served by the stopped server, by a thread that no longer
belongs to anything, with whatever settings (tokens among them) that server had. After
a reload that replaced a token, the old one would keep working on such a connection.

:class:`DrainingHTTPServer` serves a socket from :class:`~agent.sdk.listeners.Listeners`
(so a reload's successor takes it over) and, with :class:`DrainingHandler`, ends its
connections at :meth:`DrainingHTTPServer.drain`: requests under way are answered with
``Connection: close``; a connection between requests gets a short grace to send one
more, then is shut for reading, which ends its thread. The admin API and the ``otlp``
source use it.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["DrainingHTTPServer", "DrainingHandler", "DRAIN_GRACE_S", "DRAIN_LIMIT_S"]

DRAIN_GRACE_S = 0.5  # how long a keep-alive connection between requests may still send one
DRAIN_LIMIT_S = 5.0  # how long requests under way may take to finish


class DrainingHTTPServer(ThreadingHTTPServer):
    """Serves ``listener`` (bound and listening already) with ``handler``, a :class:`DrainingHandler`."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, listener: socket.socket, handler: type[DrainingHandler]) -> None:
        self.address_family = listener.family
        self.handlers: set[DrainingHandler] = set()
        self.handlers_lock = threading.Lock()
        self.draining = False
        super().__init__(listener.getsockname()[:2], handler, bind_and_activate=False)
        self.socket.close()  # the one the base class made; the listener replaces it
        self.socket = listener
        self.server_address = listener.getsockname()

    def stop_and_drain(self, grace_s: float = DRAIN_GRACE_S, limit_s: float = DRAIN_LIMIT_S) -> None:
        """Stop accepting (closing only this server's socket), then end every connection as above."""
        self.draining = True
        self.shutdown()
        self.server_close()
        start = time.monotonic()
        while True:
            with self.handlers_lock:
                handlers = list(self.handlers)
            elapsed = time.monotonic() - start
            if not handlers or elapsed > limit_s:
                return
            for h in handlers:
                if elapsed >= grace_s and not h.busy:
                    try:
                        socket.socket.shutdown(h.connection, socket.SHUT_RD)  # its readline ends: the thread finishes
                    except OSError:
                        pass
            time.sleep(0.02)


class DrainingHandler(BaseHTTPRequestHandler):
    """Tracks its connection for :meth:`DrainingHTTPServer.stop_and_drain`."""

    server: DrainingHTTPServer
    busy = False  # a request is being read or answered

    def setup(self) -> None:
        super().setup()
        with self.server.handlers_lock:
            self.server.handlers.add(self)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.handlers_lock:
                self.server.handlers.discard(self)

    def parse_request(self) -> bool:
        self.busy = True  # its request line arrived
        return super().parse_request()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            self.busy = False

    def end_headers(self) -> None:
        if self.server.draining and not self.close_connection:  # the server stopped: the client's next request goes to its successor
            self.send_header("Connection", "close")
            self.close_connection = True
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # servers log what matters themselves, with its reason
