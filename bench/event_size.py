#!/usr/bin/env python3
"""How throughput, CPU and memory grow with the size of an event: file → TCP syslog, beside rsyslog.

The side-by-side harness measures one event size (its ``gen_events.py`` lines, about 695
bytes). This script reshapes those lines to other sizes and runs the same path through
siemrelay and rsyslog at each: the harness's file workload with each event's
``description`` cut or lengthened (with its own words, repeated) until the line is the
size asked for, every other field as the harness wrote it. The same volume of bytes is
forwarded at every size (``--mbytes``), so a run of small events has many more of them.

siemrelay runs the configuration ``bench/write_bench_config.py file`` writes (the
harness's: ``json`` decoder, durable spool, one ``syslog`` sink, one preparing child);
rsyslog runs imfile → omfwd (RFC 5424, octet counting, ``maxMessageSize`` 64 KiB so no
event is cut). Per size the two run interleaved (rsyslog, siemrelay, rsyslog, ...), and
the ratio is the median of the per-repetition ratios. events/s counts from the
forwarder's start (the harness's measure); MB/s is the input's bytes per second.

    python bench/event_size.py [--harness ../shared/bench/bench.py] [--sizes 500,700,2000,8000] [--mbytes 200] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout_sinks import rsyslog, siemrelay  # noqa: E402
from harness_link import RunResult, Spec, harness_options, load_harness, run_target, summarise  # noqa: E402

#: the smallest line the reshaping reaches: a harness event with an empty description
MIN_SIZE = 400


def resized(line: bytes, size: int) -> bytes:
    """``line`` (one JSON object with a ``description``) with its description cut or repeated
    so that the compact line is ``size`` bytes (one or two more when a cut lands badly)."""
    event = json.loads(line)
    words = str(event.get("description") or "event").split() or ["event"]
    event["description"] = ""
    bare = len(json.dumps(event, separators=(",", ":")).encode())
    room = max(0, size - bare)
    text: list[str] = []
    used = 0
    i = 0
    while used < room:
        word = words[i % len(words)]
        text.append(word)
        used += len(word) + (1 if len(text) > 1 else 0)
        i += 1
    event["description"] = " ".join(text)[:room]
    return json.dumps(event, separators=(",", ":")).encode()


@dataclass
class SizeResult:
    """One size's medians (:func:`harness_link.summarise` rows) for siemrelay and rsyslog."""

    size: int
    mean_bytes: float
    events: int
    siemrelay: dict[str, Any]
    rsyslog: dict[str, Any]
    siemrelay_stream_eps: float | None  # the receiver's first to last message

    def row(self) -> str:
        def cell(row: dict[str, Any], key: str, spec: str) -> str:
            value = row.get(key)
            return "–" if value is None else format(value, spec)

        def mbps(row: dict[str, Any]) -> str:
            return "–" if row.get("eps") is None else f"{row['eps'] * self.mean_bytes / 1e6:.1f}"
        ours, anchor = self.siemrelay, self.rsyslog
        stream = "–" if self.siemrelay_stream_eps is None else f"{self.siemrelay_stream_eps:,.0f}"
        return (f"| {self.mean_bytes:,.0f} | {self.events:,} | {cell(ours, 'eps', ',.0f')} | {stream} | {mbps(ours)} | "
                f"{cell(ours, 'cpu_us', '.1f')} | {cell(ours, 'rss_mb', '.0f')} | {cell(anchor, 'eps', ',.0f')} | "
                f"{mbps(anchor)} | {cell(anchor, 'cpu_us', '.1f')} | {cell(anchor, 'rss_mb', '.0f')} | "
                f"{cell(ours, 'ratio', '.2f')} |")


