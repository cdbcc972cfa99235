#!/usr/bin/env python3
"""Per-event cost of each stage of the file → RFC 5424 hot path, in one process.

Runs the real pieces the agent runs, one stage at a time over the same events, and
prints wall and CPU microseconds per event for each: the ``json`` decoder, the native
serialisation (``Event.to_json``), the durable spool's append (group commits of
``--commit`` events, ``sync: full``), the sink's read of its queue, the ``syslog``
sink's ``encode_batch`` and the sink acknowledgement. The garbage collector is tuned
as ``siemrelay run`` tunes it. docs/hot-path.md explains what the figures mean.

Input: a JSON-lines file, e.g. the side-by-side harness's workload (its
``gen_events.py``), or ``bench/events.py``'s findings when no file is given.

    python bench/hot_path_stages.py [--input events.jsonl] [--events 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.sdk.record import RawRecord  # noqa: E402
from agent.engine.supervisor import tune_garbage_collector  # noqa: E402
from agent.sdk.sink import SpooledEvent  # noqa: E402
from agent.spool.store import Spool  # noqa: E402
from plugins.dec_json.config import CONFIG_SCHEMA as JSON_DECODER_SCHEMA  # noqa: E402
from plugins.dec_json.decoder import JsonDecoder  # noqa: E402
from plugins.out_syslog.sink import SyslogSink  # noqa: E402
from tests.peers.sink_factory import make_sink  # noqa: E402

T = TypeVar("T")


def load_lines(path: Path | None, n: int) -> list[bytes]:
    if path is None:
        from events import finding_line  # bench/ is on sys.path when this script runs

        return [finding_line(i).rstrip(b"\n") for i in range(n)]
    with path.open("rb") as fh:
        lines = []
        for line in fh:
            lines.append(line.rstrip(b"\n"))
            if len(lines) == n:
                break
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", type=Path, help="JSON lines (default: generated findings)")
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--commit", type=int, default=1000, help="events per spool append (in_tail's batch_lines)")
    ap.add_argument("--batch", type=int, default=500, help="events per sink batch (batch.max_events)")
    args = ap.parse_args()

    lines = load_lines(args.input, args.events)
    n = len(lines)
    tune_garbage_collector()
    decoder = JsonDecoder({k: v.get("default") for k, v in JSON_DECODER_SCHEMA.items()})
    now = datetime.now(timezone.utc)
    records = [RawRecord(line, decoder, {"input": "bench"}, now) for line in lines]
    rows: list[tuple[str, float, float]] = []

    def stage(label: str, fn: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        rows.append((label, (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6))
        return out

    events = stage("decode (json decoder)", lambda: [ev for r in records for ev in decoder.decode(r)])
    datas = stage("serialise (Event.to_json)", lambda: [ev.to_json() for ev in events])
    with tempfile.TemporaryDirectory(prefix="siemrelay-stages-") as tmp:
        spool = Spool(tmp)
        spool.open(["collector"])
        try:
            def append() -> None:
                for i in range(0, n, args.commit):
                    spool.append([(1, d) for d in datas[i:i + args.commit]])

            stage(f"spool append ({args.commit}/commit)", append)
            reader = spool.reader()

            def read() -> list[SpooledEvent]:
                out: list[SpooledEvent] = []
                position = 0
                while True:
                    batch, position = reader.read("collector", position, args.batch, 1 << 20)
                    if not batch:
                        return out
                    out.extend(batch)

            spooled = stage(f"spool read ({args.batch}/batch)", read)
            reader.close()
            sink = make_sink(SyslogSink, {"address": "127.0.0.1:514", "hostname": "bench"})
            stage("syslog encode_batch", lambda: [sink.encode_batch(spooled[i:i + args.batch])
                                                  for i in range(0, n, args.batch)])

            def ack() -> None:
                for i in range(0, n, args.batch):
                    spool.ack("collector", spooled[min(i + args.batch, n) - 1].seq)

            stage(f"sink ack ({args.batch}/ack)", ack)
        finally:
            spool.close()
    print(f"{n} events of {sum(map(len, lines)) // max(1, n)} bytes on average")
    print(f"| stage | wall µs/event | CPU µs/event |\n|---|---|---|")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.1f} | {cpu:.1f} |")
    print(f"| total | {sum(r[1] for r in rows):.1f} | {sum(r[2] for r in rows):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
