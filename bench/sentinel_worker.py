"""Throughput of the ``sentinel`` (gzip) and ``secops`` sinks on one core: what one sink worker can send.

Calls ``sink.send`` in a loop (render rows, gzip level 1, bearer POST with a cached
token) against the strict Azure receiver on loopback, with ~900-byte native findings
in batches of 1000. The receiver (decompress, parse, validate every row) runs in the
same process, so the figure is a lower bound of the sink itself. The spool and worker
add their own cost, measured by bench/delivery_drain.py.

secops sends JSON with base64 ``data`` (the Chronicle API has no gzip in its documented
request format) to the strict Google receiver the same way, then the legacy Ingestion
API's ``unstructuredlogentries:batchCreate`` (``log_text`` as JSON text).

    python bench/sentinel_worker.py [events]
"""

from __future__ import annotations

import gzip
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sinks_throughput import events  # noqa: E402
from plugins.out_secops.sink import SecOpsSink  # noqa: E402
from plugins.out_sentinel.sink import SentinelSink  # noqa: E402
from tests.conftest import pick_port  # noqa: E402
from tests.peers.azure_monitor import AzureApp, AzureMonitor  # noqa: E402
from tests.peers.chronicle import Chronicle, ServiceAccountKey  # noqa: E402
from tests.peers.sink_factory import make_sink  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    batch = events(1000)
    with AzureMonitor(pick_port(), apps=(AzureApp("app-1", "bench-secret"),), max_bytes=1 << 22) as az, \
            tempfile.TemporaryDirectory() as tmp:
        sink = make_sink(SentinelSink, {"endpoint": az.url, "authority": az.url, "dcr_immutable_id": az.dcr,
                                        "stream": "Custom-SiemrelayEvents", "tenant_id": "tenant-1", "client_id": "app-1",
                                        "client_secret": "bench-secret"}, state_dir=Path(tmp))
        sink.send(batch[:1])  # token fetched before timing
        started = time.perf_counter()
        sent = 0
        while sent < n:
            outcome = sink.send(batch)
            assert outcome.ok, outcome.reason
            sent += len(batch)
        elapsed = time.perf_counter() - started
        sink.close()
        body = az.ingest_calls()[-1].body
    ratio = len(gzip.decompress(body)) / len(body)
    print(f"sentinel gzip   {sent / elapsed:>10,.0f} events/s  (batches of 1000, compression {ratio:.1f}x, "
          f"{len(gzip.decompress(body)) // 1000} bytes/row)")

    for api in ("import", "legacy_unstructured"):
        print(f"secops {api:<20} {secops(api, batch[:500], n):>10,.0f} events/s  (batches of 500, no compression)")


def secops(api: str, small: list, n: int) -> float:
    """Events/s of one secops sink (``api: import`` or the legacy ``unstructuredlogentries:batchCreate``)."""
    key = ServiceAccountKey.generate()
    with Chronicle(pick_port(), (key,)) as g, tempfile.TemporaryDirectory() as tmp:
        key_file = key.write(Path(tmp) / "sa.json", g.token_uri)
        sink = make_sink(SecOpsSink, {"endpoint": g.url, "region": "us", "project": "my-secops-project",
                                      "instance": "inst-1", "log_type": "SIEMRELAY_JSON", "api": api,
                                      "credentials_file": str(key_file), "max_request_bytes": 1_000_000},
                         state_dir=Path(tmp))
        sink.send(small[:1])
        started = time.perf_counter()
        sent = 0
        while sent < n:
            outcome = sink.send(small)
            assert outcome.ok, outcome.reason
            sent += len(small)
        elapsed = time.perf_counter() - started
        sink.close()
    return sent / elapsed


if __name__ == "__main__":
    main()
