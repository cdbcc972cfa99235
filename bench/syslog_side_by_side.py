#!/usr/bin/env python3
"""Syslog relay side by side: TCP syslog in → TCP syslog out, siemrelay beside rsyslog and syslog-ng.

The speed issue's target "syslog over TCP in → syslog over TCP out, at least 0.6× rsyslog's
imtcp → omfwd" has no target in the side-by-side harness (it reads files), so this script
drives it with the harness's pieces (``bench/harness_link.py``): its workload (the same N
JSON lines of about 695 bytes, ``gen_events.py``), its receiver (counts octet-counted
messages) and its CPU and peak-RSS accounting of the forwarder's process tree.

Each message is an RFC 5424 message whose MSG is one workload line
(``<134>1 TIMESTAMP HOST siem-events - - - {...}``), framed with RFC 6587 octet counting.
A sender thread writes them all over one TCP connection as fast as the forwarder reads
(256 KiB writes from a buffer prepared beforehand, so the sender costs next to nothing);
the forwarder relays them as RFC 5424 with octet counting to the receiver. Targets, one
after the other in every repetition (A B C A B C …, so drift hits all alike):

- ``rsyslog``: imtcp → omfwd (TCP, ``TCP_Framing="octet-counted"``, the harness's RFC 5424
  template), from the unpacked Debian package the harness finds;
- ``syslog-ng``: ``syslog()`` source (syslog-ng's driver for RFC 5424 with octet counting,
  rather than ``network()``) → ``syslog()`` destination, flow control, default window; ``syslog-ng-tuned``
  with ``log-fetch-limit(1000) log-iw-size(10000)`` (the harness's tuning);
- ``siemrelay``: ``syslog`` source (TCP, ``syslog`` decoder) → durable spool (``sync: full``)
  → ``syslog`` sink, the configuration ``bench/write_bench_config.py syslog`` writes;
- ``siemrelay-base`` (with ``--base REF``): the same, running the ``agent`` and ``plugins``
  trees of git ref REF (exported with ``git archive``, first on ``PYTHONPATH``), so an
  A/B of two versions is interleaved with the anchors in every repetition.
  With ``--b-set SECTION.KEY=JSON`` the ``siemrelay`` target alone runs with that setting,
  so ``--base HEAD --b-set agent.intake.processes=2`` is an A/B of the setting.

Measured from the first byte sent (each forwarder is already listening) to the receiver's
N-th message: events/s, the forwarder's CPU over the same span in µs per event, and its
peak RSS (VmHWM, process tree). Medians of the repetitions, and the median of the
per-repetition ratios to rsyslog.

    python bench/syslog_side_by_side.py [--harness ../shared/bench/bench.py] [--events 200000] [--reps 3]
        [--only rsyslog,syslog-ng,siemrelay] [--base main]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness_link import (ROOT, RunResult, Spec, agent_python, harness_options, load_harness, markdown,  # noqa: E402
                          run_target, summarise)
from trees import compile_tree, export  # noqa: E402

HOST = "127.0.0.1"
TARGETS = ("rsyslog", "syslog-ng", "syslog-ng-tuned", "siemrelay", "siemrelay-base")

RSYSLOG_CONF = """\
global(workDirectory="{workdir}" maxMessageSize="64k")
module(load="imtcp")
# the harness's RFC 5424 template, without a trailing LF (the octet count frames the message)
template(name="SiemRfc5424" type="string"
         string="<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID% %STRUCTURED-DATA% %msg%")
