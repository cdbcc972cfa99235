"""Benchmark: a Splunk HEC "Server is busy" outage under steady load.

Runs ``python -m agent run`` with an ``http`` source and a ``splunk_hec`` sink pointed
at the strict HEC receiver of the test suite. A sender posts ``--rate`` events/s
(default 200, the audit's rate) for ``--before`` seconds, then for ``--outage`` seconds
while the receiver answers every event request ``503 {"code": 9, "text": "Server is
busy"}``, then for ``--after`` seconds once it recovered. Reports the events posted,
indexed (and duplicates), dead-lettered, the busy answers the agent received, how often
the circuit opened, and how long the backlog took to drain after recovery.

The audit's run (5 minutes at 200 events/s) dead-lettered 3,298 of 60,055 events; the
target is 0.

    python bench/hec_busy_outage.py [--rate 200] [--outage 30] [--before 5] [--after 5]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.peers.hec_receiver import HecReceiver  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(state: Path, listen: int, hec_url: str) -> str:
    return f"""
agent:
  state_dir: {state}
  shutdown_timeout_s: 5
sources:
  web: {{type: http, address: "127.0.0.1:{listen}"}}
sinks:
  splunk:
    type: splunk_hec
    url: "{hec_url}"
    token: good-token
    healthcheck_on_start: false
routes:
  - {{name: default, to: [splunk]}}
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=200, help="events per second posted")
    ap.add_argument("--before", type=float, default=5.0, help="seconds of normal service first")
    ap.add_argument("--outage", type=float, default=30.0, help="seconds HEC answers 503 code 9")
    ap.add_argument("--after", type=float, default=5.0, help="seconds of posting after recovery")
    args = ap.parse_args()
    total = int(args.rate * (args.before + args.outage + args.after))
    with tempfile.TemporaryDirectory() as tmp, HecReceiver(free_port()) as hec:
        listen = free_port()
        cfg = Path(tmp) / "siemrelay.yaml"
        cfg.write_text(config(Path(tmp) / "state", listen, hec.url))
        log = open(Path(tmp) / "agent.log", "wb")
        agent = subprocess.Popen([sys.executable, "-m", "agent", "--log-format", "json", "run", "-c", str(cfg)],
                                 cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", listen), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            posted: list[str] = []

            def sender() -> None:
                start = time.monotonic()
                with requests.Session() as s:
                    for i in range(0, total, 10):
                        time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
                        batch = [{"id": f"ev-{n:07d}", "time": "2025-01-15T14:30:00Z", "source": "bench",
                                  "type": "finding.new", "severity": "high", "title": f"finding {n}"}
                                 for n in range(i, min(i + 10, total))]
                        r = s.post(f"http://127.0.0.1:{listen}/events", data=orjson.dumps(batch), timeout=30)
                        if r.status_code == 200:
                            posted.extend(e["id"] for e in batch)

            t = threading.Thread(target=sender)
            t.start()
            time.sleep(args.before)
            hec.outage = (9, {})
            time.sleep(args.outage)
            hec.outage = None
            recovered = time.monotonic()
            busy = sum(1 for r in hec.requests if r.answer.get("code") == 9)
            t.join()
            while len(hec.indexed) < len(posted) and time.monotonic() - recovered < args.after + 120:
                time.sleep(0.05)
            drained = time.monotonic() - recovered
            dead = orjson.loads(subprocess.run([sys.executable, "-m", "agent", "dlq", "list", "-c", str(cfg), "--json"],
                                               cwd=ROOT, capture_output=True, text=True).stdout or "[]")
        finally:
            agent.terminate()
            agent.wait(30)
            log.close()
        opened = (Path(tmp) / "agent.log").read_text(errors="replace").count("circuit open")
        ids = [e["event"]["id"] for e in hec.indexed]
    print(f"posted {len(posted)} events at {args.rate}/s; HEC busy (503 code 9) for {args.outage:g}s")
    print(f"busy answers received by the agent: {busy}; circuit opened: {opened} time(s)")
    print(f"indexed {len(ids)} ({len(ids) - len(set(ids))} duplicates, {len(set(posted) - set(ids))} missing)")
    print(f"dead-lettered: {len(dead)}")
    print(f"backlog drained {drained:.1f}s after recovery (posting went on for {args.after:g}s of it)")
    return 0 if not dead and set(ids) == set(posted) else 1


if __name__ == "__main__":
    raise SystemExit(main())
