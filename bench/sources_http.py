#!/usr/bin/env python3
"""Benchmark: the ``http`` source under wrk, every 2xx meaning "durably in the spool".

Starts bench/sources_harness.py (http source → json decoder → routing → SQLite spool
with group commit, no sink worker), then runs wrk on loopback: one webhook (one event,
a unique id per request so de-duplication never short-cuts the spool) per POST, on
keep-alive connections. Reports requests/s, p50/p99 latency and non-2xx answers.
Usage: python bench/sources_http.py [--duration 10] [--connections 32] [--sync full|normal] [--cpu 0|-1]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

LUA = r"""
local n = 0
local tid = tostring(math.random(1, 1e9))
request = function()
  n = n + 1
  local body = '{"id":"w' .. tid .. '-' .. n .. '","timestamp":"2025-01-15T14:30:00Z","type":"finding.new",' ..
    '"severity":"high","title":"SQL injection in /api/users","asset":{"name":"app.example.com"}}'
  return wrk.format("POST", "/hook", {["Content-Type"] = "application/json"}, body)
end
"""


def parse_wrk(out: str) -> dict[str, object]:
    def ms(text: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", text)
        assert m, text
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    res: dict[str, object] = {"requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+(\S+)", out)
        if m:
            res[f"p{pct}_ms"] = round(ms(m.group(1)), 2)
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--sync", choices=["full", "normal"], default="full")
    ap.add_argument("--cpu", type=int, default=-1, help="pin the agent side to this CPU (-1: no pinning)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "post.lua").write_text(LUA)
        (work / "c.yaml").write_text(f"""
agent: {{state_dir: {work}/state, spool: {{sync: {args.sync}, max_bytes: {4 << 30}}}}}
sources:
  web: {{type: http, address: "127.0.0.1:0", paths: {{/hook: {{decoder: json}}}}, workers: {args.workers}}}
sinks:
  out: {{type: file, path: {work}/out.jsonl}}
routes:
  - {{name: default, to: [out]}}
""")
        proc = subprocess.Popen([sys.executable, str(HERE / "sources_harness.py"), str(work / "c.yaml"), "--cpu", str(args.cpu),
                                 "--report-every", "1"], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            port = json.loads(proc.stdout.readline())["ports"]["web"]
            out = subprocess.run(["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
                                  "--latency", "-s", str(work / "post.lua"), f"http://127.0.0.1:{port}/hook"],
                                 capture_output=True, text=True, timeout=args.duration + 60).stdout
        finally:
            proc.terminate()
            proc.wait(30)
        res = parse_wrk(out)
        print(json.dumps({"bench": "sources_http", "sync": args.sync, "connections": args.connections, **res}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