ruleset(name="forward") {{
    action(type="omfwd" target="{host}" port="{port}" protocol="tcp" TCP_Framing="octet-counted" template="SiemRfc5424")
}}
input(type="imtcp" address="{host}" port="{listen}" ruleset="forward")
"""

SYSLOG_NG_CONF = """\
@version: {version}
options {{ stats-freq(0); use-dns(no); use-fqdn(no); keep-hostname(yes); chain-hostnames(no); log-msg-size(65536); }};
source s_in {{ syslog(ip("{host}") port({listen}) transport("tcp") {opts}); }};
destination d_out {{ syslog("{host}" port({port}) transport("tcp")); }};
log {{ source(s_in); destination(d_out); flags(flow-control); }};
"""


def payload(input_path: str, events: int) -> bytes:
    """The workload's lines as octet-counted RFC 5424 messages, one buffer."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    header = f"<134>1 {stamp} bench-host siem-events - - - ".encode()
    parts = []
    with open(input_path, "rb") as fh:
        for i, line in enumerate(fh):
            if i >= events:
                break
            msg = header + line.rstrip(b"\n")
            parts.append(b"%d %s" % (len(msg), msg))
    return b"".join(parts)


def sender(data: bytes) -> Callable[[int | None], None]:
    """Writes ``data`` over one TCP connection to the forwarder, as fast as it reads."""
    def send(port: int | None) -> None:
        assert port is not None
        view = memoryview(data)
        with socket.create_connection((HOST, port)) as conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            for pos in range(0, len(view), 1 << 18):
                conn.sendall(view[pos:pos + (1 << 18)])
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(600)
            try:
                while conn.recv(4096):  # hold the connection until the forwarder closes it (at stop)
                    pass
            except OSError:
                pass
    return send


