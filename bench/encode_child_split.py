#!/usr/bin/env python3
"""Where the CPU goes with the syslog sink encoding in a child (``encode_in``), per process.

The side-by-side harness reports the CPU and RSS of the agent's whole process tree; what
the offload changes is how that work splits between the main process (tail, decode,
route, spool, send) and the encoding child, i.e. how much of the main process's core it
frees. This runs ``siemrelay run`` on a file of JSON lines → ``syslog`` over TCP to a
discarding receiver, once per ``encode_in`` value, alternated, and reads each process's
CPU (utime+stime) and peak RSS (VmHWM) from /proc when the last byte arrived.

    python bench/encode_child_split.py --input events.jsonl [--events 200000] [--reps 2]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from proctree import children  # noqa: E402
TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sink:
    """A TCP listener that counts octet-counted frames and throws them away."""

    def __init__(self) -> None:
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.frames = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.srv.accept()
        buf = b""
        while chunk := conn.recv(1 << 20):
            buf += chunk
            while True:
                sp = buf.find(b" ")
                if sp < 0:
                    break
                size = int(buf[:sp])
                if len(buf) < sp + 1 + size:
                    break
                buf = buf[sp + 1 + size:]
                self.frames += 1


def run_once(input_path: Path, events: int, encode_in: str) -> dict[str, object]:
    sink = Sink()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = {"agent": {"state_dir": str(work / "state"), "log_level": "warning"},
                  "sources": {"events": {"type": "file", "paths": [str(input_path)], "read_from": "beginning",
                                         "decoder": "json"}},
                  "sinks": {"collector": {"type": "syslog", "address": f"127.0.0.1:{sink.port}", "transport": "tcp",
                                          "framing": "octet", "encode_in": encode_in}},
                  "routes": [{"name": "default", "to": ["collector"]}]}
        (work / "siemrelay.yaml").write_text(json.dumps(config))
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "-c", str(work / "siemrelay.yaml")], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while sink.frames < events:
                if proc.poll() is not None:
                    raise RuntimeError(f"the agent ended with {proc.returncode}")
                time.sleep(0.05)
            wall = time.monotonic() - started
            kids = [k for k in children(proc.pid)
                    if b"siemrelay-encode-" in Path(f"/proc/{k}/cmdline").read_bytes()]
            main_cpu, child_cpu = _cpu_s(proc.pid), sum(_cpu_s(k) for k in kids)
            main_rss, child_rss = _hwm_mb(proc.pid), sum(_hwm_mb(k) for k in kids)
        finally:
            proc.terminate()
            proc.wait(30)
    return {"encode_in": encode_in, "eps": round(events / wall), "main_cpu_us": round(main_cpu * 1e6 / events, 1),
            "child_cpu_us": round(child_cpu * 1e6 / events, 1),
            "total_cpu_us": round((main_cpu + child_cpu) * 1e6 / events, 1),
            "main_rss_mb": round(main_rss, 1), "child_rss_mb": round(child_rss, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", type=Path, required=True, help="JSON lines (the harness's gen_events.py output)")
    ap.add_argument("--events", type=int, default=200_000, help="lines in --input")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    for rep in range(args.reps):
        for mode in ("main", "child"):
            print(json.dumps({"rep": rep + 1, **run_once(args.input.resolve(), args.events, mode)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
