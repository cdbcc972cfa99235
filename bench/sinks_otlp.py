"""Throughput of one ``otlp`` sink on one core: events/s through encode + gzip + POST.

Batches of 500 (the sink's default) to a local HTTP receiver that reads the body and
answers 200 with an empty ExportLogsServiceResponse; ~900-byte native findings, as
the spool would hand them over (the same events as bench/sinks_throughput.py).

    python bench/sinks_otlp.py [events]
"""

from __future__ import annotations

import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sinks_throughput import events  # noqa: E402
from plugins.out_otlp.sink import OtlpSink  # noqa: E402
from tests.peers.sink_factory import make_sink  # noqa: E402


def bench(batch: list[Any], size: int = 500, **options: Any) -> tuple[float, float]:
    received = [0]

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *a: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            received[0] += len(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    sink = make_sink(OtlpSink, {"url": f"http://127.0.0.1:{srv.server_address[1]}/v1/logs", **options})
    raw = sum(len(e.data) for e in batch)
    start = time.perf_counter()
    for i in range(0, len(batch), size):
        assert sink.send(batch[i:i + size]).ok
    elapsed = time.perf_counter() - start
    sink.close()
    srv.shutdown()
    thread.join(5)
    return len(batch) / elapsed, raw / max(received[0], 1)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    batch = events(n)
    print(f"{n} events, {sum(len(e.data) for e in batch) / n:.0f} bytes of native JSON each")
    for label, options in (("protobuf gzip, body title", {}), ("protobuf gzip, body event", {"body": "event"}),
                           ("json gzip, body title", {"encoding": "json"}), ("protobuf plain", {"gzip": False})):
        rate, ratio = bench(batch, **options)
        print(f"otlp {label:<28} {rate:>9,.0f} events/s  (native JSON / wire bytes {ratio:.1f}x)")


if __name__ == "__main__":
    main()
