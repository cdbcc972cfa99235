#!/usr/bin/env python3
"""End-to-end benchmark of the core pipeline, as users run it.

Runs ``siemrelay run`` as a subprocess pinned to one core (``taskset -c 0``) with a
``file`` source (json decoder) → one route → the durable SQLite spool → the ``file``
sink, and measures:

1. throughput: N JSON lines (~800 bytes each, security-finding shaped) appended to the
   followed file; events/s = N / time until the last one is in the sink's file;
2. latency: a steady stream at --rate events/s; for each event, the time from its
   ``received_at`` (stamped by the source) to the moment this script sees its line in
   the sink's file (the file is polled every millisecond); p50 and p99;
3. peak RSS of the agent (VmHWM from /proc).

Public tools only: Python, taskset (util-linux). Usage:
    python bench/e2e_pipeline.py [--events 200000] [--rate 5000] [--sync full|normal]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from events import finding_line  # noqa: E402  (bench/ is on sys.path when a script runs)

ROOT = Path(__file__).resolve().parent.parent


def write_config(work: Path, sync: str) -> Path:
    cfg = work / "bench.yaml"
    cfg.write_text(f"""
agent:
  state_dir: {work}/state
  log_level: warning
  spool: {{sync: {sync}}}
sources:
  tail:
    type: file
    paths: ["{work}/in/*.jsonl"]
    poll_interval_s: 0.01
sinks:
  out:
    type: file
    path: {work}/out/events.jsonl
    rotate_bytes: 0
    fsync: {"true" if sync == "full" else "false"}
routes:
  - name: default
    to: [out]
""")
    (work / "in").mkdir()
    return cfg


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rate", type=int, default=5000, help="events/s of the latency phase")
    ap.add_argument("--latency-seconds", type=float, default=5.0)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="siemrelay-bench-"))
    cfg = write_config(work, args.sync)
    cmd = [sys.executable, "-m", "agent", "--log-format", "json", "run", "-c", str(cfg)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0", *cmd]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=work, env=env, stderr=open(work / "agent.log", "wb"))
    out = work / "out" / "events.jsonl"
    try:
        time.sleep(1.0)
        # 1. throughput
        payload = b"".join(finding_line(i) for i in range(args.events))
        src = work / "in" / "events.jsonl"
        t0 = time.perf_counter()
        with src.open("ab") as f:
            f.write(payload)
        while count_lines(out) < args.events:
            if proc.poll() is not None:
                raise SystemExit(f"agent exited: {(work / 'agent.log').read_text()[-2000:]}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        throughput = args.events / elapsed

        # 2. latency at a steady rate
        latencies: list[float] = []
        offset = out.stat().st_size
        total = int(args.rate * args.latency_seconds)
        seen = 0
        start = time.perf_counter()
        sent = 0
        buf = b""
        with src.open("ab", buffering=0) as f, out.open("rb") as reader:
            reader.seek(offset)
            while seen < total:
                due = min(total, int((time.perf_counter() - start) * args.rate))
                if due > sent:
                    f.write(b"".join(finding_line(args.events + i) for i in range(sent, due)))
                    sent = due
                chunk = reader.read()
                if chunk:
                    now = datetime.now(timezone.utc)
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        rec = json.loads(line)
                        got = datetime.fromisoformat(rec["received_at"].replace("Z", "+00:00"))
                        latencies.append((now - got).total_seconds() * 1000)
                        seen += 1
                else:
                    time.sleep(0.001)
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "agent_cores": 1, "spool_sync": args.sync, "events": args.events,
        "throughput_events_per_s": round(throughput), "latency_rate_events_per_s": args.rate,
        "latency_p50_ms": round(p50, 1), "latency_p99_ms": round(p99, 1), "peak_rss_mb": round(rss, 1),
    }
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
