#!/usr/bin/env python3
"""Benchmark: HTTP intake end to end, wrk → ``http`` source → durable spool → syslog sink → a counting receiver.

The same pipeline as the side-by-side harness's ``agent-http`` target (the agent runs
``bench/write_bench_config.py http``: dedup off, ``sync: full``, RFC 5424 over TCP with
octet counting), with two additions the harness does not have:

- ``--per-body N`` posts NDJSON bodies of N events (``bench/wrk_bodies.lua``), so the
  per-request cost and the per-event cost can be told apart;
- ``--trees A B ...`` runs the agent of several work trees one after the other within
  each repetition (A B A B ...), so an A/B comparison sees the same load on the shared
  machine; ``--base REF`` does the same with a git ref of this repository (exported
  with ``git archive`` and put first on ``PYTHONPATH``, as ``bench/ab_side_by_side.py``
  does) against the working tree, both run with this tree's virtual environment and
  ``python -P``; ``--profile DIR`` records each run with ``py-spy record -f raw``.

A run counts as complete when the receiver has every event of every 2xx request. CPU is
the agent process's user + system time (``/proc/PID/stat``) from the start of wrk to the
last delivered event, divided by the events delivered.

Usage: python3 bench/http_intake.py [--per-body 100] [--duration 15] [--connections 16]
       [--trees . ../main | --base main] [--reps 3] [--profile DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from trees import compile_tree, export  # noqa: E402  (bench/ is a folder of scripts)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def make_events(path: Path, count: int, seed: int = 15) -> None:
    """Write ``count`` JSON lines of about 700 bytes, alike to the harness's security events."""
    rnd = random.Random(seed)
    kinds = ["malware_detected", "connection_blocked", "authentication_failure", "port_scan", "exposed_bucket"]
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            ev = {
                "id": f"evt-{seed}-{i:08d}", "time": f"2026-12-06T05:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
                "vendor": "Palo Alto Networks", "product": "PAN-OS", "event_type": rnd.choice(kinds),
                "severity": rnd.choice(["low", "medium", "high", "critical"]),
                "title": f"Outbound connection to 203.0.113.{rnd.randrange(256)} blocked",
                "asset": {"hostname": f"ws-{rnd.randrange(10000):04d}.corp.example.com", "os": "Windows 11"},
                "src_ip": f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}",
                "dst_ip": f"198.51.100.{rnd.randrange(256)}", "dst_port": rnd.choice([443, 80, 8080, 4444]),
                "user": {"name": f"user{rnd.randrange(5000)}", "domain": "CORP"},
                "description": " ".join(rnd.choice(["policy", "rule", "matched", "traffic", "session", "denied",
                                                    "threat", "signature", "zone", "egress"]) for _ in range(30)),
            }
            out.write(json.dumps(ev, separators=(",", ":")) + "\n")


