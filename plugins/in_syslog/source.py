"""The ``syslog`` source: UDP datagrams, or TCP/TLS streams framed per RFC 6587.

Threads, not asyncio: one acceptor, one thread per connection (bounded by
``max_connections``), one UDP reader. A connection thread frames what it reads,
submits the batch and waits for the spool's commit before it reads again, so a full
spool stops reading and TCP's own window pushes back on the sender: no unbounded
buffer anywhere. UDP cannot push back; while the spool is full the kernel's receive
buffer fills and then drops, which the counters and the log make visible.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from typing import Any

from agent.sdk.decoder import Decoder
from agent.sdk import utcnow
from agent.sdk.net import family_of, parse_address
from agent.sdk.record import RawRecord
from agent.sdk.source import Source, SourceContext, SubmitStatus
from agent.sdk.tls import server_context
from plugins.in_syslog.config import CONFIG_SCHEMA, check_config
from plugins.in_syslog.framing import Frame, Framer

RECV_BYTES = 256 * 1024
DRAIN_S = 2.0  # how long a stopping source keeps reading a connection that still has data queued


class SyslogSource(Source):
    type_name = "syslog"
    description = "Syslog listener over UDP, TCP or TLS (RFC 5425), octet-counted or LF-framed (RFC 6587)."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    check_config = staticmethod(check_config)

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        super().__init__(name, config, ctx)
        self.host, self.port = parse_address(config["address"])
        self.transport: str = config["transport"]
        self.decoder: Decoder = ctx.build_decoder(config["decoder"])
        self.max_bytes = int(config["max_message_bytes"])
        self.framing = config["framing"]
        self.max_connections = int(config["max_connections"])
        self.idle_timeout = float(config["idle_timeout_s"])
        self.handshake_timeout = float(config["handshake_timeout_s"])
        self.batch_max = int(config["batch_max_messages"])
        self.rcvbuf = int(config["receive_buffer_bytes"])
        self.ssl_context: ssl.SSLContext | None = server_context(config["tls"]) if self.transport == "tls" else None
        self.stats = {"connections": 0, "refused_connections": 0, "tls_failures": 0, "messages": 0, "bytes": 0,
                      "truncated": 0, "incomplete": 0, "idle_closed": 0, "paused_full": 0}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._conns: dict[int, socket.socket] = {}
        self._full_warned = False

    @property
    def bound_port(self) -> int:
        return self._sock.getsockname()[1] if self._sock else self.port

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> None:
        # the socket comes from the context: a reload hands the predecessor's to this instance
        if self.transport == "udp":
            sock = self.ctx.listeners.datagram(self.host, self.port, receive_buffer=self.rcvbuf)
        else:
            sock = self.ctx.listeners.stream(self.host, self.port, backlog=min(self.max_connections, 1024))
        sock.setblocking(False)  # the loops wait in poll() with the wake-up pair: stop never shuts the socket down
        self._sock = sock
        self._wake_r, self._wake_w = socket.socketpair()
        target = self._udp_loop if self.transport == "udp" else self._accept_loop
        t = threading.Thread(target=target, name=f"source-{self.name}", daemon=True)
        self._threads.append(t)
        t.start()
        self.ctx.logger.info("listening for syslog on {}://{}:{}", self.transport, self.host, self.bound_port)

    def stop(self) -> None:
        """Stop reading and let open connections drain.

        The listening socket is not shut down (a reload hands it to this source's successor,
        with the connections queued on it); each open connection is shut down for reading
        only, so its reader still takes what the kernel already holds, then ends.
        """
        with self._lock:
            if self._stop.is_set():
                return
            self._stop.set()
            conns = list(self._conns.values())
        if self._wake_w is not None:
            self._wake_w.send(b"x")
        for c in conns:
            try:
                socket.socket.shutdown(c, socket.SHUT_RD)  # wakes the reader blocked in recv once it read what is queued
            except OSError:
                pass
        for t in list(self._threads):
            t.join(5.0)
        self._threads.clear()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        for end in (self._wake_r, self._wake_w):
            if end is not None:
                end.close()
        self._wake_r = self._wake_w = None
        self.ctx.listeners.close()

    def _wait_readable(self, sock: socket.socket) -> bool:
        """Block until ``sock`` is readable; False once the source stops."""
        assert self._wake_r is not None
        poller = select.poll()  # not select(): a busy agent's descriptors can exceed FD_SETSIZE
        poller.register(sock, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        ready = poller.poll()
        return not self._stop.is_set() and any(fd == sock.fileno() for fd, _ in ready)

    # ----------------------------------------------------------------- submit
    def _submit(self, records: list[RawRecord]) -> bool:
        """Hand ``records`` to the spool, waiting while it is full; False when stopping.

        Tried at least once even while the source stops: what was already read from a
        socket (the last frames, a connection's cut frame) still reaches the spool,
        which stays open until the sources have stopped.
        """
        while True:
            result = self.ctx.submit(records, timeout=1.0)
            if result.status is SubmitStatus.ACCEPTED:
                if self._full_warned:
                    self._full_warned = False
                    self.ctx.logger.info("spool has room again; reading resumed")
                return True
            if result.status is SubmitStatus.CLOSED or self._stop.is_set():
                return False
            self.stats["paused_full"] += 1
            if not self._full_warned:
                self._full_warned = True
                self.ctx.logger.warning("spool is full: reading is paused until it drains (TCP senders are held back, "
                                        "UDP datagrams beyond the socket buffer are dropped by the kernel)")

    def _records(self, frames: list[Frame], origin: dict[str, Any]) -> list[RawRecord]:
        now = utcnow()
        dec = self.decoder
        out = []
        nbytes = 0
        for f in frames:
            o = origin
            if f.truncated or f.incomplete:
                o = dict(origin)
                o["flags"] = ["truncated"] if f.truncated else ["incomplete"]
                self.stats["truncated" if f.truncated else "incomplete"] += 1
            nbytes += len(f.data)
            out.append(RawRecord(f.data, dec, o, now))
        self.stats["messages"] += len(out)
        self.stats["bytes"] += nbytes
        return out

    # ----------------------------------------------------------------- UDP
    def _udp_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        origins: dict[Any, dict[str, Any]] = {}
        max_bytes = self.max_bytes
        while not self._stop.is_set():
            try:
                if not self._wait_readable(sock):
                    return
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            frames: list[tuple[bytes, Any]] = [(data, addr)]
            try:  # drain what else is waiting, without blocking: one commit for the burst
                while len(frames) < self.batch_max:
                    frames.append(sock.recvfrom(65535, socket.MSG_DONTWAIT))
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return
            now = utcnow()
            records = []
            for data, addr in frames:
                data = data.rstrip(b"\r\n\x00")
                if not data:
                    continue
                origin = origins.get(addr[0])
                if origin is None:
                    if len(origins) > 4096:
                        origins.clear()
                    origin = origins[addr[0]] = {"input": self.name, "peer": addr[0], "transport": "udp"}
                if len(data) > max_bytes:
                    data = data[:max_bytes]
                    origin = {**origin, "flags": ["truncated"]}
                    self.stats["truncated"] += 1
                records.append(RawRecord(data, self.decoder, origin, now))
                self.stats["bytes"] += len(data)
            self.stats["messages"] += len(records)
            if records and not self._submit(records):
                return

    # ----------------------------------------------------------------- TCP / TLS
    def _accept_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                if not self._wait_readable(sock):
                    return
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            conn.setblocking(True)
            with self._lock:
                too_many = len(self._conns) >= self.max_connections
                if not too_many:
                    self._conns[conn.fileno()] = conn
                    if self._stop.is_set():  # stop() has already shut the others: this one drains too
                        socket.socket.shutdown(conn, socket.SHUT_RD)
            if too_many:
                self.stats["refused_connections"] += 1
                self.ctx.logger.warning("refused a connection from {}: max_connections ({}) reached", addr[0], self.max_connections)
                conn.close()
                continue
            self.stats["connections"] += 1
            t = threading.Thread(target=self._serve, args=(conn, addr), name=f"source-{self.name}-conn", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        key = conn.fileno()
        peer = addr[0]
        stream: socket.socket = conn
        try:
            if self.ssl_context is not None:
                conn.settimeout(self.handshake_timeout)
                try:
                    stream = self.ssl_context.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    self.stats["tls_failures"] += 1
                    self.ctx.logger.info("TLS handshake with {} failed: {}", peer, getattr(exc, "reason", None) or exc)
                    return
                with self._lock:
                    self._conns[key] = stream
            stream.settimeout(self.idle_timeout)
            self._read_stream(stream, peer)
        finally:
            with self._lock:
                self._conns.pop(key, None)
            try:
                stream.close()
            except OSError:
                pass

    def _read_stream(self, stream: socket.socket, peer: str) -> None:
        framer = Framer(self.max_bytes, self.framing)
        origin = {"input": self.name, "peer": peer, "transport": self.transport}
        batch_max = self.batch_max
        drain_until: float | None = None
        while True:
            if self._stop.is_set():  # drain what the kernel already holds (stop shut reading), but not forever
                drain_until = drain_until or time.monotonic() + DRAIN_S
                if time.monotonic() > drain_until:
                    return
            try:
                data = stream.recv(RECV_BYTES)
            except TimeoutError:
                self.stats["idle_closed"] += 1
                self.ctx.logger.info("closed the connection from {}: idle for {}s", peer, self.idle_timeout)
                data = b""
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                last = framer.close()
                if last is not None:
                    self._submit(self._records([last], origin))
                return
            frames = framer.feed(data)
            for i in range(0, len(frames), batch_max):
                if not self._submit(self._records(frames[i:i + batch_max], origin)):
                    return
