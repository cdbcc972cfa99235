#!/usr/bin/env python3
"""Backlog: a syslog sink comes back to a spool holding B events, while a file is tailed at the same time.

The speed issue's target: "with 5 million events spooled for a sink that was down,
draining runs at the normal rate, and intake is not slower while the backlog exists".
Two runs of the same agent and configuration (the harness's file → TCP syslog path,
``bench/write_bench_config.py file``: ``file`` source from the beginning, ``json``
decoder, durable spool, one ``syslog`` sink to the harness's receiver), interleaved per
repetition:

- ``normal``: an empty spool; the agent tails K lines of the harness's workload
  (``gen_events.py``) and delivers them. Its events/s (K / time from start to the
  receiver's K-th message, the harness's measure) is the normal 1-sink rate.
- ``backlog``: the same, but the spool already holds B events for the sink (written
  beforehand with the spool's own API, as the agent stores them while the sink is down;
  one filled spool is copied for every run). The sink drains B + K events while the
  source reads its K lines.

Drain rate = messages / time from the receiver's first to its last message. Intake rate
= K / the time the source took to decode and spool its K events, from the agent's
``/metrics`` (``siemrelay_source_events_in_total``, polled every ``--poll-s``; the admin
API is switched on for this on loopback). Both runs report both, so "draining at the
normal rate" reads backlog drain ÷ normal delivered rate, and "intake not slower" reads
backlog intake ÷ normal intake.

    python bench/backlog_drain.py [--harness ../shared/bench/bench.py] [--backlog 1000000] [--intake 200000] [--reps 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness_link import ROOT, Spec, agent_python, harness_options, load_harness, run_target  # noqa: E402
from trees import export  # noqa: E402
from write_bench_config import file_config  # noqa: E402

HOST = "127.0.0.1"
TOKEN = "bench-backlog-token-0123456789abcdef"
SINK = "collector"  # the sink write_bench_config.py names for one sink
SOURCE = "events"


def fill(state: Path, events: int) -> float:
    """Spool ``events`` native events for the sink (the stored form of ``bench/delivery_drain.py``)."""
    code = f"""
import sys, time
sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'bench')!r})
from agent.spool.store import Spool
from delivery_drain import TEMPLATE
sp = Spool({str(state)!r}, sync="normal", max_bytes=1 << 40)
sp.open([{SINK!r}])
mask = 1 << sp.bit_of({SINK!r})
t = time.monotonic()
for base in range(0, {events}, 5000):
    sp.append([(mask, TEMPLATE.format(i=i).encode()) for i in range(base, min({events}, base + 5000))])
