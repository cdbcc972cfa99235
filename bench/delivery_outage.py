"""Benchmark: one sink down for a long time under steady load.

Runs ``python -m agent run`` with an ``http`` source and two ``webhook`` sinks: ``siem``
(always healthy) and ``chat`` (answers 503 during the outage). A sender posts
``--rate`` events/s (default 5,000) for a warm-up, then for ``--outage`` seconds while
``chat`` is down (the issue's ten minutes, scaled down by default to 120 s; pass
``--outage 600`` for the full run), then ``chat`` recovers. Reports:

- the agent's RSS over time (``/proc/<pid>/status`` VmRSS, sampled every second),
- the healthy sink's end-to-end latency (sent → received) before and during the outage,
- how long ``chat`` takes to catch up after recovery, and that every accepted event
  reached both sinks.

    python bench/delivery_outage.py [--rate 5000] [--outage 120] [--warmup 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent


class Receiver:
    """Counts distinct event ids and records sent→received latency (ms) per event."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.latencies: list[tuple[float, float]] = []  # (receive wall time, latency ms)
        self.down = False
        self.lock = threading.Lock()
        rx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if rx.down:
                    status, answer = 503, b'{"error":"down"}'
                else:
                    status, answer = 200, b"{}"
                    now = time.time()
                    with rx.lock:
                        for line in body.splitlines():
                            ev = orjson.loads(line)
                            rx.ids.add(ev["id"])
                            rx.latencies.append((now, (now - float(ev["description"])) * 1000))
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=5000, help="events per second sent")
    ap.add_argument("--outage", type=float, default=120.0, help="seconds the chat sink is down")
    ap.add_argument("--warmup", type=float, default=10.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="siemrelay-outage-"))
    siem, chat = Receiver(), Receiver()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = work / "siemrelay.yaml"
    cfg.write_text(f"""
agent:
  state_dir: {work}/state
  log_level: error
  spool: {{sync: normal, max_bytes: {8 << 30}}}
  dedup: {{window_s: 0}}
sources:
  web: {{type: http, address: "127.0.0.1:{port}"}}
sinks:
  siem:
    type: webhook
    url: "{siem.url}"
    format: ndjson
    batch: {{max_events: 500, max_wait_s: 0.05}}
  chat:
    type: webhook
    url: "{chat.url}"
    format: ndjson
    batch: {{max_events: 500, max_wait_s: 0.05}}
    retry: {{initial_backoff_s: 1, max_backoff_s: 5}}
    circuit_breaker: {{failure_threshold: 3, cooldown_s: 5}}
routes:
  - {{name: default, to: [siem, chat]}}
""")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], env=env, cwd=work,
                            stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"))
    accepted: list[str] = []
    stop = threading.Event()
    samples: list[tuple[float, float]] = []
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the agent did not start: " + (work / "agent.log").read_text()[-2000:])
                time.sleep(0.1)

        def sender() -> None:
            session = requests.Session()
            per_post = 100
            interval = per_post / args.rate
            n = 0
            next_at = time.monotonic()
            while not stop.is_set():
                sent = time.time()
                batch = [{"id": f"o-{n + i}", "time": "2025-01-15T14:30:00Z", "source": "bench", "type": "finding.new",
                          "severity": "medium", "title": "outage bench", "description": f"{sent:.6f}"} for i in range(per_post)]
                r = session.post(f"http://127.0.0.1:{port}/events", data=orjson.dumps(batch),
                                 headers={"Content-Type": "application/json"}, timeout=30)
                if r.status_code == 200:
                    accepted.extend(e["id"] for e in batch)
                n += per_post
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        t = threading.Thread(target=sender)
        t0 = time.monotonic()
        t.start()

        def sample_until(end: float) -> None:
            while time.monotonic() < end:
                samples.append((time.monotonic() - t0, rss_mib(proc.pid)))
                time.sleep(1.0)

        sample_until(t0 + args.warmup)
        outage_start_wall = time.time()
        chat.down = True
        sample_until(t0 + args.warmup + args.outage)
        chat.down = False
        outage_end_wall = time.time()
        stop.set()
        t.join(30)
        sent_n = len(accepted)
        recovered_at = time.monotonic()
        while len(chat.ids) < sent_n or len(siem.ids) < sent_n:
            samples.append((time.monotonic() - t0, rss_mib(proc.pid)))
            if time.monotonic() - recovered_at > 600:
                break
            time.sleep(0.5)
        catch_up = time.monotonic() - recovered_at
        before = [lat for when, lat in siem.latencies if when < outage_start_wall]
        during = [lat for when, lat in siem.latencies if outage_start_wall + 5 <= when < outage_end_wall]
        outage_rss = [r for ts, r in samples if args.warmup <= ts <= args.warmup + args.outage]
        print(f"sent and accepted {sent_n} events at {args.rate}/s; outage {args.outage:.0f}s (after {args.warmup:.0f}s warm-up)")
        print(f"agent RSS during the outage: start {outage_rss[0]:.0f} MiB, max {max(outage_rss):.0f} MiB, "
              f"end {outage_rss[-1]:.0f} MiB; peak over the run {max(r for _, r in samples):.0f} MiB")
        print("RSS samples (s, MiB): " + ", ".join(f"{ts:.0f}:{r:.0f}" for ts, r in samples[:: max(1, len(samples) // 20)]))
        print(f"healthy sink latency before: p50 {pct(before, .5):.0f} ms, p99 {pct(before, .99):.0f} ms; "
              f"during the outage: p50 {pct(during, .5):.0f} ms, p99 {pct(during, .99):.0f} ms")
        print(f"after recovery the down sink caught up in {catch_up:.1f}s; delivered: siem {len(siem.ids)}/{sent_n}, "
              f"chat {len(chat.ids)}/{sent_n}; all delivered: {len(siem.ids) >= sent_n and len(chat.ids) >= sent_n}")
        return 0
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        siem.server.shutdown()
        chat.server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
