"""``siemrelay sinks``: every sink's state, queue and last error; show or re-enable one.

One command with two views: the running agent's, through the admin API (live circuit
states and rates, what ``/metrics`` and the status page show), and, when no agent or
no API answers, the spool's offline view (queues, dead letters, failure counters),
which is also where ``enable`` is applied for the next start.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from agent.cli.command import Command
from agent.cli.common import EXIT_CONFIG, dump_json, load_validated
from agent.cli.live import add_client_arguments, client, sink_table

if TYPE_CHECKING:
    from agent.logging import Redactor

__all__ = ["COMMANDS"]


def _arguments(p: argparse.ArgumentParser) -> None:
    add_client_arguments(p)
    p.add_argument("action", nargs="?", choices=["list", "show", "enable"], default="list",
                   help="list (default), show one sink, or enable one (close its circuit, reset its failures)")
    p.add_argument("name", nargs="?", help="the sink to show or re-enable")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def sinks(args: argparse.Namespace, redactor: Redactor) -> int:
    """Live view through the API; with no agent (or no API) running, the spool's offline view."""
    from agent.admin.client import ClientError

    if args.action in ("show", "enable") and not args.name:
        print(f"siemrelay: sinks {args.action} needs the sink's name", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return _through_api(args, redactor)
    except ClientError as exc:
        if not exc.unreachable or args.action == "show" or args.admin_url:
            print(f"siemrelay: {redactor(str(exc))}", file=sys.stderr)
            return exc.code
        print(f"siemrelay: {redactor(str(exc))}; showing the spool's offline view", file=sys.stderr)
    loaded = load_validated(args, redactor)
    if isinstance(loaded, int):
        return loaded
    from agent.cli.delivery import offline_sinks

    return offline_sinks(args, redactor, loaded[0].state_dir)


def _through_api(args: argparse.Namespace, redactor: Redactor) -> int:
    api = client(args)
    if args.action == "enable":
        res = api.post(f"/api/v1/sinks/{args.name}/enable")
        print(f"sink {res['sink']} re-enabled: circuit {res['circuit']}, failure counter reset, retrying now")
        return 0
    if args.action == "show":
        view: dict[str, Any] = api.get(f"/api/v1/sinks/{args.name}")
        if args.json:
            dump_json(view)
            return 0
        width = max((len(k) for k in view), default=0)
        for key, value in view.items():
            if key != "config":
                print(f"{key:<{width}}  {redactor(str(value)) if value is not None else '-'}")
        print("config:")
        dump_json(view.get("config"))
        return 0
    rows = api.get("/api/v1/sinks")["sinks"]
    if args.json:
        dump_json(rows)
    else:
        print("\n".join(redactor(line) for line in sink_table(rows)))
    return 0


COMMANDS = (
    Command("sinks", "list sinks with state, rate, queue depth and last error; show or re-enable one",
            "Ask the running agent's admin API for every sink's circuit state, rate, queue depth, oldest queued "
            "event and last error; `show` prints one sink with its (redacted) configuration; `enable` closes an "
            "open circuit and retries now. With no agent running, list and enable work on the spool directly.",
            ("siemrelay sinks", "siemrelay sinks show splunk --json", "siemrelay sinks enable splunk"),
            _arguments, sinks),
)