sp.close()
print(time.monotonic() - t)
"""
    import subprocess
    out = subprocess.run([agent_python(), "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


class MetricsPoller:
    """Samples the agent's source and sink counters from ``/metrics`` until stopped."""

    PATTERN = re.compile(r'^(siemrelay_source_events_in_total\{source="%s"\}|siemrelay_sink_events_out_total\{sink="%s"\}) (\S+)$'
                         % (SOURCE, SINK), re.M)

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, events in, events out)
        self.stop = threading.Event()
        self.started = time.monotonic()

    def run(self, _listen: int | None, poll_s: float) -> None:
        self.started = time.monotonic()  # called just after the agent was started
        req = urllib.request.Request(f"http://{HOST}:{self.port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    text = resp.read().decode()
                values = {m.group(1).split("{")[0]: float(m.group(2)) for m in self.PATTERN.finditer(text)}
                self.samples.append((time.monotonic(), values.get("siemrelay_source_events_in_total", 0.0),
                                     values.get("siemrelay_sink_events_out_total", 0.0)))
            except OSError:
                pass  # not listening yet, or stopping
            self.stop.wait(poll_s)


def intake_rate(samples: list[tuple[float, float, float]], k: int) -> float | None:
    """Events/s the source spooled, from the first sample that counted any to the first that
    counted all ``k`` (or, when the run ended between two samples, the last one before).

    Start-up is left out (it differs with the spool's size, and it is not intake). Without a
    backlog the source and the sink finish within one poll of each other, so the last
    sample is often short of ``k``; the rate over the samples is the same measure either way.
    """
    counting = [(t, i) for t, i, _ in samples if i > 0]
    if len(counting) < 2:
        return None
    done = next(((t, i) for t, i in counting if i >= k), counting[-1])
    (t0, i0), (t1, i1) = counting[0], done
    return (i1 - i0) / (t1 - t0) if t1 > t0 else None


def agent(input_path: str, state_from: Path | None, admin_port: int,
          sink_set: dict[str, Any] | None = None, tree: Path = ROOT) -> Callable[[str, int], Spec]:
    """:param tree: where the agent's code is (``agent/`` and ``plugins/``; another version's)."""
    def spec(workdir: str, port: int) -> Spec:
        wd = Path(workdir)
        if state_from is not None:
            shutil.copytree(state_from, wd / "state")
        config: dict[str, Any] = file_config(Path(input_path), HOST, port, wd)
        config["agent"]["admin"] = {"enabled": True, "address": f"{HOST}:{admin_port}", "token": TOKEN}  # type: ignore[index]
        config["agent"]["spool"] = {"max_bytes": 1 << 40}  # type: ignore[index]
        config["sinks"][SINK].update(sink_set or {})  # type: ignore[index]
        (wd / "siemrelay.yaml").write_text(json.dumps(config, indent=2))
        # -P: the current directory is not put ahead of PYTHONPATH (it would pick the working tree's code)
        return Spec([agent_python(), "-P", "-m", "agent", "run", "-c", str(wd / "siemrelay.yaml")], cwd=str(tree),
                    env=dict(os.environ, PYTHONPATH=str(tree)))
    return spec


def report(rows: list[dict[str, Any]], backlog: int, k: int, reps: int, date: str, load: tuple[float, float],
           fill_eps: float) -> str:
    """The Markdown summary of the runs (also re-rendered from a saved JSON with ``--report``)."""
    for r in rows:  # the intake rate is derived from the stored samples, so a re-render applies today's rule
        r["intake_eps"] = intake_rate([tuple(x) for x in r.get("samples") or []], k)  # type: ignore[misc]

    def med(label: str, key: str) -> float | None:
        vals = [r[key] for r in rows if r["run"] == label and r.get(key)]
        return statistics.median(vals) if vals else None

    def ratio(key: str) -> list[float]:
        pairs = zip([r for r in rows if r["run"] == "backlog"], [r for r in rows if r["run"] == "normal"])
        return [a[key] / b[key] for a, b in pairs if a.get(key) and b.get(key)]

    drain, intake = ratio("drain_eps"), ratio("intake_eps")
    md = (f"Backlog of {backlog:,} events for the syslog sink, drained while the file source reads "
          f"{k:,} lines; {reps} repetition(s), normal and backlog interleaved; {date}; load average "
          f"{load[0]:.1f} → {load[1]:.1f}; spool filled at {fill_eps:,.0f} events/s.\n\n"
          "| run | events delivered | delivered/s, receiver's first → last | events/s from the agent's start | "
          "CPU µs/event | peak RSS MB | intake events/s (first → last event spooled) |\n"
          "|---|---|---|---|---|---|---|\n")
    for label in ("normal", "backlog"):
        n = k + (backlog if label == "backlog" else 0)
        md += (f"| {label} | {n:,} | {med(label, 'drain_eps') or 0:,.0f} | {med(label, 'eps') or 0:,.0f} | "
               f"{med(label, 'cpu_us') or 0:.1f} | {med(label, 'rss_mb') or 0:.1f} | {med(label, 'intake_eps') or 0:,.0f} |\n")
    md += (f"\ndrain ÷ normal rate: {statistics.median(drain) if drain else float('nan'):.2f} "
           f"({', '.join(f'{x:.2f}' for x in drain)}); intake with backlog ÷ without: "
           f"{statistics.median(intake) if intake else float('nan'):.2f} ({', '.join(f'{x:.2f}' for x in intake)})\n")
    return md


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--harness", type=Path, default=None, help="the side-by-side harness's bench.py (or its folder)")
    ap.add_argument("--backlog", type=int, default=1_000_000, help="events spooled before the sink comes back")
    ap.add_argument("--intake", type=int, default=200_000, help="lines the file source reads during the drain")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--poll-s", type=float, default=0.5)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--report", type=Path, default=None, help="only re-render the summary of a saved JSON result")
    ap.add_argument("--base", default=None, metavar="REF",
                    help="run git ref REF's code (exported and compiled, bench/trees.py) instead of the working tree's")
    ap.add_argument("--sink-set", action="append", default=[], metavar="KEY=JSON",
                    help="one more option of the syslog sink (e.g. encode_in=\"child\"); repeatable")
    args = ap.parse_args()
    if args.report is not None:
        saved = json.loads(args.report.read_text())
        print(report(saved["runs"], saved["backlog"], saved["intake"], max(r["rep"] for r in saved["runs"]),
                     saved["date"], (saved["loadavg"][0][0], saved["loadavg"][1][0]),
                     saved["backlog"] / saved["fill_s"]))
        return 0
    harness = load_harness(args.harness)
    sink_set: dict[str, Any] = {}
    for item in args.sink_set:
        key, _, value = item.partition("=")
        if not key or not value:
            ap.error(f"--sink-set {item!r}: expected KEY=JSON")
        sink_set[key] = json.loads(value)
    opts = harness_options(harness, args.intake)
    rcv_cmd, _ = harness.receiver_cmd(opts)
    input_path = harness.ensure_input(opts)
    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="siemrelay-backlog-") as tmp:
        tree = export(args.base, Path(tmp) / "base") if args.base else ROOT
        filled = Path(tmp) / "state"
        fill_s = fill(filled, args.backlog)
        size = sum(f.stat().st_size for f in filled.iterdir() if f.is_file())
        print(f"spooled {args.backlog:,} events in {fill_s:.1f} s ({args.backlog / fill_s:,.0f}/s), "
              f"{size / 2**20:,.0f} MiB", file=sys.stderr, flush=True)
        for rep in range(1, args.reps + 1):
            for label, state, backlog in (("normal", None, 0), ("backlog", filled, args.backlog)):
                admin = harness.free_port()
                poller = MetricsPoller(admin)
                expect = backlog + args.intake
                r = run_target(harness, rcv_cmd, label, expect, expect, agent(input_path, state, admin, sink_set, tree),
                               load=lambda p, poller=poller: poller.run(p, args.poll_s),
                               timeout=max(600.0, expect / 200), idle=60.0)
                poller.stop.set()
                samples = [(round(t - poller.started, 2), i, o) for t, i, o in poller.samples]
                intake_eps = intake_rate(samples, args.intake)
                intake_s = next((t for t, i, _ in samples if i >= args.intake), None)
                row = {"rep": rep, "run": label, "backlog": backlog, "complete": r.complete, "received": r.received,
                       "seconds": r.seconds, "eps": r.eps, "cpu_us": r.cpu_us, "rss_mb": r.rss_peak_mb,
                       "drain_eps": expect / r.extra["stream_s"] if r.extra.get("stream_s") else None,
                       "intake_eps": intake_eps, "intake_done_s": intake_s,
                       "samples": samples}
                rows.append(row)
                print(f"rep {rep} {r.line()}  intake {intake_eps or 0:,.0f}/s", file=sys.stderr, flush=True)
    md = report(rows, args.backlog, args.intake, args.reps, f"{started:%Y-%m-%d %H:%M} UTC",
                (load_start[0], os.getloadavg()[0]), args.backlog / fill_s)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"backlog-{started:%Y%m%d-%H%M%S}"
    (args.out / f"{stamp}.md").write_text(md)
    (args.out / f"{stamp}.json").write_text(json.dumps({"date": f"{started:%Y-%m-%d %H:%M} UTC", "backlog": args.backlog,
                                                        "intake": args.intake, "fill_s": fill_s, "runs": rows,
                                                        "loadavg": [load_start, os.getloadavg()]}, indent=1))
    print(f"results: {os.path.relpath(args.out / stamp)}.{{json,md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
