#!/usr/bin/env python3
"""Fan-out: the file → TCP syslog path with every event going to 1 sink, then to 4, interleaved.

The speed issue's target: "with 4 sinks on every event, throughput at least 0.7× of the
1-sink figure (each event's bytes stored once)". The agent runs the harness's file
workload (``gen_events.py``: N JSON lines of about 695 bytes, read from the beginning,
``json`` decoder, durable spool) with the configuration ``bench/write_bench_config.py
--sinks S file`` writes: one route to S ``syslog`` sinks, all to the harness's receiver,
each sink on its own connection. The run ends when the receiver has N × S messages (every
sink delivered every event). events/s = N / time from the agent's start (the harness's
measure, start-up included); CPU is the agent's process tree over the same span, per
input event. ``--anchors`` also runs rsyslog (imfile → omfwd, RFC 5424, octet
counting) with 1 and with S actions, for how a C forwarder's fan-out scales.

Runs are interleaved (1, S, 1, S, …) so that the shared machine's drift hits both alike;
the ratio is the median of the per-repetition ratios. ``--b-set KEY=JSON`` (repeatable)
adds a second pair of targets, ``siemrelay-1-b`` and ``siemrelay-S-b``, run with those
settings in the same repetitions: an A/B of a setting's effect on the fan-out.

    python bench/fanout_sinks.py [--harness ../shared/bench/bench.py] [--events 200000] [--sinks 4] [--reps 3] [--anchors]
                                 [--b-set sources.events.batch_lines=2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness_link import (ROOT, RunResult, Spec, agent_python, harness_options, load_harness, markdown,  # noqa: E402
                          run_target, summarise)

HOST = "127.0.0.1"

RSYSLOG_CONF = """\
global(workDirectory="{workdir}" maxMessageSize="64k")
module(load="imfile" mode="inotify")
template(name="SiemRfc5424" type="string"
         string="<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID% %STRUCTURED-DATA% %msg%")
