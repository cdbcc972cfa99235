"""Throughput of one ``s3`` / ``security_lake`` sink, and Parquet sizes on the vendor fixtures.

1. Events/s of one sink through encode + upload (``send``: what one delivery worker
   does per batch) to a local S3 API (moto in server mode on loopback), one object per
   batch of 10,000 of the ~800-byte findings of bench/sinks_throughput.py; the encode
   time alone is shown too, since moto's own cost (another process on the same cores)
   is part of the upload figure.
2. Object sizes and compression ratios (native JSON bytes / object bytes) of the vendor
   fixtures (tests/fixtures/vendors, every event the decoders make of them) as they land
   in Security Lake, as they are and repeated 200 times (ids made unique), which is
   closer to a real object of one class.

    python bench/sinks_s3.py [events]
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.testing import make_record, spooled  # noqa: E402
from bench.sinks_throughput import events  # noqa: E402
from plugins.out_s3.sink import S3Sink, SecurityLakeSink  # noqa: E402
from tests.peers.s3 import ACCESS_KEY, SECRET_KEY, MotoS3  # noqa: E402
from tests.peers.decoder_factory import build_decoder  # noqa: E402
from tests.peers.sink_factory import make_sink  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "vendors"
CONNECTION = {"region": "us-east-1", "path_style": True, "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}
LAKE = {"source_name": "siemrelay-{{ class_name }}", "account_id": "123456789012"}


def throughput(moto: MotoS3, cls: type, batch: list[Any], size: int, options: dict[str, Any]) -> tuple[float, float, float]:
    """(events/s of send, events/s of encode alone, native JSON bytes / object bytes)."""
    sink = make_sink(cls, {"bucket": "bench", "endpoint_url": moto.url, **CONNECTION, **options})
    raw = sum(len(e.data) for e in batch)
    start = time.perf_counter()
    written = sum(sum(len(o.body) for o in sink.encode_batch(batch[i:i + size])) for i in range(0, len(batch), size))
    encode = time.perf_counter() - start
    assert sink.send(batch[:size]).ok  # warm the client (boto3's import and endpoint set-up)
    start = time.perf_counter()
    for i in range(0, len(batch), size):
        outcome = sink.send(batch[i:i + size])
        assert outcome.ok, outcome.reason
    elapsed = time.perf_counter() - start
    sink.close()
    return len(batch) / elapsed, len(batch) / encode, raw / written


def fixture_events() -> list[Any]:
    auto = build_decoder({"type": "auto", "unknown_json": "json", "unknown_text": "raw"})
    return [e for path in sorted(FIXTURES.glob("*/*")) if path.suffix in (".json", ".cef")
            for e in auto.decode(make_record(path.read_bytes(), auto))]


def fixture_sizes(repeat: int, listing: bool) -> None:
    found = fixture_events()
    batch = spooled([replace(e, id=f"{e.id}-{r}") for r in range(repeat) for e in found])
    sink = make_sink(SecurityLakeSink, {"bucket": "bench", **CONNECTION, **LAKE})
    objects = sink.encode_batch(batch)
    raw = sum(len(e.data) for e in batch)
    total = sum(len(o.body) for o in objects)
    print(f"vendor fixtures x{repeat}: {len(batch)} events, {raw:,} bytes of native JSON -> {len(objects)} Parquet "
          f"objects (zstd; one per class and event day), {total:,} bytes, {raw / total:.1f}x")
    for obj in sorted(objects, key=lambda o: -len(o.body)) if listing else ():
        print(f"    {obj.count:>6} events  {len(obj.body):>9,} bytes  {obj.key.split('/eventDay=')[0]}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    batch = events(n)
    print(f"{n} events, {sum(len(e.data) for e in batch) / n:.0f} bytes of native JSON each, objects of 10,000")
    with tempfile.TemporaryDirectory() as tmp, MotoS3(Path(tmp)) as moto:
        moto.create_bucket("bench")
        for label, cls, options in (
                ("s3 jsonl gzip native", S3Sink, {}),
                ("s3 jsonl gzip ocsf", S3Sink, {"schema": "ocsf"}),
                ("s3 parquet native", S3Sink, {"format": "parquet"}),
                ("s3 parquet ocsf", S3Sink, {"format": "parquet", "schema": "ocsf"}),
                ("security_lake", SecurityLakeSink, LAKE)):
            rate, encode, ratio = throughput(moto, cls, batch, 10_000, options)
            print(f"{label:<22} {rate:>8,.0f} events/s (encode alone {encode:>8,.0f}/s)  native JSON / object {ratio:.1f}x")
    fixture_sizes(1, listing=False)
    fixture_sizes(200, listing=True)


if __name__ == "__main__":
    main()
