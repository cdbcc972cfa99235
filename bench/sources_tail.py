#!/usr/bin/env python3
"""Benchmark: the ``file`` source with the json decoder into the durable spool, on one core.

Writes N JSON lines (~800 bytes, finding-shaped) to a file, starts
bench/sources_harness.py pinned to one CPU (file source → json decoder → routing →
SQLite spool, no sink worker), and reports lines/s from the first committed batch to
the last. Usage: python bench/sources_tail.py [--lines 300000] [--sync full|normal] [--shape finding|small]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from events import finding_line  # noqa: E402  (bench/ is on sys.path when a script runs)

HERE = Path(__file__).resolve().parent


def small_line(i: int) -> bytes:
    return json.dumps({"id": f"s-{i:09d}", "timestamp": "2025-01-15T14:30:00Z", "severity": "info",
                       "message": f"user alice logged in from 10.0.{i % 256}.{i % 200}"}).encode() + b"\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=300000)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    ap.add_argument("--cpu", type=int, default=0)
    ap.add_argument("--shape", choices=["finding", "small"], default="finding",
                    help="finding: ~600-byte finding-shaped JSON; small: ~130-byte log line")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        with open(work / "in" / "bench.jsonl", "wb") as fh:
            make = finding_line if args.shape == "finding" else small_line
            fh.write(b"".join(make(i) for i in range(args.lines)))
        size = (work / "in" / "bench.jsonl").stat().st_size
        (work / "c.yaml").write_text(f"""
agent: {{state_dir: {work}/state, spool: {{sync: {args.sync}, max_bytes: {4 << 30}}}, dedup: {{window_s: 0}}}}
sources:
  tail: {{type: file, paths: ["{work}/in/*.jsonl"], decoder: json, batch_lines: 2000}}
sinks:
  out: {{type: file, path: {work}/out.jsonl}}
routes:
  - {{name: default, to: [out]}}
""")
        proc = subprocess.Popen([sys.executable, str(HERE / "sources_harness.py"), str(work / "c.yaml"), "--cpu", str(args.cpu),
                                 "--report-every", "0.02"], stdout=subprocess.PIPE, text=True)
        t0 = t1 = None
        first = 0
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                msg = json.loads(raw)
                n = msg.get("inputs", {}).get("tail", {}).get("records", 0)
                if n and t0 is None:
                    t0, first = msg["t"], n
                if n >= args.lines:
                    t1 = msg["t"]
                    break
        finally:
            proc.terminate()
            proc.wait(30)
        assert t0 is not None and t1 is not None
        rate = (args.lines - first) / (t1 - t0)
        print(json.dumps({"bench": "sources_tail", "shape": args.shape, "lines": args.lines, "bytes": size, "sync": args.sync,
                          "lines_per_s": round(rate), "mb_per_s": round(size / args.lines * rate / 1e6, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
