"""The ``syslog`` source: UDP datagrams, or TCP/TLS streams framed per RFC 6587.

Threads, not asyncio: one acceptor, one thread per connection (bounded by
``max_connections``), one UDP reader. A connection thread frames what it reads into
batches (what the socket already holds, up to ``batch_max_messages``: one commit for
many messages) and hands each to the spool without waiting for its commit
(:class:`~plugins.in_syslog.pipeline.SubmitPipeline`): it reads and decodes the next
batch while the spool commits the previous ones, at most ``batches_in_flight`` of them.
A full spool refuses the batch, the thread stops reading until it is taken, and TCP's
own window pushes back on the sender: no unbounded buffer anywhere. UDP cannot push
back; while the spool is full the kernel's receive buffer fills and then drops, which
the counters and the log make visible.

What a crash promises: syslog over TCP has no acknowledgement (RFC 6587), so the sender
counts a message as delivered once the agent's kernel has it. A ``kill -9`` loses what
the agent had read but not yet committed, at most ``batches_in_flight + 1`` batches per
connection, besides what sat in the kernel's buffers; everything committed is delivered
after the restart (at least once), and what is committed of a connection is a prefix of
what it sent, in order.
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
from agent.sdk.source import Source, SourceContext
from agent.sdk.tls import server_context
from plugins.in_syslog.config import CONFIG_SCHEMA, check_config
from plugins.in_syslog.framing import Frame, Framer
from plugins.in_syslog.pipeline import SubmitPipeline

RECV_BYTES = 256 * 1024
DRAIN_S = 2.0  # how long a stopping source keeps reading a connection that still has data queued
COMMIT_WAIT_S = 5.0  # how long a stopping reader waits for the commits of its batches in flight


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
        self.in_flight = int(config.get("batches_in_flight", 2))
        self.rcvbuf = int(config["receive_buffer_bytes"])
        self.ssl_context: ssl.SSLContext | None = server_context(config["tls"]) if self.transport == "tls" else None
        self.stats = {"connections": 0, "refused_connections": 0, "tls_failures": 0, "messages": 0, "bytes": 0,
                      "truncated": 0, "incomplete": 0, "idle_closed": 0, "paused_full": 0, "batches": 0,
                      "unconfirmed": 0}
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
    def _pipeline(self) -> SubmitPipeline:
        """A reader's own window of batches in flight (one per connection, one for UDP)."""
        return SubmitPipeline(self.ctx.submit_async, self.in_flight, self._stop, self._refused, self._room_again)

    def _refused(self) -> None:
        """The spool refused a batch (full): reading that connection waits; say so once."""
        self.stats["paused_full"] += 1
        if not self._full_warned:
            self._full_warned = True
            self.ctx.logger.warning("spool is full: reading is paused until it drains (TCP senders are held back, "
                                    "UDP datagrams beyond the socket buffer are dropped by the kernel)")

    def _room_again(self) -> None:
        if self._full_warned:
            self._full_warned = False
            self.ctx.logger.info("spool has room again; reading resumed")

    def _finish(self, pipeline: SubmitPipeline, peer: str) -> None:
        """Wait (bounded) for the commits of a reader's batches in flight; name what was not confirmed.

        Runs when the connection ends and when the source stops: the spool stays open
        until the sources have stopped, so their last batches still commit.
        """
        if not pipeline.drain(COMMIT_WAIT_S) and pipeline.unconfirmed:
            self.stats["unconfirmed"] += pipeline.unconfirmed
            self.ctx.logger.warning("{} message(s) from {} were handed to the spool but their commit was not "
                                    "confirmed before the source stopped", pipeline.unconfirmed, peer)

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
        self.stats["batches"] += 1
        return out

    # ----------------------------------------------------------------- UDP
    def _udp_loop(self) -> None:
        sock = self._sock
        assert sock is not None
        origins: dict[Any, dict[str, Any]] = {}
        max_bytes = self.max_bytes
        pipeline = self._pipeline()
        try:
            self._udp_read(sock, origins, max_bytes, pipeline)
        finally:
            self._finish(pipeline, "UDP senders")

    def _udp_read(self, sock: socket.socket, origins: dict[Any, dict[str, Any]], max_bytes: int,
                  pipeline: SubmitPipeline) -> None:
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
            if records:
                self.stats["batches"] += 1
                if not pipeline.submit(records):
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
        pipeline = self._pipeline()
        try:
            self._pump(stream, peer, pipeline)
        finally:
            self._finish(pipeline, peer)

    def _pump(self, stream: socket.socket, peer: str, pipeline: SubmitPipeline) -> None:
        """Read, frame and submit one connection until it ends (or the source stops).

        A batch is what the socket already holds, up to ``batch_max_messages``: frames are
        handed over once the socket has nothing more to read at once, so a connection
        under load makes full batches and a quiet one makes a batch per message, at once.
        """
        framer = Framer(self.max_bytes, self.framing)
        origin = {"input": self.name, "peer": peer, "transport": self.transport}
        batch_max = self.batch_max
        drain_until: float | None = None
        frames: list[Frame] = []
        while True:
            if self._stop.is_set():  # drain what the kernel already holds (stop shut reading), but not forever
                drain_until = drain_until or time.monotonic() + DRAIN_S
                if time.monotonic() > drain_until:
                    break
            if frames and not _readable_now(stream):
                if not pipeline.submit(self._records(frames, origin)):
                    return
                frames = []
            data = self._recv(stream, peer)
            if not data:
                break
            frames += framer.feed(data)
            while len(frames) >= batch_max:
                if not pipeline.submit(self._records(frames[:batch_max], origin)):
                    return
                frames = frames[batch_max:]
        last = framer.close()
        if last is not None:
            frames.append(last)
        for i in range(0, len(frames), batch_max):
            if not pipeline.submit(self._records(frames[i:i + batch_max], origin)):
                return

    def _recv(self, stream: socket.socket, peer: str) -> bytes:
        """The next bytes of a connection; ``b""`` when it ended, failed or stayed idle too long."""
        try:
            return stream.recv(RECV_BYTES)
        except TimeoutError:
            self.stats["idle_closed"] += 1
            self.ctx.logger.info("closed the connection from {}: idle for {}s", peer, self.idle_timeout)
        except (OSError, ssl.SSLError):
            pass
        return b""


def _readable_now(stream: socket.socket) -> bool:
    """Whether a ``recv`` would return at once (bytes, or the connection's end)."""
    if isinstance(stream, ssl.SSLSocket) and stream.pending():
        return True  # decrypted bytes the TLS layer already holds: poll() cannot see them
    poller = select.poll()
    poller.register(stream, select.POLLIN)
    return bool(poller.poll(0))