def build(harness: ModuleType, ctx: object, target: str, listen: int,
          base_tree: Path | None = None, b_sets: Sequence[str] = ()) -> Callable[[str, int], Spec]:
    def rsyslog(workdir: str, port: int) -> Spec:
        conf = os.path.join(workdir, "rsyslog.conf")
        Path(conf).write_text(RSYSLOG_CONF.format(workdir=workdir, host=HOST, port=port, listen=listen))
        argv = [ctx.rsyslogd, "-n", "-f", conf, "-i", os.path.join(workdir, "rsyslogd.pid")]  # type: ignore[attr-defined]
        if ctx.rsyslog_moddir:  # type: ignore[attr-defined]
            argv += ["-M", ctx.rsyslog_moddir]  # type: ignore[attr-defined]
        return Spec(argv, listen_port=listen)

    def syslog_ng(workdir: str, port: int, opts: str) -> Spec:
        conf = os.path.join(workdir, "syslog-ng.conf")
        Path(conf).write_text(SYSLOG_NG_CONF.format(version=ctx.syslog_ng_version(), host=HOST, port=port,  # type: ignore[attr-defined]
                                                    listen=listen, opts=opts))
        return Spec([ctx.syslog_ng, "-F", "--no-caps", "-f", conf,  # type: ignore[attr-defined]
                     "--persist-file", os.path.join(workdir, "syslog-ng.persist"),
                     "--pidfile", os.path.join(workdir, "syslog-ng.pid"),
                     "--control", os.path.join(workdir, "syslog-ng.ctl")], listen_port=listen)

    def siemrelay(workdir: str, port: int, tree: Path, sets: Sequence[str] = ()) -> Spec:
        writer = f"{sys.executable} {ROOT / 'bench' / 'write_bench_config.py'}"
        writer += "".join(f" --set {shlex.quote(s)}" for s in sets)
        # -P: the current directory is not put first on sys.path, so PYTHONPATH decides which code runs
        cmd = (f"{writer} syslog {HOST} {port} {listen} {workdir} && "
               f"exec {agent_python()} -P -m agent run -c {workdir}/siemrelay.yaml")
        return Spec(cmd, shell=True, cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(tree)), listen_port=listen)

    return {"rsyslog": rsyslog,
            "syslog-ng": lambda w, p: syslog_ng(w, p, ""),
            "syslog-ng-tuned": lambda w, p: syslog_ng(w, p, "log-fetch-limit(1000) log-iw-size(10000)"),
            "siemrelay": lambda w, p: siemrelay(w, p, ROOT, b_sets),
            "siemrelay-base": lambda w, p: siemrelay(w, p, base_tree or ROOT)}[target]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--harness", type=Path, default=None, help="the side-by-side harness's bench.py (or its folder)")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default=",".join(TARGETS), help="comma list of " + ", ".join(TARGETS))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where the JSON and Markdown go")
    ap.add_argument("--base", default=None, help="git ref run as target siemrelay-base beside the working tree "
                    "(added to --only before siemrelay when not named)")
    ap.add_argument("--b-set", action="append", default=[], metavar="SECTION.KEY=JSON",
                    help="an agent setting for the siemrelay target only (e.g. agent.intake.processes=2; with "
                         "--base HEAD, an A/B of the setting); repeatable")
    args = ap.parse_args()
    harness = load_harness(args.harness)
    opts = harness_options(harness, args.events)
    ctx = harness.Ctx(opts)
    targets = [t for t in args.only.split(",") if t]
    base_dir = tempfile.TemporaryDirectory(prefix="siemrelay-base-") if args.base else None
    base_tree = export(args.base, Path(base_dir.name)) if base_dir is not None and args.base else None
    compile_tree(ROOT)  # every version starts from bytecode, as an installed agent does (bench/trees.py)
    if base_tree is not None and "siemrelay-base" not in targets:
        at = targets.index("siemrelay") if "siemrelay" in targets else len(targets)
        targets.insert(at, "siemrelay-base")
    if "siemrelay-base" in targets and base_tree is None:
        raise SystemExit("target siemrelay-base needs --base REF")
    for t in targets:
        if t not in TARGETS:
            raise SystemExit(f"unknown target {t!r}")
        if t == "rsyslog" and not ctx.rsyslogd or t.startswith("syslog-ng") and not ctx.syslog_ng:
            raise SystemExit(f"{t} is not installed here (see the harness's README)")
    rcv_cmd, rcv_impl = harness.receiver_cmd(opts)
    data = payload(harness.ensure_input(opts), args.events)
    print(f"{args.events:,} messages, {len(data) / args.events:.0f} bytes each on the wire; receiver: {rcv_impl}",
          file=sys.stderr)
    runs: list[RunResult] = []
    started = datetime.now(timezone.utc)
    load_start = os.getloadavg()
    for rep in range(1, args.reps + 1):
        for t in targets:
            listen = harness.free_port()
            r = run_target(harness, rcv_cmd, t, args.events, args.events, build(harness, ctx, t, listen, base_tree, args.b_set),
                           load=sender(data), timeout=max(300.0, args.events / 500))
            runs.append(r)
            print(f"rep {rep} {r.line()}", file=sys.stderr, flush=True)
    ref = "rsyslog" if "rsyslog" in targets else None
    rows = summarise(runs, ref)
    if base_dir is not None:
        base_dir.cleanup()
    b_note = f"siemrelay with {', '.join(args.b_set)}; " if args.b_set else ""
    md = (f"Syslog relay, {args.events:,} RFC 5424 messages (MSG: the harness's JSON lines) over one TCP connection, "
          f"octet counting in and out; {args.reps} repetition(s); "
          f"{f'siemrelay-base = {args.base}, siemrelay = the working tree; ' if args.base else ''}"
          f"{b_note}{started:%Y-%m-%d %H:%M} UTC; "
          f"load average {load_start[0]:.1f} → {os.getloadavg()[0]:.1f}.\n\n" + markdown(rows, ref))
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = f"syslog-{started:%Y%m%d-%H%M%S}"
    (args.out / f"{stamp}.md").write_text(md)
    (args.out / f"{stamp}.json").write_text(json.dumps({
        "date": f"{started:%Y-%m-%d %H:%M} UTC", "events": args.events, "reps": args.reps,
        "versions": ctx.versions(), "base": args.base, "receiver": rcv_impl, "loadavg": [load_start, os.getloadavg()],
        "summary": rows, "runs": [{**r.__dict__, "eps": r.eps, "cpu_us": r.cpu_us} for r in runs]}, indent=1))
    print(f"results: {os.path.relpath(args.out / stamp)}.{{json,md}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