def workload(source: str, size: int, count: int, out_dir: Path) -> tuple[Path, float]:
    """A file of ``count`` lines of about ``size`` bytes, made from the harness's workload
    (cycled when it has fewer lines); cached by size and count. Returns it and its mean line size."""
    path = out_dir / f"events-size{size}-n{count}.jsonl"
    if not path.exists():
        lines = Path(source).read_bytes().splitlines()
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as out:
            for n in range(count):
                out.write(resized(lines[n % len(lines)], size) + b"\n")
        tmp.replace(path)
    return path, path.stat().st_size / count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--harness", type=Path, default=None, help="the side-by-side harness's bench.py (or its folder)")
    ap.add_argument("--sizes", default="500,700,2000,8000", help=f"line sizes in bytes, comma separated (at least {MIN_SIZE})")
    ap.add_argument("--mbytes", type=float, default=200.0, help="megabytes of input per run, at every size (default 200)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < MIN_SIZE for s in sizes):
        raise SystemExit(f"--sizes: each size must be at least {MIN_SIZE} bytes (a harness event with no description)")
    harness = load_harness(args.harness)
    base_opts = harness_options(harness, 200_000)
    ctx = harness.Ctx(base_opts)
    if not ctx.rsyslogd:
        raise SystemExit("rsyslogd not found (run the harness's setup_anchors.sh; see its README)")
    rcv_cmd, rcv_impl = harness.receiver_cmd(base_opts)
    source = harness.ensure_input(base_opts)
    data_dir = Path(os.path.dirname(source))
    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()
    runs: list[RunResult] = []
    per_size: list[SizeResult] = []
    for size in sizes:
        count = int(args.mbytes * 1e6 / size)
        path, mean = workload(source, size, count, data_dir)
        plan: list[tuple[str, Callable[[str, int], Spec]]] = [
            (f"rsyslog-{size}", rsyslog(ctx, str(path), 1)), (f"siemrelay-{size}", siemrelay(str(path), 1))]
        mine: list[RunResult] = []
        for rep in range(1, args.reps + 1):
            for name, spec in plan:
                r = run_target(harness, rcv_cmd, name, count, count, spec, timeout=max(300.0, count / 500))
                mine.append(r)
                print(f"size {size} rep {rep} {r.line()}", file=sys.stderr, flush=True)
        runs += mine
        rows = {row["target"]: row for row in summarise(mine, f"rsyslog-{size}")}
        streams = [count / r.extra["stream_s"] for r in mine
                   if r.target.startswith("siemrelay") and r.complete and r.extra.get("stream_s")]
        per_size.append(SizeResult(size, mean, count, rows[f"siemrelay-{size}"], rows[f"rsyslog-{size}"],
                                   statistics.median(streams) if streams else None))
    md = [f"Event size: the harness's file workload reshaped to each size, {args.mbytes:g} MB of input per run "
          f"(so more events when they are small), file → RFC 5424/TCP (octet counting), siemrelay beside rsyslog, "
          f"{args.reps} repetition(s) interleaved per size; {started:%Y-%m-%d %H:%M} UTC; "
          f"load average {load_start[0]:.1f} → {os.getloadavg()[0]:.1f}; receiver {rcv_impl}. "
          f"events/s and CPU count from the forwarder's start (siemrelay's start-up, about a second of CPU, "
          f"included); first→last is the receiver's first to last message.\n",
          "| line bytes | events | siemrelay events/s | first→last | MB/s | CPU µs/event | peak RSS MB "
          "| rsyslog events/s | MB/s | CPU µs/event | RSS MB | siemrelay ÷ rsyslog |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    md += [entry.row() for entry in per_size]
    text = "\n".join(md) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"event-size-{started:%Y%m%d-%H%M%S}"
    (args.out / f"{stamp}.md").write_text(text)
    (args.out / f"{stamp}.json").write_text(json.dumps({
        "date": f"{started:%Y-%m-%d %H:%M} UTC", "mbytes": args.mbytes, "reps": args.reps, "receiver": rcv_impl,
        "loadavg": [load_start, os.getloadavg()], "sizes": [entry.__dict__ for entry in per_size],
        "runs": [{**r.__dict__, "eps": r.eps, "cpu_us": r.cpu_us} for r in runs]}, indent=1, default=str))
    print(f"results: {os.path.relpath(args.out / stamp)}.{{json,md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
