"""``siemrelay sinks``, ``send-test``, ``tap`` and ``top``: a running agent, seen through its admin API.

These talk to the agent over the same API operators script against, so what they
show is what ``/metrics`` and the status page show (live circuit states, rates).
``tap`` prints events as JSON lines, like ``vector tap``; ``top`` redraws a table of
rates, queue depths and circuit states, like ``vector top``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, TextIO

import orjson

from agent.admin.client import AdminClient, ClientError, resolve

__all__ = ["add_parsers", "render_top"]


def _client_args(p: argparse.ArgumentParser, add_config: Callable[[argparse.ArgumentParser], None]) -> None:
    add_config(p)
    p.add_argument("--admin-url", help="admin API base URL (default: $SIEMRELAY_ADMIN_URL or agent.admin.address of the config)")
    p.add_argument("--token", help="API token (default: $SIEMRELAY_ADMIN_TOKEN, agent.admin.token, or <state_dir>/admin.token)")


def add_parsers(sub: Any, add_config: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the subcommands (``sinks`` only if no other module already provides it)."""
    if "sinks" not in sub.choices:
        p = sub.add_parser("sinks", help="list sinks with state, rate, queue depth and last error; show or re-enable one")
        _client_args(p, add_config)
        p.add_argument("action", nargs="?", choices=["list", "show", "enable"], default="list")
        p.add_argument("name", nargs="?", help="the sink to show or re-enable")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(handler=cmd_sinks)

    p = sub.add_parser("send-test", help="send a test event through a sink's real encoder and transport")
    _client_args(p, add_config)
    p.add_argument("sink")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_send_test)

    p = sub.add_parser("tap", help="print live events as JSON lines (like vector tap)")
    _client_args(p, add_config)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--source", help="only events from this source")
    which.add_argument("--sink", help="only events routed to this sink")
    p.add_argument("--limit", type=int, help="stop after this many events")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.set_defaults(handler=cmd_tap)

    p = sub.add_parser("top", help="live per-source and per-sink rates, queue depth and circuit state (like vector top)")
    _client_args(p, add_config)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    p.add_argument("--once", action="store_true", help="print one frame and exit (scripts, tests)")
    p.set_defaults(handler=cmd_top)


def _client(args: argparse.Namespace) -> AdminClient:
    url, token, verify = resolve(args.admin_url, args.token, args.config)
    return AdminClient(url, token, verify=verify)


def _run(fn: Callable[[argparse.Namespace, Any], int]) -> Callable[[argparse.Namespace, Any], int]:
    def wrapped(args: argparse.Namespace, redactor: Any) -> int:
        try:
            return fn(args, redactor)
        except ClientError as exc:
            print(f"siemrelay: {redactor(str(exc))}", file=sys.stderr)
            return exc.code
        except BrokenPipeError:  # `siemrelay tap | head`
            return 0

    wrapped.__doc__ = fn.__doc__
    return wrapped


def _dump(obj: Any, out: TextIO) -> None:
    out.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")


def _rate(v: float) -> str:
    return f"{v:,.1f}/s"


def _sink_table(sinks: list[dict[str, Any]]) -> list[str]:
    lines = [f"{'SINK':<18} {'TYPE':<11} {'STATE':<13} {'RATE':>10} {'QUEUE':>9} {'OLDEST':>8} {'SENT':>10} {'DEAD':>6}  LAST ERROR"]
    for s in sinks:
        err = (s["last_error"] or "")[:60]
        lines.append(f"{s['name'][:18]:<18} {s['type'][:11]:<11} {s['state']:<13} {_rate(s['rate_per_s']):>10} "
                     f"{s['queue_depth']:>9,} {s['oldest_age_s']:>7.0f}s {s['events_sent']:>10,} {s['dead_letters_stored']:>6,}  {err}")
    return lines


