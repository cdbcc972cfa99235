"""Benchmark: drain N spooled events into a fast local Splunk HEC receiver.

Fills a spool with N events (default 1,000,000) for one ``splunk_hec`` sink, starts
``python -m agent run`` on it, and times how long the agent takes to deliver them all
to a minimal HEC-compatible receiver on loopback (``http.server``, gzip bodies,
counting events). Reports events/s, the agent's peak RSS (from /proc, VmHWM) and
the spool file size. Target: at least 50,000 events/s.

    python bench/delivery_drain.py [--events 1000000] [--batch 2000]
"""

from __future__ import annotations

import argparse
import gzip
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.spool.store import Spool  # noqa: E402

TEMPLATE = ('{{"id":"bench-{i}","time":"2025-01-15T14:30:00Z","received_at":"2025-01-15T14:30:01Z","source":"zeropath",'
            '"type":"finding.new","vendor_type":"NEW_VULNERABILITY","severity":"high","severity_id":4,"score":80,'
            '"title":"SQL injection in /api/users ({i})","description":"User input reaches a SQL query without '
            'parameterisation in the users endpoint; an attacker can read arbitrary rows.",'
            '"asset":{{"name":"app.example.com","type":"web","url":"https://app.example.com/api/users"}},'
            '"finding":{{"id":"f-{i}","category":"sqli","cwe":"CWE-89","status":"open"}},'
            '"repository":{{"name":"acme/shop","branch":"main"}},"tags":["bench"],"raw":{{"n":{i}}}}}')


class Receiver:
    """A minimal HEC endpoint: answers ``{"text":"Success","code":0}`` and counts events."""

    def __init__(self) -> None:
        self.count = 0
        self.first: float | None = None
        self.last = 0.0
        self.lock = threading.Lock()
        rx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                n = body.count(b'"event":')
                now = time.monotonic()
                with rx.lock:
                    rx.count += n
                    rx.first = rx.first or now
                    rx.last = now
                answer = b'{"text":"Success","code":0}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:  # noqa: N802  (health endpoint)
                self.do_POST()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def fill(state: Path, n: int) -> float:
    sp = Spool(state, sync="normal", max_bytes=1 << 40)
    sp.open(["hec"])
    started = time.monotonic()
    mask = 1 << sp.bit_of("hec")
    for base in range(0, n, 5000):
        sp.append([(mask, TEMPLATE.format(i=i).encode()) for i in range(base, min(n, base + 5000))])
    sp.close()
    return time.monotonic() - started


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="siemrelay-bench-"))
    rx = Receiver()
    try:
        fill_s = fill(work / "state", args.events)
        size = (work / "state" / "spool.db").stat().st_size
        print(f"spooled {args.events} events in {fill_s:.1f}s ({args.events / fill_s:,.0f}/s), spool file {size / 2**20:.0f} MiB")
        cfg = work / "siemrelay.yaml"
        cfg.write_text(f"""
agent:
  state_dir: {work}/state
  log_level: warning
  spool: {{sync: normal, max_bytes: {1 << 40}}}
sinks:
  hec:
    type: splunk_hec
    url: "http://127.0.0.1:{rx.port}"
    token: "00000000-0000-0000-0000-000000000000"
    batch: {{max_events: {args.batch}, max_bytes: 8388608, max_wait_s: 0.05}}
routes:
  - name: default
    to: [hec]
""")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(cfg)], env=env, cwd=work,
                                stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"))
        try:
            peak = 0.0
            while rx.count < args.events:
                if proc.poll() is not None:
                    print(open(work / "agent.log").read()[-3000:])
                    raise SystemExit(f"the agent exited with {proc.returncode}")
                peak = max(peak, peak_rss_mib(proc.pid))
                if time.monotonic() - started > 900:
                    raise SystemExit(f"timed out with {rx.count} of {args.events} delivered")
                time.sleep(0.2)
            peak = max(peak, peak_rss_mib(proc.pid))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        total = time.monotonic() - started
        span = rx.last - (rx.first or rx.last)
        print(f"delivered {rx.count} events: {rx.count / span:,.0f} events/s from first to last request "
              f"({rx.count / total:,.0f}/s including agent start-up, {total:.1f}s); agent peak RSS {peak:.0f} MiB")
        return 0
    finally:
        rx.server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
