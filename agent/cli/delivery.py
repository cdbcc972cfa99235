"""``siemrelay dlq`` and ``siemrelay deliveries``, and the offline half of ``siemrelay
sinks``: the operator's view of delivery, whether or not the agent is running.

Reads go straight to the spool (WAL readers never block the agent). Changes (replay,
purge, enable) are applied by the running agent's spool writer through the spool's
``control`` table, or directly when no agent holds the spool's lock.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from agent.cli.command import Command
from agent.cli.common import EXIT_CONFIG, add_config, dump_json as _dump_json, load_validated
from agent.cli.table import render_table
from agent.delivery.plain_errors import plain_error
from agent.spool.db import SpoolError

if TYPE_CHECKING:
    from agent.logging import Redactor
    from agent.spool.admin import SpoolAdmin

__all__ = ["COMMANDS", "cmd_dlq", "cmd_deliveries", "offline_sinks"]

#: What the offline commands print through: the Redactor, or any str -> str (tests).
Redact = Callable[[str], str]


def _dlq_arguments(p: argparse.ArgumentParser) -> None:
    add_config(p)
    p.add_argument("action", choices=["list", "show", "replay", "purge"])
    p.add_argument("ids", nargs="*", type=int, help="dead-letter ids (default: all matching --sink)")
    p.add_argument("--sink", help="only this sink's dead letters")
    p.add_argument("--all", action="store_true", help="replay or purge every dead letter (no ids, no --sink)")
    p.add_argument("--limit", type=int, default=50, help="most entries listed or shown (default 50)")
    p.add_argument("--json", action="store_true", help="machine-readable output (list, show)")


def _deliveries_arguments(p: argparse.ArgumentParser) -> None:
    add_config(p)
    p.add_argument("sink")
    p.add_argument("--limit", type=int, default=20, help="most attempts shown, newest first (default 20)")
    p.add_argument("--failed", action="store_true", help="only failed attempts")
    p.add_argument("--ids", action="store_true", help="also print the event ids of each attempt")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _with_state_dir(fn: Callable[[argparse.Namespace, Redact, Path], int]) -> Callable[[argparse.Namespace, Redactor], int]:
    """These commands need only the state directory of the (validated) configuration."""
    def run(args: argparse.Namespace, redactor: Redactor) -> int:
        loaded = load_validated(args, redactor)
        if isinstance(loaded, int):
            return loaded
        return fn(args, redactor, loaded[0].state_dir)

    run.__doc__ = fn.__doc__
    return run


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _open(state_dir: Path) -> SpoolAdmin | int:
    from agent.spool.admin import SpoolAdmin

    try:
        return SpoolAdmin(state_dir).open()
    except SpoolError as exc:
        print(f"siemrelay: {exc}", file=sys.stderr)
        return EXIT_CONFIG


def _decode_errors(admin: SpoolAdmin, ids: list[int] | None) -> list[int]:
    """Ids of the selected dead letters that are decode errors (no sink): replay cannot re-send them."""
    rows = admin.dead_letters(None, len(ids) if ids else 1_000_000, ids)
    return sorted(r.id for r in rows if r.sink is None)


def _dump(obj: object) -> None:
    _dump_json(obj)


def cmd_dlq(args: argparse.Namespace, redactor: Redact, state_dir: Path) -> int:
    """List, show, replay or purge dead letters in the spool under ``state_dir``."""
    admin = _open(state_dir)
    if isinstance(admin, int):
        return admin
    try:
        ids = args.ids or None
        if args.action in ("list", "show"):
            rows = admin.dead_letters(args.sink, args.limit, ids)
            missing = sorted(set(ids or ()) - {r.id for r in rows})
            if missing and len(rows) < args.limit:
                print(f"siemrelay: no dead letter with id {', '.join(map(str, missing))}"
                      f"{' for sink ' + repr(args.sink) if args.sink else ''} (see `siemrelay dlq list`)", file=sys.stderr)
                if not rows:
                    return 1
            if args.json:
                _dump([{"id": r.id, "sink": r.sink, "input": r.input, "event_id": r.event_id, "reason": redactor(r.reason),
                        "attempts": r.attempts, "first_attempt": r.first_attempt, "last_attempt": r.last_attempt,
                        "last_error": redactor(r.last_error or "") or None, "created": r.created,
                        **({"data": redactor(r.data.decode("utf-8", "replace"))} if args.action == "show" else {})}
                       for r in rows])
            elif args.action == "list":
                table = [[str(r.id), r.sink or f"(decode:{r.input or '?'})", r.event_id or "-", str(r.attempts),
                          _when(r.first_attempt), _when(r.last_attempt), redactor(r.reason)] for r in rows]
                print("\n".join(render_table(["ID", "SINK", "EVENT", "ATTEMPTS", "FIRST ATTEMPT", "LAST ATTEMPT", "REASON"],
                                             table, "rllr")))
                total = admin.dead_letter_count(args.sink)
                if total > len(rows):
                    print(f"({len(rows)} of {total} shown; --limit N for more)")
            else:
                for r in rows:
                    print(f"--- dead letter {r.id}: sink={r.sink or '-'} input={r.input or '-'} event={r.event_id or '-'}")
                    print(f"reason:        {redactor(r.reason)}")
                    print(f"attempts:      {r.attempts}")
                    print(f"first attempt: {_when(r.first_attempt)}")
                    print(f"last attempt:  {_when(r.last_attempt)}")
                    print(f"last error:    {redactor(r.last_error or '-')}")
                    print(f"dead since:    {_when(r.created)}")
                    print(redactor(r.data.decode("utf-8", "replace")))
            return 0
        if ids is None and args.sink is None and not args.all:
            print(f"siemrelay: {args.action} needs dead-letter ids, --sink NAME or --all", file=sys.stderr)
            return EXIT_CONFIG
        if args.action == "replay":
            undecodable = [] if args.sink else _decode_errors(admin, ids)
            n = admin.replay(ids, args.sink)
            where = "by the running agent" if admin.agent_running else "in the spool (no agent running)"
            print(f"replayed {n} dead letters onto their sinks' queues ({where})")
            if undecodable:
                shown = ", ".join(str(i) for i in undecodable[:20]) + (", ..." if len(undecodable) > 20 else "")
                print(f"siemrelay: {len(undecodable)} dead letters ({shown}) are records that could not be decoded; "
                      "replay only re-sends events to sinks and cannot decode a record again. They are kept: "
                      "`siemrelay dlq show ID` prints the raw bytes, to resend to the source once the sender or the "
                      "decoder is fixed, then `siemrelay dlq purge ID`", file=sys.stderr)
                return 1
        else:
            n = admin.purge(ids, args.sink)
            print(f"purged {n} dead letters")
        return 0
    except SpoolError as exc:
        print(f"siemrelay: {exc}", file=sys.stderr)
        return 1
    finally:
        admin.close()


def cmd_deliveries(args: argparse.Namespace, redactor: Redact, state_dir: Path) -> int:
    """A sink's recent delivery attempts, newest first."""
    admin = _open(state_dir)
    if isinstance(admin, int):
        return admin
    try:
        known = admin.sinks
        if args.sink not in known:
            print(f"siemrelay: no sink named {args.sink!r} in the spool (known: {', '.join(sorted(known)) or 'none'})",
                  file=sys.stderr)
            return EXIT_CONFIG
        rows = admin.deliveries(args.sink, args.limit if not args.failed else max(args.limit * 20, 1000))
        if args.failed:
            rows = [r for r in rows if not r["success"]][: args.limit]
        for r in rows:
            r["error"] = redactor(r["error"]) if r["error"] else None
        if args.json:
            _dump([{**r, "success": bool(r["success"]), "event_ids": r["event_ids"].split(",") if r["event_ids"] else []}
                   for r in rows])
            return 0
        headers = ["TIME", "EVENTS", "ATTEMPT", "STATUS", "CODE", "OK", "MS", "ERROR"]
        table = [[dt.datetime.fromtimestamp(r["time"], dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                  str(r["batch_size"]), str(r["attempt"]), str(r["status"]), str(r["code"] or ""),
                  "yes" if r["success"] else "no", f"{r['latency_ms']:.1f}", r["error"] or ""] for r in rows]
        lines = render_table(headers, table, "lrrlrlr")
        print(lines[0])
        for r, line in zip(rows, lines[1:]):
            print(line)
            if args.ids:
                print(f"    ids: {r['event_ids']}")
        return 0
    finally:
        admin.close()


def offline_sinks(args: argparse.Namespace, redactor: Redact, state_dir: Path) -> int:
    """``sinks list|enable`` straight on the spool, for when no agent (or no admin API) answers."""
    admin = _open(state_dir)
    if isinstance(admin, int):
        return admin
    try:
        if args.action == "enable":
            if not args.name:
                print("siemrelay: sinks enable needs the sink's name", file=sys.stderr)
                return EXIT_CONFIG
            admin.enable(args.name)
            how = "the running agent retries it now" if admin.agent_running else "applies at the next start"
            print(f"sink {args.name} re-enabled: circuit closed, failure counter reset ({how})")
            return 0
        rows = admin.sink_rows()
        if args.json:
            _dump([{"name": r.name, "queued": r.queued, "queued_bytes": r.queued_bytes, "dead_letters": r.dead_letters,
                    "consecutive_failures": r.state.failures, "retry_attempts": r.state.attempts,
                    "last_error": redactor(r.state.last_error or "") or None, "last_attempt": r.state.last_attempt}
                   for r in rows])
            return 0
        table = [[r.name, f"{r.queued:,}", f"{r.queued_bytes:,}", f"{r.dead_letters:,}", str(r.state.failures),
                  str(r.state.attempts), plain_error(redactor(r.state.last_error or ""))] for r in rows]
        print("\n".join(render_table(["SINK", "QUEUED", "BYTES", "DEAD", "FAILURES", "ATTEMPTS", "LAST ERROR"], table,
                                     "lrrrrr")))
        return 0
    except SpoolError as exc:
        print(f"siemrelay: {exc}", file=sys.stderr)
        return 1
    finally:
        admin.close()


COMMANDS = (
    Command("dlq", "list, show, replay or purge dead letters",
            "Dead letters are events a sink refused for good (or that exhausted their retries) and records no "
            "decoder could read; they are kept with their reason until replayed or purged. Works whether or not "
            "the agent runs: a running agent applies replay and purge itself.",
            ("siemrelay dlq list --sink splunk", "siemrelay dlq show 42", "siemrelay dlq replay --sink splunk",
             "siemrelay dlq purge 41 42"),
            _dlq_arguments, _with_state_dir(cmd_dlq)),
    Command("deliveries", "show a sink's recent delivery attempts",
            "A sink's delivery history from the spool, newest first: batch size, attempt, outcome, the peer's "
            "status code, latency and error.",
            ("siemrelay deliveries splunk --failed", "siemrelay deliveries splunk --limit 5 --ids --json"),
            _deliveries_arguments, _with_state_dir(cmd_deliveries)),
)
