#!/usr/bin/env python3
"""What the file → spool path costs per event beyond decoding and serialising.

The side-by-side harness measures the whole agent; ``bench/hot_path_stages.py``
measures the decoder, ``Event.to_json``, the spool and the encoder one by one. The
difference is the rest of the source's thread (reading, cutting lines, raw records,
routing, counters, checkpoints, waiting for the commit) and of the spool's writer
thread. This runs the real pieces ``siemrelay run`` builds up to the spool (the
``file`` source, the ``json`` decoder, the router, the intake, the durable spool, no
sink worker) over a JSON-lines file, reads the CPU time of the source's thread and of
the writer thread (``pthread_getcpuclockid``), then times the decoder and
``Event.to_json`` alone over the same lines in the same process, and prints CPU
microseconds per event. Rounds alternate, because the machine is shared and noisy.

    python bench/tail_intake_rest.py --input events.jsonl [--events 100000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loguru import logger  # noqa: E402

from agent.config.loader import load_config  # noqa: E402
from agent.config.validate import validate_config  # noqa: E402
from agent.engine.build import build_sources  # noqa: E402
from agent.engine.intake import Intake  # noqa: E402
from agent.engine.supervisor import tune_garbage_collector  # noqa: E402
from agent.plugins import load_plugins  # noqa: E402
from agent.sdk.record import RawRecord  # noqa: E402
from agent.spool.store import Spool  # noqa: E402
from plugins.dec_json.config import CONFIG_SCHEMA as JSON_DECODER_SCHEMA  # noqa: E402
from plugins.dec_json.decoder import JsonDecoder  # noqa: E402


def thread_cpu(ident: int | None) -> float:
    assert ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(ident))


def run_path(input_path: Path, n: int, work: Path) -> tuple[float, float]:
    """CPU seconds of the source's thread and the spool writer's thread to spool ``n`` lines."""
    config = {"agent": {"state_dir": str(work / "state"), "log_level": "warning"},
              "sinks": {"collector": {"type": "syslog", "address": "127.0.0.1:9", "transport": "tcp", "framing": "octet"}},
              "routes": [{"name": "default", "to": ["collector"]}],
              "sources": {"events": {"type": "file", "paths": [str(input_path)], "read_from": "beginning",
                                     "decoder": "json", "notify": False}}}
    (work / "siemrelay.yaml").write_text(json.dumps(config))
    plugins = load_plugins(entry_points=False)
    cfg = validate_config(load_config(str(work / "siemrelay.yaml")), plugins)
    sp = cfg.agent["spool"]
    spool = Spool(cfg.state_dir, max_bytes=sp["max_bytes"], sync=sp["sync"], max_batch_events=sp["max_batch_events"])
    spool.open(["collector"])
    intake = Intake(spool, cfg.router, logger)
    sources = build_sources(cfg, plugins, lambda s: s, submit=intake.submit)
    (source,) = sources.values()
    source.start()
    writer = spool._writer.ident  # type: ignore[union-attr]
    reader = source._thread.ident  # type: ignore[attr-defined]
    while intake.stats.by_input["events"]["events"] < n:
        time.sleep(0.02)
    cpu = thread_cpu(reader), thread_cpu(writer)
    source.stop()
    spool.close()
    return cpu


def run_stages(lines: list[bytes]) -> float:
    """CPU seconds of the json decoder and ``Event.to_json`` alone over ``lines``."""
    dec = JsonDecoder({k: v.get("default") for k, v in JSON_DECODER_SCHEMA.items()})
    now = datetime.now(timezone.utc)
    records = [RawRecord(line, dec, {"input": "events", "file": "x"}, now) for line in lines]
    t0 = time.thread_time()
    for r in records:
        for ev in dec.decode(r):
            ev.to_json()
    return time.thread_time() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    tune_garbage_collector()
    with args.input.open("rb") as fh:
        lines = [line.rstrip(b"\n") for _, line in zip(range(args.events), fh)]
    n = len(lines)
    source_us, writer_us, stage_us = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            (work / "in.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
            src, wr = run_path(work / "in.jsonl", n, work)
        stage_us.append(run_stages(lines) / n * 1e6)
        source_us.append(src / n * 1e6)
        writer_us.append(wr / n * 1e6)
    med = statistics.median
    print(f"events {n}, rounds {args.rounds} (CPU µs per event, median; each round's figures)")
    print(f"source thread (read, decode, route, serialise, wait): {med(source_us):6.1f}  {[round(x, 1) for x in source_us]}")
    print(f"  json decoder + Event.to_json alone:                 {med(stage_us):6.1f}  {[round(x, 1) for x in stage_us]}")
    print(f"  the rest of the source's thread:                    {med(source_us) - med(stage_us):6.1f}")
    print(f"spool writer thread:                                  {med(writer_us):6.1f}  {[round(x, 1) for x in writer_us]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
