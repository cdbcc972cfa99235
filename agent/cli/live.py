"""``siemrelay send-test``, ``tap`` and ``top``: a running agent, seen through its admin API.

These talk to the agent over the same API operators script against, so what they
show is what ``/metrics`` and the status page show (live circuit states, rates).
``tap`` prints events as they are spooled, like ``vector tap``; ``top`` redraws a
table of rates, queue depths and circuit states, like ``vector top``.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import orjson
import yaml

from agent.cli.command import Command
from agent.cli.common import EXIT_CONFIG, add_config, dump_json, missing_config_hint
from agent.cli.table import render_table
from agent.sdk.json_types import JsonValue

if TYPE_CHECKING:
    from agent.admin.client import AdminClient
    from agent.logging import Redactor

__all__ = ["COMMANDS", "add_client_arguments", "client", "sink_table", "render_top", "format_event", "human_bytes"]


def add_client_arguments(p: argparse.ArgumentParser) -> None:
    """Where the admin API is and how to authenticate (defaults read from the configuration)."""
    add_config(p)
    p.add_argument("--admin-url", help="admin API base URL (default: $SIEMRELAY_ADMIN_URL or agent.admin.address of the config)")
    p.add_argument("--token", help="API token (default: $SIEMRELAY_ADMIN_TOKEN, agent.admin.token, or <state_dir>/admin.token)")


def client(args: argparse.Namespace) -> AdminClient:
    """The admin API client, from the options, the environment or the configuration file."""
    from agent.admin.client import AdminClient, ClientError, resolve  # requests: imported when a command talks to the API

    needs_config = not (args.admin_url or os.environ.get("SIEMRELAY_ADMIN_URL")) or not (
        args.token or os.environ.get("SIEMRELAY_ADMIN_TOKEN"))
    if needs_config and args.config and not Path(args.config).exists():
        raise ClientError(missing_config_hint(args.config), EXIT_CONFIG)
    url, token, verify = resolve(args.admin_url, args.token, args.config)
    return AdminClient(url, token, verify=verify)


def _api_errors(fn: Callable[[argparse.Namespace, Redactor], int]) -> Callable[[argparse.Namespace, Redactor], int]:
    """An unreachable agent or a refused request is one line and its exit code, never a traceback."""
    def wrapped(args: argparse.Namespace, redactor: Redactor) -> int:
        from agent.admin.client import ClientError

        try:
            return fn(args, redactor)
        except ClientError as exc:
            print(f"siemrelay: {redactor(str(exc))}", file=sys.stderr)
            return exc.code
        except BrokenPipeError:  # `siemrelay tap | head`
            return 0

    wrapped.__doc__ = fn.__doc__
    return wrapped


def human_bytes(n: float) -> str:
    """``512 B``, ``1.5 KiB``, ``3.2 MiB``, ``1.0 GiB``: binary units, as the status page shows sizes."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def _rate(v: float) -> str:
    return f"{v:,.1f}/s"


def sink_table(sinks: Sequence[dict[str, Any]], colour: bool = False) -> list[str]:
    """The sinks as a table; with ``colour``, the state is green (ok), yellow or red (open circuit)."""
    headers = ["SINK", "TYPE", "STATE", "RATE", "QUEUE", "OLDEST", "SENT", "BYTES SENT", "DEAD", "LAST ERROR"]
    rows = [[s["name"], s["type"], s["state"], _rate(s["rate_per_s"]), f"{s['queue_depth']:,}",
             f"{s['oldest_age_s']:.0f}s", f"{s['events_sent']:,}",
             human_bytes(s["bytes_sent"]) if s.get("bytes_sent") is not None else "-",
             f"{s['dead_letters_stored']:,}", s.get("last_error_plain") or s["last_error"] or ""] for s in sinks]
    codes = [["", "", _state_colour(s["state"])] for s in sinks] if colour else None
    return render_table(headers, rows, "lllrrrrrr", codes)


_GREEN, _YELLOW, _RED = "\x1b[32m", "\x1b[33m", "\x1b[31m"


def _state_colour(state: str) -> str:
    """Green ok, red circuit open or stopped, yellow retrying or half open, plain disabled."""
    return {"ok": _GREEN, "disabled": "", "retrying": _YELLOW, "half_open": _YELLOW}.get(state, _RED)


#: ``top --sort`` keys: how the rows of both tables are ordered.
SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "name": lambda r: r["name"],
    "rate": lambda r: -float(r.get("rate_per_s") or 0),
    "queue": lambda r: -int(r.get("queue_depth") or 0),
    "errors": lambda r: -int(r.get("failures") or r.get("decode_errors") or 0),
    "health": lambda r: (r.get("state", "ok") in ("ok", "disabled"), r["name"]),
}


