#!/usr/bin/env python3
"""What moving per-event work to a child process costs and buys, per event, on one core.

For the encode side (built: ``encode_in``) and the decode side (measured only): the CPU the
child takes off the main process, and what the main process still pays for the hand-over
(pickling the batch out, unpickling the answer) or, on the decode side, for routing on a
re-parsed ``Event.from_json``. CPU from ``time.process_time``, so a busy machine changes
the absolute figures more than the ratios.

    python bench/offload_costs.py --input events.jsonl [--events 20000]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.engine.supervisor import tune_garbage_collector  # noqa: E402
from agent.model import Event  # noqa: E402
from agent.sdk.record import RawRecord  # noqa: E402
from agent.sdk.sink import SpooledEvent  # noqa: E402
from plugins.dec_json.config import CONFIG_SCHEMA as JSON_DECODER_SCHEMA  # noqa: E402
from plugins.dec_json.decoder import JsonDecoder  # noqa: E402
from plugins.out_syslog.sink import SyslogSink  # noqa: E402
from tests.peers.sink_factory import make_sink  # noqa: E402

T = TypeVar("T")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1000, help="events per hand-over (sink batch / tail batch)")
    args = ap.parse_args()
    with args.input.open("rb") as fh:
        lines = [line.rstrip(b"\n") for _, line in zip(range(args.events), fh)]
    n, size = len(lines), args.batch
    tune_garbage_collector()
    rows: list[tuple[str, float]] = []

    def stage(label: str, fn: Callable[[], T]) -> T:
        cpu = time.process_time()
        out = fn()
        rows.append((label, (time.process_time() - cpu) / n * 1e6))
        return out

    decoder = JsonDecoder({k: v.get("default") for k, v in JSON_DECODER_SCHEMA.items()})
    now = datetime.now(timezone.utc)
    records = [RawRecord(line, decoder, {"input": "bench"}, now) for line in lines]
    chunks = [lines[i:i + size] for i in range(0, n, size)]

    # decode side: the child would decode and serialise; the main process pickles lines out,
    # unpickles the native JSON back, and parses it again to route
    events = stage("decode side, child: json decoder", lambda: [ev for r in records for ev in decoder.decode(r)])
    datas = stage("decode side, child: Event.to_json", lambda: [ev.to_json() for ev in events])
    out = stage("decode side, main: pickle lines out", lambda: [pickle.dumps(c, 5) for c in chunks])
    stage("decode side, child: unpickle lines", lambda: [pickle.loads(b) for b in out])
    back = stage("decode side, child: pickle JSON back", lambda: [pickle.dumps(datas[i:i + size], 5) for i in range(0, n, size)])
    stage("decode side, main: unpickle JSON", lambda: [pickle.loads(b) for b in back])
    stage("decode side, main: Event.from_json to route", lambda: [Event.from_json(d) for d in datas])

    # encode side (what encode_in: child does)
    sink = make_sink(SyslogSink, {"address": "127.0.0.1:9", "transport": "tcp"})
    spooled = [SpooledEvent(i, d) for i, d in enumerate(datas)]
    batches = [spooled[i:i + size] for i in range(0, n, size)]
    stage("encode side, in-process: syslog encode_batch", lambda: [sink.encode_batch(b) for b in batches])
    reqs = stage("encode side, main: pickle (seq, data) out", lambda: [pickle.dumps([(e.seq, e.data) for e in b], 5)
                                                                       for b in batches])
    stage("encode side, child: unpickle", lambda: [pickle.loads(r) for r in reqs])
    frames = [sink.encode_batch(b) for b in batches]
    answers = stage("encode side, child: pickle frames back", lambda: [pickle.dumps(("ok", f), 5) for f in frames])
    stage("encode side, main: unpickle frames", lambda: [pickle.loads(a) for a in answers])
    for label, us in rows:
        print(f"{label:48s} {us:8.2f} µs/event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
