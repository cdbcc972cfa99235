#!/usr/bin/env python3
"""Run one source into the durable spool, nothing else: the sources' benchmark harness.

It builds what ``siemrelay run`` builds up to the spool (configuration validation,
the source with its decoder, routing, intake, the SQLite spool with group commit)
but starts no sink worker, so what is measured is the intake side alone: every
figure means "durably in the spool". It prints a JSON line per ``--report-every``
seconds with the intake's counters, and runs until SIGTERM/SIGINT.

    python bench/sources_harness.py CONFIG.yaml [--cpu 0]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loguru import logger  # noqa: E402

from agent.config.validate import validate_config  # noqa: E402
from agent.engine.build import build_sources  # noqa: E402
from agent.config.loader import load_config  # noqa: E402
from agent.engine.intake import DedupWindow, Intake  # noqa: E402
from agent.plugins import load_plugins  # noqa: E402
from agent.engine.supervisor import tune_garbage_collector  # noqa: E402
from agent.spool.store import Spool  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    ap.add_argument("--report-every", type=float, default=0.05)
    args = ap.parse_args()
    if args.cpu is not None and args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    plugins = load_plugins(entry_points=False)
    cfg = validate_config(load_config(args.config), plugins)
    sp = cfg.agent["spool"]
    spool = Spool(cfg.state_dir, max_bytes=sp["max_bytes"], sync=sp["sync"], max_batch_events=sp["max_batch_events"])
    spool.open([n for n, (_, c) in cfg.sinks.items() if c.get("enabled", True)])
    dd = cfg.agent["dedup"]
    intake = Intake(spool, cfg.router, logger, DedupWindow(float(dd["window_s"]), int(dd["max_ids"])))
    sources = build_sources(cfg, plugins, lambda s: s, submit=intake.submit)
    tune_garbage_collector()  # as `siemrelay run` does
    for s in sources.values():
        s.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(orjson.dumps({"ready": True, "ports": {n: getattr(s, "bound_port", None) for n, s in sources.items()}}).decode(), flush=True)
    while not stop.wait(args.report_every):
        with intake.stats.lock:
            counts = {k: dict(v) for k, v in intake.stats.by_input.items()}
        print(orjson.dumps({"t": time.monotonic(), "inputs": counts}).decode(), flush=True)
    for s in sources.values():
        s.stop()
    spool.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