ruleset(name="forward") {{
{actions}
}}
input(type="imfile" File="{input}" Tag="siem-events" Facility="local0" Severity="info" freshStartTail="off" ruleset="forward")
"""
RSYSLOG_ACTION = ('    action(type="omfwd" target="{host}" port="{port}" protocol="tcp" TCP_Framing="octet-counted" '
                  'template="SiemRfc5424" name="fwd{i}" queue.type="LinkedList")')


def siemrelay(input_path: str, sinks: int, sets: list[str] = []) -> Callable[[str, int], Spec]:
    def spec(workdir: str, port: int) -> Spec:
        writer = (f"{sys.executable} {ROOT / 'bench' / 'write_bench_config.py'}"
                  + "".join(f" --set {shlex.quote(s)}" for s in sets))
        cmd = (f"{writer} --sinks {sinks} file {input_path} {HOST} {port} {workdir} && "
               f"exec {agent_python()} -m agent run -c {workdir}/siemrelay.yaml")
        return Spec(cmd, shell=True, cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return spec


def rsyslog(ctx: object, input_path: str, sinks: int) -> Callable[[str, int], Spec]:
    def spec(workdir: str, port: int) -> Spec:
        # each action with its own queue, as each siemrelay sink has its own worker
        actions = "\n".join(RSYSLOG_ACTION.format(host=HOST, port=port, i=i) for i in range(sinks))
        conf = os.path.join(workdir, "rsyslog.conf")
        Path(conf).write_text(RSYSLOG_CONF.format(workdir=workdir, input=input_path, actions=actions))
        argv = [ctx.rsyslogd, "-n", "-f", conf, "-i", os.path.join(workdir, "rsyslogd.pid")]  # type: ignore[attr-defined]
        if ctx.rsyslog_moddir:  # type: ignore[attr-defined]
            argv += ["-M", ctx.rsyslog_moddir]  # type: ignore[attr-defined]
        return Spec(argv)
    return spec


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--harness", type=Path, default=None, help="the side-by-side harness's bench.py (or its folder)")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--sinks", type=int, default=4, help="sinks of the fan-out run (default 4)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--anchors", action="store_true", help="also rsyslog with 1 and with --sinks actions")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--b-set", action="append", default=[], metavar="SECTION.KEY=JSON",
                    help="also run siemrelay-1-b and siemrelay-S-b with this setting (write_bench_config.py --set)")
    args = ap.parse_args()
    harness = load_harness(args.harness)
    opts = harness_options(harness, args.events)
    ctx = harness.Ctx(opts)
    rcv_cmd, rcv_impl = harness.receiver_cmd(opts)
    input_path = harness.ensure_input(opts)
    plan: list[tuple[str, int, Callable[[str, int], Spec]]] = []
    if args.anchors:
        if not ctx.rsyslogd:
            raise SystemExit("rsyslogd not found (see the harness's README)")
        plan += [("rsyslog-1", 1, rsyslog(ctx, input_path, 1)),
                 (f"rsyslog-{args.sinks}", args.sinks, rsyslog(ctx, input_path, args.sinks))]
    plan += [("siemrelay-1", 1, siemrelay(input_path, 1)),
             (f"siemrelay-{args.sinks}", args.sinks, siemrelay(input_path, args.sinks))]
    if args.b_set:
        plan += [("siemrelay-1-b", 1, siemrelay(input_path, 1, args.b_set)),
                 (f"siemrelay-{args.sinks}-b", args.sinks, siemrelay(input_path, args.sinks, args.b_set))]
    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()
    runs: list[RunResult] = []
    for rep in range(1, args.reps + 1):
        for name, sinks, spec in plan:
            r = run_target(harness, rcv_cmd, name, args.events * sinks, args.events, spec,
                           timeout=max(300.0, args.events * sinks / 500))
            runs.append(r)
            print(f"rep {rep} {r.line()}", file=sys.stderr, flush=True)
    rows = summarise(runs, "siemrelay-1")
    def ratios(fanned: str, single: str) -> list[float]:
        """Per repetition: events/s of target ``fanned`` ÷ that of ``single``."""
        return [a.eps / b.eps for a, b in zip([r for r in runs if r.target == fanned],
                                              [r for r in runs if r.target == single]) if a.eps and b.eps]

    fan = ratios(f"siemrelay-{args.sinks}", "siemrelay-1")
    fan_b = ratios(f"siemrelay-{args.sinks}-b", "siemrelay-1-b")
    anchor = ratios(f"rsyslog-{args.sinks}", "rsyslog-1")
    md = (f"Fan-out, {args.events:,} events of the harness's file workload to 1 and to {args.sinks} syslog sinks "
          f"(each sink its own connection to one receiver); {args.reps} repetition(s), interleaved; "
          f"{started:%Y-%m-%d %H:%M} UTC; load average {load_start[0]:.1f} → {os.getloadavg()[0]:.1f}. "
          f"events/s = input events delivered to every sink per second; the ratio column divides by siemrelay-1.\n\n"
          + markdown(rows, "siemrelay-1")
          + (f"\nsiemrelay {args.sinks} sinks ÷ 1 sink: {statistics.median(fan):.2f} (per repetition: "
             + ", ".join(f"{x:.2f}" for x in fan) + ")\n" if fan else "")
          + (f"with {' '.join(args.b_set)}: {args.sinks} sinks ÷ 1 sink: {statistics.median(fan_b):.2f} (per repetition: "
             + ", ".join(f"{x:.2f}" for x in fan_b) + ")\n" if fan_b else "")
          + (f"rsyslog {args.sinks} actions ÷ 1 action: {statistics.median(anchor):.2f} (per repetition: "
             + ", ".join(f"{x:.2f}" for x in anchor) + ")\n" if anchor else ""))
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"fanout-{started:%Y%m%d-%H%M%S}"
    (args.out / f"{stamp}.md").write_text(md)
    (args.out / f"{stamp}.json").write_text(json.dumps({
        "date": f"{started:%Y-%m-%d %H:%M} UTC", "events": args.events, "sinks": args.sinks, "reps": args.reps,
        "receiver": rcv_impl, "loadavg": [load_start, os.getloadavg()], "summary": rows,
        "fanout_ratio": fan, "rsyslog_fanout_ratio": anchor, "b_set": args.b_set, "fanout_ratio_b": fan_b,
        "runs": [{**r.__dict__, "eps": r.eps, "cpu_us": r.cpu_us} for r in runs]}, indent=1))
    print(f"results: {os.path.relpath(args.out / stamp)}.{{json,md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
