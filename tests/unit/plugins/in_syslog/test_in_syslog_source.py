"""The syslog source against real clients: util-linux logger, plain sockets, TLS."""

from __future__ import annotations

import queue
import socket
import ssl
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from loguru import logger

from agent.sdk.source import PendingSubmit, SourceContext, Submitted, SubmitStatus
from plugins.in_syslog.source import SyslogSource
from tests.conftest import wait_for


class Collector:
    """A stand-in for the intake: decodes and keeps events; can play a full spool."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.records: list[Any] = []
        self.full = threading.Event()
        self.refused = 0
        self.lock = threading.Lock()

    def submit(self, records: list[Any], timeout: float | None = None, dedup: bool = False) -> Submitted:
        if self.full.is_set():
            self.refused += 1
            time.sleep(min(timeout or 0, 0.05))
            return Submitted(SubmitStatus.FULL, retry_after=1)
        with self.lock:
            for r in records:
                self.records.append(r)
                for ev in r.decoder.decode(r):
                    if ev.origin is None:
                        ev.origin = r.origin
                    self.events.append(ev)
        return Submitted(SubmitStatus.ACCEPTED, events=len(records))

    def titles(self) -> list[str]:
        with self.lock:
            return [e.title for e in self.events]


class AsyncCollector(Collector):
    """The intake's ``submit_async`` played: batches are answered later, in order, by a
    committer thread (the spool's writer); records the size of each batch and how many
    waited for their commit at once."""

    def __init__(self, commit_delay: float = 0.01) -> None:
        super().__init__()
        self.commit_delay = commit_delay
        self.queue: queue.Queue[tuple[list[Any], PendingSubmit] | None] = queue.Queue()
        self.in_flight = 0
        self.max_in_flight = 0
        self.sizes: list[int] = []
        self.committer = threading.Thread(target=self._commit, daemon=True)
        self.committer.start()

    def submit_pending(self, records: list[Any], timeout: float | None = None, dedup: bool = False) -> PendingSubmit:
        if self.full.is_set():
            self.refused += 1
            time.sleep(min(timeout or 0, 0.05))
            return PendingSubmit.completed(Submitted(SubmitStatus.FULL, retry_after=1))
        pending = PendingSubmit()
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.sizes.append(len(records))
        self.queue.put((list(records), pending))
        return pending

    def _commit(self) -> None:
        while (item := self.queue.get()) is not None:
            records, pending = item
            time.sleep(self.commit_delay)
            result = self.submit(records)
            with self.lock:
                self.in_flight -= 1
            pending.set_result(result)

    def close(self) -> None:
        self.queue.put(None)
        self.committer.join(5)


@pytest.fixture
def make_source(plugin_set: Any, tmp_path: Path, free_port: Any) -> Iterator[Any]:
    made: list[SyslogSource] = []
    collectors: list[AsyncCollector] = []

    def make(collector: Collector | None = None, **options: Any) -> tuple[SyslogSource, Any]:
        col = collector or Collector()
        if isinstance(col, AsyncCollector):
            collectors.append(col)
        cfg = {"address": f"127.0.0.1:{free_port(socket.AF_INET, socket.SOCK_DGRAM if options.get('transport') == 'udp' else socket.SOCK_STREAM)}",
               "transport": "tcp", "tls": {}, "framing": "auto", "decoder": "syslog", "max_message_bytes": 65536,
               "max_connections": 64, "idle_timeout_s": 30.0, "handshake_timeout_s": 5.0, "batch_max_messages": 1000,
               "receive_buffer_bytes": 0, **options}

        def build_decoder(spec: Any, key: Any = "decoder") -> Any:
            return plugin_set.registry.get("decoder", spec).cls({})

        ctx = SourceContext(name="sl", logger=logger, state_dir=tmp_path / "state", submit=col.submit, build_decoder=build_decoder,
                            submit_pending=getattr(col, "submit_pending", None))
        src = SyslogSource("sl", cfg, ctx)
        src.start()
        made.append(src)
        return src, col

    yield make
    for s in made:
        s.stop()
    for c in collectors:
        c.close()


def logger_cmd(port: int, *args: str) -> None:
    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), *args], check=True, timeout=10)


def test_tcp_octet_counted_rfc5424_and_lf_rfc3164_from_logger(make_source: Any) -> None:
    src, col = make_source()
    logger_cmd(src.bound_port, "--tcp", "--octet-count", "--rfc5424", "-t", "app1", "--sd-id", "ex@32473", "--sd-param", 'k="v 1"',
               "multi word message")
    logger_cmd(src.bound_port, "--tcp", "--rfc3164", "-t", "app2", "-p", "auth.err", "bsd message")
    wait_for(lambda: len(col.events) == 2, what="two events")
    first, second = sorted(col.events, key=lambda e: e.title)
    assert first.title == "bsd message" and first.raw["app_name"] == "app2" and first.raw["facility"] == "auth"
    assert first.severity_id == 0 and first.raw["severity"] == "err" and first.raw["format"] == "rfc3164"
    assert second.raw["structured_data"]["ex@32473"] == {"k": "v 1"} and second.raw["format"] == "rfc5424"
    assert second.origin == {"input": "sl", "peer": "127.0.0.1", "transport": "tcp"}


def test_udp_datagrams_from_logger(make_source: Any) -> None:
    src, col = make_source(transport="udp")
    for i in range(5):
        logger_cmd(src.bound_port, "--udp", "--rfc5424", "-t", "u", f"datagram {i}")
    wait_for(lambda: len(col.events) == 5, what="five datagrams")
    assert sorted(col.titles()) == [f"datagram {i}" for i in range(5)]
    assert col.events[0].origin["transport"] == "udp"


def test_client_disconnecting_mid_frame_keeps_complete_messages_and_flags_the_cut_one(make_source: Any) -> None:
    src, col = make_source()
    with socket.create_connection(("127.0.0.1", src.bound_port)) as s:
        s.sendall(b"20 <13>1 - h a - - - ok" + b"60 <13>1 - h a - - - cut in the mid")
    wait_for(lambda: len(col.events) == 2, what="both messages")
    ok, cut = col.events
    assert ok.title == "ok" and ok.origin.get("flags") is None
    assert cut.title == "cut in the mid" and cut.origin["flags"] == ["incomplete"]
    with socket.create_connection(("127.0.0.1", src.bound_port)) as s:  # still serving
        s.sendall(b"<13>1 - h a - - - after\n")
    wait_for(lambda: "after" in col.titles(), what="the next connection's message")


def test_oversized_message_is_truncated_and_flagged(make_source: Any) -> None:
    src, col = make_source(max_message_bytes=512)
    with socket.create_connection(("127.0.0.1", src.bound_port)) as s:
        s.sendall(b"<13>1 - h a - - - " + b"x" * 5000 + b"\n<13>1 - h a - - - small\n")
    wait_for(lambda: len(col.events) == 2, what="two events")
    assert col.events[0].origin["flags"] == ["truncated"] and len(col.records[0].data) == 512
    assert col.events[1].title == "small" and src.stats["truncated"] == 1


def test_connection_limit_and_idle_timeout(make_source: Any) -> None:
    src, col = make_source(max_connections=1, idle_timeout_s=0.5)
    a = socket.create_connection(("127.0.0.1", src.bound_port))
    a.sendall(b"<13>1 - h a - - - first\n")
    wait_for(lambda: col.titles() == ["first"], what="first message")
    b = socket.create_connection(("127.0.0.1", src.bound_port))
    b.settimeout(5)
    assert b.recv(10) == b""  # refused: closed at once
    b.close()
    a.settimeout(5)
    assert a.recv(10) == b""  # closed by the server after 0.5 s of silence
    a.close()
    assert src.stats["refused_connections"] == 1 and src.stats["idle_closed"] == 1


def test_full_spool_stops_reading_and_loses_nothing(make_source: Any) -> None:
    src, col = make_source()
    col.full.set()
    with socket.create_connection(("127.0.0.1", src.bound_port)) as s:
        s.sendall(b"".join(b"<13>1 - h a - - - m%d\n" % i for i in range(100)))
        wait_for(lambda: col.refused >= 2, what="the source to be refused")
        assert col.events == []
        col.full.clear()
        wait_for(lambda: len(col.events) == 100, what="all messages after the spool drained")
    assert col.titles() == [f"m{i}" for i in range(100)]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: Any) -> dict[str, str]:
    d = tmp_path_factory.mktemp("pki")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=30)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca", "-keyout", str(d / "ca.key"),
        "-out", str(d / "ca.pem"))
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={'localhost' if name == 'server' else 'client'}",
            "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        ext = d / f"{name}.ext"
        ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(d / f"{name}.pem"))
    return {k: str(d / f"{k}.{ext}") for k, ext in (("ca", "pem"), ("server", "pem"), ("client", "pem"))} | {
        "server_key": str(d / "server.key"), "client_key": str(d / "client.key")}


def test_tls_with_client_certificates(make_source: Any, certs: dict[str, str]) -> None:
    src, col = make_source(transport="tls", tls={"cert_file": certs["server"], "key_file": certs["server_key"],
                                                 "ca_file": certs["ca"], "verify": True, "min_version": "1.2"})
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.load_cert_chain(certs["client"], certs["client_key"])
    with socket.create_connection(("127.0.0.1", src.bound_port)) as raw, ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"31 <13>1 - h a - - - over TLS ok")
    wait_for(lambda: col.titles() == ["over TLS ok"], what="the TLS message")
    anon = ssl.create_default_context(cafile=certs["ca"])  # no client certificate: refused
    with socket.create_connection(("127.0.0.1", src.bound_port)) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            with anon.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"<13>1 - h a - - - must not arrive\n")
                s.recv(10)
    wait_for(lambda: src.stats["tls_failures"] == 1, what="the refused handshake to be counted")
    assert col.titles() == ["over TLS ok"]


def test_a_client_sending_one_byte_at_a_time_does_not_hold_up_others(make_source: Any) -> None:
    src, col = make_source(idle_timeout_s=2.0)
    slow = socket.create_connection(("127.0.0.1", src.bound_port))
    msg = b"26 <13>1 - h a - - - slowly"
    try:
        for i, byte in enumerate(msg):
            slow.sendall(bytes([byte]))
            if i == 5:  # meanwhile another sender is served at once
                logger_cmd(src.bound_port, "--tcp", "--octet-count", "--rfc5424", "fast one")
                wait_for(lambda: col.titles() == ["fast one"], what="the fast client's message")
            time.sleep(0.02)
        wait_for(lambda: col.titles() == ["fast one", "slowly"], what="the slow message, complete")
    finally:
        slow.close()


def test_ipv6_listeners(make_source: Any, free_port: Any) -> None:
    src, col = make_source(address=f"[::1]:{free_port(socket.AF_INET6)}")
    with socket.create_connection(("::1", src.bound_port)) as s:
        s.sendall(b"<13>1 - h a - - - over ipv6\n")
    wait_for(lambda: col.titles() == ["over ipv6"], what="the IPv6 message")
    assert col.events[0].origin["peer"] == "::1"
    udp, ucol = make_source(transport="udp", address=f"[::1]:{free_port(socket.AF_INET6, socket.SOCK_DGRAM)}")
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.sendto(b"<13>1 - h a - - - udp over ipv6", ("::1", udp.bound_port))
    wait_for(lambda: ucol.titles() == ["udp over ipv6"], what="the IPv6 datagram")


def test_stopping_hands_the_frame_a_connected_client_was_cutting_to_the_spool(make_source: Any) -> None:
    src, col = make_source()
    with socket.create_connection(("127.0.0.1", src.bound_port)) as s:
        s.sendall(b"23 <13>1 - h a - - - whole" + b"99 <13>1 - h a - - - cut when the agent stops")
        wait_for(lambda: "whole" in col.titles(), what="the complete message")
        src.stop()  # the spool is still open while sources stop (the agent stops sources first)
    titles = col.titles()
    assert titles == ["whole", "cut when the agent stops"]
    assert col.events[1].origin["flags"] == ["incomplete"]


def octet(text: str) -> bytes:
    msg = text.encode()
    return b"%d %s" % (len(msg), msg)


def test_pipelined_connections_keep_their_order_in_big_batches_within_the_window(make_source: Any) -> None:
    """Two connections under load: each one's messages are committed in the order sent, a
    batch is what the socket holds (up to batch_max_messages), and at most
    batches_in_flight batches of a connection wait for their commit at once."""
    col = AsyncCollector(commit_delay=0.02)
    src, _ = make_source(col, batches_in_flight=2, batch_max_messages=500)
    n = 10_000
    pad = "x" * 150
    payloads = {tag: b"".join(octet(f"<13>1 - h a - - - {tag}{i:05d} {pad}") for i in range(n)) for tag in ("A", "B")}

    def send(data: bytes) -> None:
        with socket.create_connection(("127.0.0.1", src.bound_port)) as s:
            s.sendall(data)

    senders = [threading.Thread(target=send, args=(data,)) for data in payloads.values()]
    for t in senders:
        t.start()
    for t in senders:
        t.join(30)
    wait_for(lambda: len(col.events) == 2 * n, timeout=60, what="every message of both connections")
    titles = col.titles()
    for tag in ("A", "B"):
        mine = [t.split(" ", 1)[0] for t in titles if t.startswith(tag)]
        assert mine == [f"{tag}{i:05d}" for i in range(n)]
    assert col.max_in_flight <= 2 * 2  # two connections, each within its window of 2
    assert max(col.sizes) == 500 and statistics.median(col.sizes) >= 250  # full batches under load, not one per read
    assert src.stats["batches"] == len(col.sizes) and src.stats["messages"] == 2 * n


def test_pipelined_full_spool_holds_the_sender_back_and_loses_nothing(make_source: Any) -> None:
    col = AsyncCollector()
    src, _ = make_source(col)
    col.full.set()
    n = 40_000  # 40 MB: more than the kernel's buffers on both ends hold
    pad = "p" * 980
    data = b"".join(octet(f"<13>1 - h a - - - m{i:05d} {pad}") for i in range(n))
    sent = threading.Event()

    def send() -> None:
        with socket.create_connection(("127.0.0.1", src.bound_port)) as s:
            s.sendall(data)
        sent.set()

    t = threading.Thread(target=send)
    t.start()
    wait_for(lambda: col.refused >= 3, what="the source to be refused")
    time.sleep(0.5)
    assert not sent.is_set()  # the sender is held back by TCP: the source stopped reading
    assert col.events == [] and src.stats["messages"] <= 1000 + 300  # one batch held, nothing read beyond the buffers' worth
    col.full.clear()
    assert sent.wait(60)
    t.join(5)
    wait_for(lambda: len(col.events) == n, timeout=60, what="every message once the spool has room")
    assert [t.split(" ", 1)[0] for t in col.titles()] == [f"m{i:05d}" for i in range(n)]
    assert src.stats["paused_full"] >= 3


def test_stop_waits_for_the_commits_of_batches_in_flight(make_source: Any) -> None:
    col = AsyncCollector(commit_delay=0.3)
    src, _ = make_source(col, batches_in_flight=4)
    with socket.create_connection(("127.0.0.1", src.bound_port)) as s:
        for i in range(4):
            s.sendall(octet(f"<13>1 - h a - - - late{i}"))
            wait_for(lambda: src.stats["batches"] == i + 1, what="each message as its own batch")
        assert len(col.events) < 4  # still committing
        src.stop()
        assert col.titles() == [f"late{i}" for i in range(4)]  # stop returned after their commits, not before
    assert src.stats["unconfirmed"] == 0