def render_top(status: dict[str, Any], url: str = "", *, sort: str = "health", colour: bool = False) -> str:
    """One frame of ``siemrelay top`` from the ``/api/v1/status`` document."""
    spool = status["spool"]
    pct = 100.0 * spool["pending_bytes"] / spool["max_bytes"] if spool["max_bytes"] else 0.0
    lines = [f"siemrelay {status['version']}  {url}  up {status['uptime_s']:.0f}s  "
             f"spool {human_bytes(spool['pending_bytes'])} of {human_bytes(spool['max_bytes'])} ({pct:.1f}%)"
             f"{'  FULL' if spool['full'] else ''}  dead letters {status['dead_letters']['total']:,}", ""]
    key = SORT_KEYS[sort]
    sources = sorted(status["sources"], key=key)
    lines += render_table(["SOURCE", "TYPE", "RATE", "EVENTS", "BYTES IN", "ERRORS", "REFUSED"],
                          [[s["name"], s["type"], _rate(s["rate_per_s"]), f"{s['events']:,}",
                            human_bytes(s["bytes"]) if s.get("bytes") is not None else "-",
                            f"{s['decode_errors']:,}", f"{s['refused_full']:,}"] for s in sources], "llrrrrr")
    lines.append("")
    lines += sink_table(sorted(status["sinks"], key=key), colour)
    return "\n".join(lines) + "\n"


def _colour_wanted(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _top_arguments(p: argparse.ArgumentParser) -> None:
    add_client_arguments(p)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    p.add_argument("--once", action="store_true", help="print one frame and exit (scripts, tests)")
    p.add_argument("--sort", choices=sorted(SORT_KEYS), default="health",
                   help="row order: health (failing first, the default), name, rate, queue or errors")
    p.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                   help="colour the sink states (auto: on a terminal unless $NO_COLOR is set)")


@_api_errors
def top(args: argparse.Namespace, redactor: Redactor) -> int:
    """Redraw the status until Ctrl-C (or one frame with --once)."""
    api = client(args)
    tty = sys.stdout.isatty()
    colour = _colour_wanted(args.color)
    try:
        while True:
            frame = redactor(render_top(api.get("/api/v1/status"), api.url, sort=args.sort, colour=colour))
            if args.once:
                sys.stdout.write(frame)
                return 0
            sys.stdout.write(("\x1b[H\x1b[2J" if tty else "") + frame + ("" if tty else "\n"))
            sys.stdout.flush()
            time.sleep(max(0.2, args.interval))
    except KeyboardInterrupt:
        return 0


def _send_test_arguments(p: argparse.ArgumentParser) -> None:
    add_client_arguments(p)
    p.add_argument("sink", help="the sink's name")
    p.add_argument("--json", action="store_true", help="machine-readable output")


@_api_errors
def send_test(args: argparse.Namespace, redactor: Redactor) -> int:
    """Send one test event through the sink; 0 when the peer accepted it."""
    res = client(args).post(f"/api/v1/sinks/{args.sink}/test")
    if args.json:
        dump_json(res)
    else:
        mark = "√" if res["ok"] else "x"
        code = f" (code {res['code']})" if res.get("code") is not None else ""
        print(f"{mark} sink {res['sink']}: {res['status']}{code} in {res['latency_ms']:.0f} ms: {res['reason'] or 'ok'}")
        print(f"  test event {res['event_id']}; see `siemrelay deliveries {res['sink']}`")
    return 0 if res["ok"] else 1


# --- tap -------------------------------------------------------------------------


