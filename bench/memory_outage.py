#!/usr/bin/env python3
"""Benchmark: the agent's memory while a syslog sink is down under steady load.

Runs ``python -m agent run`` with an ``http`` webhook source (``--source http``, the
default: its de-duplication window is on, as in a stock configuration) or a TCP
``syslog`` source, and one ``syslog`` sink whose address refuses connections for the
whole run (the outage). A sender posts JSON events (batches of 100, unique ids) or
writes RFC 5424 messages at ``--rate`` events/s (default 5,000) for ``--duration``
seconds (default 600: ten minutes). The agent's RSS (``/proc/<pid>/status`` VmRSS, summed over its children)
is sampled every ``--sample-s`` seconds (default 10). Reports the samples, and the
least-squares slope of RSS over time after the first ``--settle`` seconds (default
60), in MiB per minute, next to the noise: the standard error of that slope and the
spread of the residuals. A flat agent has a slope within a few standard errors of
zero and far below the growth the spool's data would cause if it were held in memory.

    python bench/memory_outage.py [--source http|syslog] [--rate 5000] [--duration 600] [--sample-s 10] [--settle 60]

``--root DIR`` runs the agent from another checkout (to measure an older version).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from proctree import descendants  # noqa: E402


def _own_rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:  # a child that ended between the listing and the read
        pass
    return 0.0


def rss_mib(pid: int) -> float:
    """The resident set size in MiB of the agent and every process under it (its preparing
    and encoding children): what the agent costs."""
    return sum(map(_own_rss_mib, descendants(pid)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slope(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Least-squares slope (y per x), its standard error, and the residuals' standard deviation."""
    n = len(points)
    if n < 3:
        return float("nan"), float("nan"), float("nan")
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    a = my - b * mx
    resid = [y - (a + b * x) for x, y in points]
    s2 = sum(r * r for r in resid) / (n - 2)
    return b, math.sqrt(s2 / sxx), math.sqrt(s2)


def message(i: int) -> bytes:
    return (f"<134>1 2025-01-15T14:30:{i % 60:02d}.{i % 1000:03d}Z web-{i % 50:02d}.example.com nginx {1000 + i % 7} ACCESS "
            f'[req@32473 id="{i}" method="GET" status="200"] GET /api/users/{i} 200 1534 "curl/8.5"').encode()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=5000, help="messages per second sent")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of outage under load")
    ap.add_argument("--sample-s", type=float, default=10.0, help="seconds between RSS samples")
    ap.add_argument("--settle", type=float, default=60.0, help="seconds left out of the slope (warm-up)")
    ap.add_argument("--source", choices=["http", "syslog"], default="http")
    ap.add_argument("--root", type=Path, default=ROOT, help="checkout whose agent runs")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (config, log, spool)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="siemrelay-memory-"))
    src_port, dead_port = free_port(), free_port()  # nothing listens on dead_port: the sink is down
    source_yaml = (f'{{type: http, address: "127.0.0.1:{src_port}"}}' if args.source == "http" else
                   f'{{type: syslog, address: "127.0.0.1:{src_port}", transport: tcp, decoder: syslog}}')
    cfg = work / "siemrelay.yaml"
    cfg.write_text(f"""
agent:
  state_dir: {work}/state
  log_level: error
  spool: {{max_bytes: {16 << 30}}}
  intake: {{processes: auto}}  # with the preparing child, as the README's figure was measured
sources:
  edge: {source_yaml}
sinks:
  siem:
    type: syslog
    address: "127.0.0.1:{dead_port}"
    transport: tcp
    retry: {{initial_backoff_s: 1, max_backoff_s: 5}}
    circuit_breaker: {{failure_threshold: 3, cooldown_s: 5}}
routes:
  - {{name: default, to: [siem]}}
""")
    env = {**os.environ, "PYTHONPATH": str(args.root)}
    proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], env=env, cwd=args.root,
                            stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"))
    stop = threading.Event()
    sent = [0]
    samples: list[tuple[float, float]] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", src_port), 0.5)
                conn.settimeout(None)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the agent did not start: " + (work / "agent.log").read_text()[-2000:])
                time.sleep(0.1)

        def http_sender() -> None:
            import orjson
            import requests

            conn.close()
            session = requests.Session()
            per_post = 100
            interval = per_post / args.rate
            n = 0
            next_at = time.monotonic()
            while not stop.is_set():
                batch = [{"id": f"{n + i:064x}", "time": "2025-01-15T14:30:00Z", "source": "bench", "type": "finding.new",
                          "severity": "medium", "title": "outage bench", "description": "memory"} for i in range(per_post)]
                r = session.post(f"http://127.0.0.1:{src_port}/events", data=orjson.dumps(batch),
                                 headers={"Content-Type": "application/json"}, timeout=60)
                if r.status_code != 200:
                    print(f"  the agent answered {r.status_code}: {r.text[:200]}", flush=True)
                n += per_post
                sent[0] = n
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        def sender() -> None:
            per_write = max(1, args.rate // 50)
            interval = per_write / args.rate
            n = 0
            next_at = time.monotonic()
            with conn:
                while not stop.is_set():
                    chunk = b"".join(str(len(m)).encode() + b" " + m for m in (message(n + i) for i in range(per_write)))
                    conn.sendall(chunk)
                    n += per_write
                    sent[0] = n
                    next_at += interval
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)

        t = threading.Thread(target=http_sender if args.source == "http" else sender, name="sender")
        t0 = time.monotonic()
        t.start()
        while time.monotonic() - t0 < args.duration:
            samples.append((time.monotonic() - t0, rss_mib(proc.pid)))
            print(f"  t={samples[-1][0]:6.0f}s  rss={samples[-1][1]:7.1f} MiB  sent={sent[0]}", flush=True)
            if proc.poll() is not None:
                raise SystemExit("the agent exited: " + (work / "agent.log").read_text()[-2000:])
            time.sleep(max(0.0, args.sample_s - ((time.monotonic() - t0) % args.sample_s)))
        samples.append((time.monotonic() - t0, rss_mib(proc.pid)))
        stop.set()
        t.join(30)
        elapsed = samples[-1][0]
        spooled = _spooled(work / "state" / "spool.db")
        late = [(ts / 60.0, r) for ts, r in samples if ts >= args.settle]
        b, se, noise = slope(late)
        print(f"sent {sent[0]} messages in {elapsed:.0f}s ({sent[0] / elapsed:.0f}/s); {spooled} events queued for the down sink")
        print(f"RSS: start {samples[0][1]:.1f} MiB, after {args.settle:.0f}s {late[0][1]:.1f} MiB, end {samples[-1][1]:.1f} MiB, "
              f"max {max(r for _, r in samples):.1f} MiB")
        print(f"slope after {args.settle:.0f}s: {b:+.3f} MiB/min (standard error {se:.3f}; residual spread {noise:.2f} MiB; "
              f"{len(late)} samples)")
        return 0
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _spooled(path: Path) -> int:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            # events are stored many to a segment row (base..last): count them, not the rows
            return int(conn.execute("SELECT coalesce(sum(last - base + 1), 0) FROM segments").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return -1


if __name__ == "__main__":
    sys.exit(main())
