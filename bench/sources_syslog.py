#!/usr/bin/env python3
"""Benchmark: the ``syslog`` source over TCP (RFC 6587 octet counting) into the durable spool.

Starts bench/sources_harness.py pinned to one CPU (syslog source → syslog decoder →
routing → SQLite spool, no sink worker), sends N RFC 5424 messages (~200 bytes, with
structured data) over --connections TCP connections from this process, and reports
messages/s from the first committed batch to the last.
Usage: python bench/sources_syslog.py [--messages 300000] [--connections 4] [--sync full|normal] [--framing octet|lf]
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent


def message(i: int) -> bytes:
    return (f"<134>1 2025-01-15T14:30:{i % 60:02d}.{i % 1000:03d}Z web-{i % 50:02d}.example.com nginx {1000 + i % 7} ACCESS "
            f'[req@32473 id="{i}" method="GET" status="200"] GET /api/users/{i} 200 1534 "curl/8.5"').encode()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    ap.add_argument("--framing", choices=["octet", "lf"], default="octet")
    ap.add_argument("--cpu", type=int, default=0)
    args = ap.parse_args()
    per = args.messages // args.connections
    total = per * args.connections
    payloads = []
    for c in range(args.connections):
        msgs = (message(c * per + i) for i in range(per))
        if args.framing == "octet":
            payloads.append(b"".join(str(len(m)).encode() + b" " + m for m in msgs))
        else:
            payloads.append(b"".join(m + b"\n" for m in msgs))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "c.yaml").write_text(f"""
agent: {{state_dir: {work}/state, spool: {{sync: {args.sync}, max_bytes: {4 << 30}}}, dedup: {{window_s: 0}}}}
sources:
  sl: {{type: syslog, address: "127.0.0.1:0", transport: tcp}}
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
            port = json.loads(proc.stdout.readline())["ports"]["sl"]

            def send(data: bytes) -> None:
                with socket.create_connection(("127.0.0.1", port)) as s:
                    s.sendall(data)

            threads = [threading.Thread(target=send, args=(p,)) for p in payloads]
            for t in threads:
                t.start()
            for raw in proc.stdout:
                msg = json.loads(raw)
                n = msg.get("inputs", {}).get("sl", {}).get("records", 0)
                if n and t0 is None:
                    t0, first = msg["t"], n
                if n >= total:
                    t1 = msg["t"]
                    break
            for t in threads:
                t.join()
        finally:
            proc.terminate()
            proc.wait(30)
        assert t0 is not None and t1 is not None
        print(json.dumps({"bench": "sources_syslog", "messages": total, "connections": args.connections, "framing": args.framing,
                          "sync": args.sync, "messages_per_s": round((total - first) / (t1 - t0))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