def _logfmt_value(value: JsonValue) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if text == "" or any(c in text for c in ' "=\\') or any(ord(c) < 32 for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'
    return text


def _flatten(value: JsonValue, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix, value


def format_event(line: bytes, fmt: str) -> str:
    """One tapped event (a native JSON line) as ``json`` (unchanged), ``yaml`` (a ``---``
    document) or ``logfmt`` (``key=value`` pairs, nested groups as dotted keys, ``raw`` left out)."""
    if fmt == "json":
        return line.decode("utf-8", "replace") + "\n"
    event = orjson.loads(line)
    if fmt == "yaml":
        # non-ASCII text as is, unless a string holds a character YAML would read as a line break or refuse
        return "---\n" + yaml.safe_dump(event, sort_keys=False, allow_unicode=_printable(event), width=1 << 16)
    pairs = _flatten({k: v for k, v in event.items() if k != "raw"})
    return " ".join(f"{k}={_logfmt_value(v)}" for k, v in pairs if v is not None and v != [] and v != {}) + "\n"


def _printable(value: JsonValue) -> bool:
    if isinstance(value, str):
        return value.isprintable()
    if isinstance(value, dict):
        return all(_printable(k) and _printable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_printable(v) for v in value)
    return True


def _match(patterns: Sequence[str] | None, names: Iterable[str], what: str) -> list[str | None]:
    """The names the globs select (``[None]``: no filter); a glob that selects nothing is the user's mistake."""
    from agent.admin.client import ClientError

    if not patterns:
        return [None]
    known = list(names)
    out: list[str | None] = []
    for pattern in patterns:
        hits = [n for n in known if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise ClientError(f"--{what} {pattern} matches no {what} (known: {', '.join(known) or 'none'})", EXIT_CONFIG)
        out += [n for n in hits if n not in out]
    return out


def _tap_arguments(p: argparse.ArgumentParser) -> None:
    add_client_arguments(p)
    p.add_argument("--source", action="append", metavar="GLOB",
                   help="only events from sources whose name matches (repeatable: --source 'web*' --source syslog)")
    p.add_argument("--sink", action="append", metavar="GLOB",
                   help="only events routed to sinks whose name matches (repeatable)")
    p.add_argument("--format", choices=["json", "yaml", "logfmt"], default="json",
                   help="json: one native event per line (default); yaml: one document each; logfmt: key=value")
    p.add_argument("--limit", type=int, help="stop after this many events")
    p.add_argument("--duration", type=float, help="stop after this many seconds")


class _Seen:
    """Event ids recently printed: an event routed to two selected sinks is shown once."""

    def __init__(self, size: int = 10000) -> None:
        self.size = size
        self.ids: OrderedDict[bytes, None] = OrderedDict()

    def first(self, line: bytes) -> bool:
        try:
            event = orjson.loads(line)
            key = str(event.get("id")).encode() if isinstance(event, dict) and event.get("id") else line
        except orjson.JSONDecodeError:
            key = line
        if key in self.ids:
            return False
        self.ids[key] = None
        if len(self.ids) > self.size:
            self.ids.popitem(last=False)
        return True


@_api_errors
def tap(args: argparse.Namespace, redactor: Redactor) -> int:
    """Print live events until --limit, --duration or Ctrl-C."""
    api = client(args)
    sources: list[str | None] = [None]
    sinks: list[str | None] = [None]
    if args.source or args.sink:
        status = api.get("/api/v1/status")
        sources = _match(args.source, (s["name"] for s in status["sources"]), "source")
        sinks = _match(args.sink, (s["name"] for s in status["sinks"]), "sink")
    pairs = [(so, si) for so in sources for si in sinks]
    out = sys.stdout
    if len(pairs) == 1:
        lines: Iterable[bytes] = api.stream("/api/v1/tap", source=pairs[0][0], sink=pairs[0][1],
                                            limit=args.limit, duration_s=args.duration)
    else:
        lines = _merged(api, pairs, args.duration)
    seen = _Seen()
    shown = 0
    try:
        for line in lines:
            if len(pairs) > 1 and not seen.first(line):
                continue
            out.write(redactor(format_event(line, args.format)))
            out.flush()
            shown += 1
            if args.limit is not None and shown >= args.limit:
                break
    except KeyboardInterrupt:
        pass
    return 0


def _merged(api: AdminClient, pairs: list[tuple[str | None, str | None]], duration: float | None) -> Iterator[bytes]:
    """One tap per (source, sink) pair, read by daemon threads into one queue."""
    from agent.admin.client import ClientError

    lines: queue.Queue[bytes | None] = queue.Queue(maxsize=10000)
    errors: list[ClientError] = []

    def read(source: str | None, sink: str | None) -> None:
        try:
            for line in api.stream("/api/v1/tap", source=source, sink=sink, duration_s=duration):
                lines.put(line)
        except ClientError as exc:
            errors.append(exc)
        finally:
            lines.put(None)

    for source, sink in pairs:
        threading.Thread(target=read, args=(source, sink), name=f"tap-{source}-{sink}", daemon=True).start()
    open_streams = len(pairs)
    while open_streams:
        line = lines.get()
        if line is None:
            open_streams -= 1
            if errors:
                raise errors[0]
            continue
        yield line


COMMANDS = (
    Command("send-test", "send a test event through a sink's real encoder and transport",
            "Ask the running agent to send one test event through a sink's real encoder and transport, and print "
            "what the peer answered (status, code, latency). The attempt is recorded in the sink's delivery history.",
            ("siemrelay send-test splunk", "siemrelay send-test slack --json"),
            _send_test_arguments, send_test),
    Command("tap", "print live events as they are spooled (like vector tap)",
            "Print the events the running agent spools, as they arrive: all of them, or those of the sources "
            "and sinks whose names match the --source/--sink globs (each repeatable; an event routed to two "
            "selected sinks is shown once). A tap never slows the pipeline: a reader that falls behind misses events.",
            ("siemrelay tap --limit 10", "siemrelay tap --source 'web*' --source syslog --format logfmt",
             "siemrelay tap --sink splunk --format yaml --duration 30"),
            _tap_arguments, tap),
    Command("top", "live per-source and per-sink rates, bytes, queue depth and circuit state (like vector top)",
            "Redraw, every --interval seconds, each source's rate, events and bytes and each sink's state, rate, "
            "queue depth, oldest queued event, bytes sent, dead letters and last error; failing sinks first "
            "(--sort changes the order), states in colour on a terminal.",
            ("siemrelay top", "siemrelay top --sort queue --interval 5", "siemrelay top --once --color never"),
            _top_arguments, top),
)
