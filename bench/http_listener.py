#!/usr/bin/env python3
"""Benchmark: the ``http`` source's own cost per request, without decoding or a spool.

The source runs in a process of its own with a ``submit`` that accepts every batch at
once (no decoding, no spool, no sink), and wrk posts one ~700-byte JSON event per
request over keep-alive connections. What is left is what the listener itself costs:
HTTP parsing, the event loop, the hand-off of each batch to the submit thread and its
answer. CPU is the process's user + system time (``getrusage``) over the wrk run,
divided by the requests answered.

``--trees A B`` runs the source of several work trees (each with its own ``.venv``)
one after the other within each repetition, for A/B comparisons on a shared machine.

Usage: python3 bench/http_listener.py [--duration 8] [--connections 16] [--trees . ../main] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def child(args: argparse.Namespace) -> int:
    """Run the source of the interpreter's tree and wrk against it; print one JSON line."""
    from loguru import logger

    from agent.plugins import load_plugins
    from agent.sdk.source import SourceContext, Submitted, SubmitStatus
    from plugins.in_http.source import HttpSource

    logger.remove()
    plugins = load_plugins(entry_points=False)
    batches: list[int] = []

    def submit(records: list[Any], timeout: float | None = None, dedup: bool = False) -> Submitted:
        batches.append(len(records))
        return Submitted(SubmitStatus.ACCEPTED, events=len(records))

    cfg = {"address": "127.0.0.1:0", "max_body_bytes": 10 << 20, "max_connections": 1024, "max_connections_per_client": 64,
           "read_timeout_s": 10.0, "idle_timeout_s": 60.0, "response_timeout_s": 9.0, "submit_timeout_s": 2.0,
           "retry_after_s": 5, "workers": 1, "dedup": False, "tls": {}, "hec": {"enabled": False},
           "paths": {"/": {"decoder": "json", "auth": {}, "content_types": [], "dedup": None}}}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = SourceContext(name="web", logger=logger, state_dir=Path(tmp), submit=submit,
                            build_decoder=lambda spec, key="decoder": plugins.registry.get("decoder", spec).cls({}))
        src = HttpSource("web", cfg, ctx)
        src.start()
        try:
            before = resource.getrusage(resource.RUSAGE_SELF)
            out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                                  "-s", str(HERE / "wrk_bodies.lua"), f"http://127.0.0.1:{src.bound_port}/", "--",
                                  args.events, "1"], capture_output=True, text=True, timeout=args.duration + 60).stdout
            after = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            src.stop()
    m = re.search(r"^WRK_JSON (\{.*\})$", out, re.M)
    if not m:
        raise SystemExit(f"wrk output not understood: {out[-400:]}")
    w = json.loads(m.group(1))
    answered = w["requests"] - w["errors_status"] - w["errors_timeout"]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({
        "requests_per_s": round(answered / (w["duration_us"] / 1e6)),
        "p50_ms": round(w["latency_p50_us"] / 1000, 2), "p99_ms": round(w["latency_p99_us"] / 1000, 2),
        "non_2xx": w["errors_status"], "cpu_us_per_request": round(cpu * 1e6 / max(answered, 1), 1),
        "user_us_per_request": round((after.ru_utime - before.ru_utime) * 1e6 / max(answered, 1), 1),
        "requests_per_batch": round(statistics.mean(batches), 1) if batches else None,
    }))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--trees", nargs="+", type=Path, default=[HERE.parent])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--events", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    from http_intake import make_events

    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        make_events(events, 10_000)
        for _ in range(args.reps):
            for tree in args.trees:
                tree = tree.resolve()
                # the tree's interpreter imports the tree's code (editable install); this file only drives it
                res = subprocess.run([str(tree / ".venv" / "bin" / "python"), str(Path(__file__).resolve()), "--child",
                                      "--events", str(events), "--duration", str(args.duration),
                                      "--connections", str(args.connections)],
                                     cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
                print(json.dumps({"tree": str(tree), **json.loads(res.stdout.strip().splitlines()[-1])}), flush=True)
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
