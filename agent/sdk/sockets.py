"""A reconnecting writer of framed messages over TCP, TLS, UDP or to a file.

``syslog`` and ``cef`` share it. Each :meth:`Writer.write` call delivers one batch of
already-framed messages and says what happened as a :class:`Delivery`; it never
sleeps or loops. Stream transports are checked for a peer that closed the connection
(a restarted collector) before every batch and reconnected, and a batch that fails
part-way is reported RETRY as a whole, so the worker resends everything the kernel did
not confirm taking (at-least-once: a collector may see a few lines twice after a
connection loss, never a gap).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import ssl
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from agent.sdk.outcome import Delivery
from agent.sdk.net import parse_address
from agent.sdk.tls import client_context

__all__ = ["Writer"]


class Writer:
    """Owns one connection (or file) to a destination; not thread-safe (one worker uses it).

    :param transport: ``tcp``, ``tls``, ``udp`` or ``file``.
    :param address: ``host:port`` (not used for ``file``).
    :param tls: the validated ``tls`` block (``transport: tls``).
    :param path: the file for ``transport: file``.
    :param timeout_s: connect and write timeout.
    """

    def __init__(self, transport: str, address: str | None = None, *, tls: dict[str, Any] | None = None,
                 path: str | None = None, timeout_s: float = 10.0) -> None:
        self.transport = transport
        self.address = address or ""
        self.host, self.port = parse_address(address) if transport != "file" and address else ("", 0)
        self.tls = dict(tls or {})
        self.path = Path(path) if path else None
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._fd: int | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self.connects = 0

    # ------------------------------------------------------------------ connect
    def _connect(self) -> None:
        if self.transport == "file":
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            return
        if self.transport == "udp":
            infos = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_DGRAM)
            family, kind, proto, _, addr = infos[0]
            sock = socket.socket(family, kind, proto)
            sock.connect(addr)  # connected UDP: ICMP errors surface as ECONNREFUSED on the next send
            self._sock = sock
            self.connects += 1
            return
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if self.transport == "tls":
            if self._ssl_context is None:
                self._ssl_context = client_context(self.tls)
            try:
                sock = self._ssl_context.wrap_socket(sock, server_hostname=self.tls.get("server_name") or self.host)
            except BaseException:
                sock.close()
                raise
        self._sock = sock
        self.connects += 1

    def _peer_closed(self) -> bool:
        """True when a stream peer has closed or reset the connection (checked without blocking)."""
        sock = self._sock
        if sock is None or self.transport in ("udp", "file"):
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False  # nothing pending: the connection is as good as TCP can tell
            if isinstance(sock, ssl.SSLSocket):
                sock.setblocking(False)
                try:
                    data = sock.recv(1)
                finally:
                    sock.settimeout(self.timeout_s)
            else:
                data = sock.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError, InterruptedError):
            return False
        except (OSError, ValueError):
            return True
        # A syslog collector never talks back: any byte or EOF means the session is over.
        return data == b"" or self.transport == "tls"

    def open(self) -> None:
        """Connect now (raises ``OSError``); :meth:`write` also connects on demand."""
        if self._sock is None and self._fd is None:
            self._connect()

    # ------------------------------------------------------------------ write
    def write(self, frames: Sequence[bytes]) -> Delivery:
        """Write every frame; OK only when all were handed to the kernel (or the file)."""
        if not frames:
            return Delivery.success("nothing to send")
        if self.transport != "udp":
            return self.write_joined(b"".join(frames), len(frames))
        failed = self._ready()
        if failed is not None:
            return failed
        try:
            assert self._sock is not None
            send = self._sock.send
            for frame in frames:
                send(frame)
        except (OSError, ssl.SSLError) as exc:
            return self._lost(exc)
        return Delivery.success(f"{len(frames)} messages written to {self._where()}")

    def write_joined(self, data: bytes, count: int) -> Delivery:
        """Write ``count`` frames already joined into ``data`` (a stream or a file, where the
        frames go out as one buffer anyway; a sink that builds the buffer itself saves an
        object and a copy per frame). OK only when all of it was handed to the kernel.

        :raises ValueError: on UDP, where each message is a datagram of its own.
        """
        if self.transport == "udp":
            raise ValueError("write_joined needs a stream or a file: on UDP each message is its own datagram")
        if not count:
            return Delivery.success("nothing to send")
        failed = self._ready()
        if failed is not None:
            return failed
        try:
            if self.transport == "file":
                assert self._fd is not None
                _write_all(self._fd, data)
            else:
                assert self._sock is not None
                self._sock.sendall(data)
        except (OSError, ssl.SSLError) as exc:
            return self._lost(exc)
        return Delivery.success(f"{count} messages written to {self._where()}")

    def _ready(self) -> Delivery | None:
        """Reconnect when the peer closed the connection or none is open; the RETRY outcome
        when that fails, else ``None``."""
        try:
            if self._peer_closed():
                self.close()
            if self._sock is None and self._fd is None:
                self._connect()
        except (OSError, ssl.SSLError, ValueError) as exc:
            self.close()
            return Delivery.retry(f"cannot connect to {self._where()}: {_describe(exc)}")
        return None

    def _lost(self, exc: OSError | ssl.SSLError) -> Delivery:
        """The outcome of a failed write (the connection is closed: the batch is sent again)."""
        self.close()
        if isinstance(exc, OSError) and exc.errno == errno.EMSGSIZE:
            return Delivery.reject(f"datagram too large for {self._where()}: {_describe(exc)}")
        return Delivery.retry(f"connection to {self._where()} lost: {_describe(exc)}")

    def check(self) -> Delivery:
        """Open a connection (or the file) and close it again: the sinks' health check."""
        probe = Writer(self.transport, self.address or None, tls=self.tls, path=str(self.path) if self.path else None,
                       timeout_s=self.timeout_s)
        try:
            probe.open()
        except (OSError, ssl.SSLError, ValueError) as exc:
            return Delivery.retry(f"cannot connect to {self._where()}: {_describe(exc)}")
        finally:
            probe.close()
        return Delivery.success(f"{self._where()} accepts connections" if self.transport != "udp" else
                                f"{self._where()} resolved (UDP has no handshake)")

    def _where(self) -> str:
        if self.transport == "file":
            return str(self.path)
        return f"{self.transport}://{self.address}"

    def release(self, clock: Callable[[], float] = time.monotonic) -> bool:
        """Close in order: what the sink does at a reload and at the agent's stop.

        A stream connection is half-closed (after TLS's close_notify) and kept until the
        receiver has read everything sent and closed its side, for at most ``timeout_s``;
        then it is closed. A receiver reads each connection on its own, so a connection
        opened while the last one still holds unread messages (a receiver that is behind)
        would be read alongside it and the receiver would interleave old and new messages:
        a reload would reorder events. Nothing waits when the receiver is gone or the
        connection broken; UDP and files are simply closed.

        :returns: False only when the receiver still had not closed its side after
            ``timeout_s`` (it may read the rest after a successor's messages).
        """
        sock, confirmed = self._sock, True
        if sock is not None and self.transport in ("tcp", "tls"):
            deadline = clock() + self.timeout_s
            try:
                if isinstance(sock, ssl.SSLSocket):
                    sock.settimeout(max(0.001, deadline - clock()))
                    sock = sock.unwrap()  # close_notify: the TLS session ends with what was sent
                sock.shutdown(socket.SHUT_WR)
                while True:
                    left = deadline - clock()
                    if left <= 0:
                        raise TimeoutError
                    sock.settimeout(left)
                    if not sock.recv(65536):
                        break  # the receiver read everything and closed its side
            except TimeoutError:
                confirmed = False
            except (OSError, ssl.SSLError, ValueError):
                pass  # reset or gone: nothing is left to read on its side
            if sock is not self._sock:
                sock.close()
        self.close()
        return confirmed

    def close(self) -> None:
        """Close the connection or file at once (a broken or probed connection); safe to
        call more than once. A sink closes through :meth:`release`."""
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
