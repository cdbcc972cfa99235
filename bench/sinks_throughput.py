"""Throughput of the socket and HEC sinks on one core: events/s through encode + send.

syslog and cef: TCP to a local reader thread that drains the socket. splunk_hec:
gzip'd batches of 1000 to a local HTTP receiver that answers code 0. Events are
~900-byte native JSON findings, as the spool would hand them over.

    python bench/sinks_throughput.py [events]
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.testing import make_event, spooled  # noqa: E402
from plugins.out_cef.sink import CefSink  # noqa: E402
from plugins.out_splunk_hec.sink import SplunkHecSink  # noqa: E402
from plugins.out_syslog.sink import SyslogSink  # noqa: E402
from tests.peers.sink_factory import make_sink  # noqa: E402


def events(n: int) -> list:
    out = [make_event(description="Reflected XSS in the search parameter; " * 6, asset={"name": "shop", "url": "https://shop.example/search"},
                      finding={"id": f"F-{i}", "category": "xss", "cvss": 6.1, "cwe": "CWE-79"},
                      repository={"name": "org/shop"}, links={"vendor": f"https://vendor.example/f/{i}"},
                      raw={"finding": {"id": i, "payload": "<script>alert(1)</script>", "tags": ["web", "owasp"]}})
           for i in range(n)]
    return spooled(out)


def tcp_drain() -> tuple[int, threading.Thread]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def run() -> None:
        conn, _ = srv.accept()
        while conn.recv(1 << 20):
            pass
        conn.close()
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return srv.getsockname()[1], t


def bench_socket(cls: type, batch: list, size: int = 1000) -> float:
    port, t = tcp_drain()
    sink = make_sink(cls, {"address": f"127.0.0.1:{port}", "hostname": "bench"})
    start = time.perf_counter()
    for i in range(0, len(batch), size):
        assert sink.send(batch[i:i + size]).ok
    elapsed = time.perf_counter() - start
    sink.close()
    t.join(5)
    return len(batch) / elapsed


def bench_hec(batch: list, size: int = 1000) -> tuple[float, float]:
    received = [0, 0]

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *a: object) -> None:
            pass

        def do_POST(self) -> None:
            n = int(self.headers["Content-Length"])
            received[0] += len(self.rfile.read(n))
            body = b'{"text":"Success","code":0}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sink = make_sink(SplunkHecSink, {"url": f"http://127.0.0.1:{srv.server_address[1]}", "token": "t", "host": "bench",
                                     "healthcheck_on_start": False})
    raw = sum(len(e.data) for e in batch)
    start = time.perf_counter()
    for i in range(0, len(batch), size):
        assert sink.send(batch[i:i + size]).ok
    elapsed = time.perf_counter() - start
    sink.close()
    srv.shutdown()
    return len(batch) / elapsed, raw / max(received[0], 1)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    batch = events(n)
    print(f"{n} events, {sum(len(e.data) for e in batch) / n:.0f} bytes of native JSON each")
    print(f"syslog  tcp octet   {bench_socket(SyslogSink, batch):>10,.0f} events/s")
    print(f"cef     tcp lf      {bench_socket(CefSink, batch):>10,.0f} events/s")
    rate, ratio = bench_hec(batch)
    print(f"splunk_hec gzip     {rate:>10,.0f} events/s  (compression {ratio:.1f}x)")


if __name__ == "__main__":
    main()