def cmd_sinks(args: argparse.Namespace, redactor: Any) -> int:
    """Live view through the API; with no agent (or no API) running, the spool's offline view."""
    if args.action in ("show", "enable") and not args.name:
        print(f"siemrelay: sinks {args.action} needs the sink's name", file=sys.stderr)
        return 2
    try:
        return _sinks_api(args, redactor)
    except ClientError as exc:
        offline = getattr(sys.modules.get("agent.cli.main"), "cmd_sinks", None)
        if not exc.unreachable or args.action == "show" or offline is None or args.admin_url:
            print(f"siemrelay: {redactor(str(exc))}", file=sys.stderr)
            return exc.code
        print(f"siemrelay: {redactor(str(exc))}; showing the spool's offline view", file=sys.stderr)
        return int(offline(args, redactor))


def _sinks_api(args: argparse.Namespace, redactor: Any) -> int:
    client = _client(args)
    if args.action == "enable":
        res = client.post(f"/api/v1/sinks/{args.name}/enable")
        print(f"sink {res['sink']} re-enabled: circuit {res['circuit']}, failure counter reset, retrying now")
        return 0
    if args.action == "show":
        view = client.get(f"/api/v1/sinks/{args.name}")
        if args.json:
            _dump(view, sys.stdout)
        else:
            for key, value in view.items():
                if key != "config":
                    print(f"{key:<22} {value if value is not None else '-'}")
            print("config:")
            sys.stdout.write(orjson.dumps(view.get("config"), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    sinks = client.get("/api/v1/sinks")["sinks"]
    if args.json:
        _dump(sinks, sys.stdout)
    else:
        print("\n".join(_sink_table(sinks)))
    return 0


@_run
def cmd_send_test(args: argparse.Namespace, redactor: Any) -> int:
    res = _client(args).post(f"/api/v1/sinks/{args.sink}/test")
    if args.json:
        _dump(res, sys.stdout)
    else:
        mark = "√" if res["ok"] else "x"
        code = f" (code {res['code']})" if res.get("code") is not None else ""
        print(f"{mark} sink {res['sink']}: {res['status']}{code} in {res['latency_ms']:.0f} ms: {res['reason'] or 'ok'}")
        print(f"  test event {res['event_id']}; see `siemrelay deliveries {res['sink']}`")
    return 0 if res["ok"] else 1


@_run
def cmd_tap(args: argparse.Namespace, redactor: Any) -> int:
    client = _client(args)
    out = sys.stdout.buffer
    for line in client.stream("/api/v1/tap", source=args.source, sink=args.sink, limit=args.limit, duration_s=args.duration):
        out.write(line + b"\n")
        out.flush()
    return 0


def render_top(status: dict[str, Any], url: str = "") -> str:
    """One frame of ``siemrelay top`` from the ``/api/v1/status`` document."""
    spool = status["spool"]
    pct = 100.0 * spool["pending_bytes"] / spool["max_bytes"] if spool["max_bytes"] else 0.0
    lines = [f"siemrelay {status['version']}  {url}  up {status['uptime_s']:.0f}s  "
             f"spool {spool['pending_bytes']:,} B ({pct:.1f}%){'  FULL' if spool['full'] else ''}  "
             f"dead letters {status['dead_letters']['total']:,}", ""]
    lines.append(f"{'SOURCE':<18} {'TYPE':<11} {'RATE':>10} {'EVENTS':>12} {'ERRORS':>8} {'REFUSED':>8}")
    for s in status["sources"]:
        lines.append(f"{s['name'][:18]:<18} {s['type'][:11]:<11} {_rate(s['rate_per_s']):>10} {s['events']:>12,} "
                     f"{s['decode_errors']:>8,} {s['refused_full']:>8,}")
    lines.append("")
    lines.extend(_sink_table(status["sinks"]))
    return "\n".join(lines) + "\n"


@_run
def cmd_top(args: argparse.Namespace, redactor: Any) -> int:
    client = _client(args)
    tty = sys.stdout.isatty()
    try:
        while True:
            frame = redactor(render_top(client.get("/api/v1/status"), client.url))
            if args.once:
                sys.stdout.write(frame)
                return 0
            sys.stdout.write(("\x1b[H\x1b[2J" if tty else "") + frame + ("" if tty else "\n"))
            sys.stdout.flush()
            time.sleep(max(0.2, args.interval))
    except KeyboardInterrupt:
        return 0