class Receiver:
    """Counts RFC 6587 octet-counted messages on one listening socket (any number of connections)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.last = 0.0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            data = conn.recv(1 << 20)
            if not data:
                return
            buf += data
            pos, n = 0, 0
            while True:
                space = buf.find(b" ", pos, pos + 12)
                if space < 0:
                    break
                end = space + 1 + int(buf[pos:space])
                if end > len(buf):
                    break
                pos, n = end, n + 1
            buf = buf[pos:]
            with self._lock:
                self.count += n
                self.last = time.monotonic()

    def close(self) -> None:
        self.sock.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the agent exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the HTTP port never opened")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def agent_argv(tree: Path, config: Path, exported: bool) -> tuple[list[str], dict[str, str]]:
    """The command that runs ``tree``'s agent, and its environment.

    An exported ref runs on this tree's virtual environment with the export first on
    ``PYTHONPATH``; ``-P`` keeps the current directory off ``sys.path``, or ``-m agent``
    would import whatever tree it is run from.
    """
    if not exported:
        return [str(tree / ".venv" / "bin" / "siemrelay"), "run", "-c", str(config)], dict(os.environ)
    python = HERE.parent / ".venv" / "bin" / "python"
    return [str(python), "-P", "-m", "agent", "run", "-c", str(config)], dict(os.environ, PYTHONPATH=str(tree))


def run_once(tree: Path, events_file: Path, args: argparse.Namespace, profile: Path | None,
             exported: bool = False) -> dict[str, object]:
    rcv = Receiver()
    http_port = free_port()
    work = Path(tempfile.mkdtemp(prefix="http-intake-"))
    try:
        subprocess.run([sys.executable, str(tree / "bench" / "write_bench_config.py"), "http", "127.0.0.1", str(rcv.port),
                        str(http_port), str(work)], check=True)
        if args.set:  # source options to try (the file is JSON, which YAML reads)
            config = json.loads((work / "siemrelay.yaml").read_text())
            for item in args.set:
                key, _, value = item.partition("=")
                config["sources"]["webhook"][key] = json.loads(value)
            (work / "siemrelay.yaml").write_text(json.dumps(config))
        argv, env = agent_argv(tree, work / "siemrelay.yaml", exported)
        agent = subprocess.Popen(argv, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=(work / "agent.log").open("wb"))
        spy = None
        try:
            wait_port(http_port, agent)
            cpu0, t0 = cpu_seconds(agent.pid), time.monotonic()
            if profile is not None:
                spy = subprocess.Popen([args.py_spy, "record", "-r", "200", "-f", "raw", "-d", str(args.duration), *args.py_spy_args,
                                        "-o", str(profile), "--pid", str(agent.pid)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
                                  "-s", str(HERE / "wrk_bodies.lua"), f"http://127.0.0.1:{http_port}/", "--",
                                  str(events_file), str(args.per_body)],
                                 capture_output=True, text=True, timeout=args.duration + 60).stdout
            m = re.search(r"^WRK_JSON (\{.*\})$", out, re.M)
            if not m:
                raise RuntimeError(f"wrk output not understood: {out[-400:]}")
            w = json.loads(m.group(1))
            accepted = w["requests"] - w["errors_status"] - w["errors_timeout"]
            want = accepted * args.per_body
            deadline = time.monotonic() + 120
            while rcv.count < want and time.monotonic() < deadline and agent.poll() is None:
                time.sleep(0.05)
            cpu = cpu_seconds(agent.pid) - cpu0
            delivered = rcv.count
            span = (rcv.last - t0) if delivered else 0.0
        finally:
            if spy is not None:
                spy.wait(60)
            agent.terminate()
            agent.wait(30)
        seconds = w["duration_us"] / 1e6
        return {
            "tree": str(tree), "per_body": args.per_body, "connections": args.connections,
            "requests_per_s": round(accepted / seconds), "events_per_s": round(accepted * args.per_body / seconds),
            "delivered_events_per_s": round(delivered / span) if span else None,
            "p50_ms": round(w["latency_p50_us"] / 1000, 2), "p99_ms": round(w["latency_p99_us"] / 1000, 2),
            "non_2xx": w["errors_status"], "socket_errors": w["errors_connect"] + w["errors_read"] + w["errors_write"]
            + w["errors_timeout"], "accepted_events": want, "delivered": delivered, "lost": max(want - delivered, 0),
            "cpu_us_per_event": round(cpu * 1e6 / delivered, 1) if delivered else None,
        }
    finally:
        rcv.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-body", type=int, default=1, help="events per POST (1: one JSON object; more: NDJSON)")
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--events-file", type=Path,
                    help="JSON lines to post (e.g. the side-by-side harness's cached workload); default: 10,000 made here")
    ap.add_argument("--trees", nargs="+", type=Path, default=[HERE.parent],
                    help="work trees whose .venv/bin/siemrelay runs, alternated within each repetition")
    ap.add_argument("--base", help="a git ref run against the working tree (A = the ref, B = this tree), alternated")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON",
                    help="options of the http source to override, e.g. workers=2")
    ap.add_argument("--profile", type=Path, help="directory for py-spy raw profiles, one per run")
    ap.add_argument("--py-spy-args", nargs="*", default=[], help="more py-spy record options, e.g. --gil --threads")
    args = ap.parse_args()
    args.py_spy = shutil.which("py-spy") or str(HERE.parent / ".venv" / "bin" / "py-spy")
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        events = args.events_file or Path(tmp) / "events.jsonl"
        if args.events_file is None:
            make_events(events, 10_000)
        trees: list[tuple[Path, bool]] = [(t.resolve(), False) for t in args.trees]
        if args.base:
            trees = [(export(args.base, Path(tmp) / "base", ("agent", "plugins", "bench")), True),
                     (compile_tree(HERE.parent), False)]
        results: dict[str, list[dict[str, object]]] = {}
        for rep in range(args.reps):
            for i, (tree, exported) in enumerate(trees):
                prof = None
                if args.profile is not None:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    prof = args.profile / f"{i}-{tree.name}-rep{rep}.txt"
                res = run_once(tree, events, args, prof, exported)
                label = f"{args.base} (exported)" if exported else str(tree)
                res["tree"] = label
                print(json.dumps(res), flush=True)
                results.setdefault(label, []).append(res)
        for tree, runs in results.items():
            med = {k: statistics.median(float(r[k]) for r in runs if r[k] is not None)  # type: ignore[arg-type]
                   for k in ("requests_per_s", "events_per_s", "p50_ms", "p99_ms", "cpu_us_per_event")
                   if any(r[k] is not None for r in runs)}
            print(f"# {tree}: medians of {len(runs)}: " + ", ".join(f"{k} {v:g}" for k, v in med.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
