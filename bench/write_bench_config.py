#!/usr/bin/env python3
"""Write the siemrelay configuration the side-by-side forwarding benchmark runs.

The side-by-side harness (rsyslog, syslog-ng and siemrelay measured in one run; see
the README's "Performance" section) starts the agent with a command of its own; this script is the
project's half of that command. It writes ``<workdir>/siemrelay.yaml`` for one of three
workloads, each ending in a ``syslog`` sink (RFC 5424 over TCP, octet counting) to
the harness's receiver, with the default durable spool (``sync: full``):

- ``file INPUT HOST PORT WORKDIR``: a ``file`` source reading INPUT from its beginning
  with the ``json`` decoder (what rsyslog's imfile and syslog-ng's file() do);
- ``http HOST PORT HTTP_PORT WORKDIR``: an ``http`` source on 127.0.0.1:HTTP_PORT
  (path ``/``, ``json`` decoder), one event per POST. The load generator cycles
  through a fixed set of bodies, so de-duplication is switched off
  (``agent.dedup.window_s: 0``); otherwise repeated bodies are acknowledged and not
  forwarded, as they should be in production;
- ``syslog HOST PORT LISTEN_PORT WORKDIR``: a ``syslog`` source on 127.0.0.1:LISTEN_PORT
  (TCP, framing told apart per message, ``syslog`` decoder): the relay that rsyslog's
  imtcp → omfwd is (``bench/syslog_side_by_side.py``).

``--sinks N`` (any mode) routes every event to N ``syslog`` sinks to the same receiver,
each on its own connection (the fan-out target: the event is stored once, every sink
delivers it; ``bench/fanout_sinks.py``).

Only the standard library: the harness may run this with any ``python3``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def sink_names(count: int) -> list[str]:
    """``collector`` for one sink (the harness's configuration), ``collector1`` … ``collectorN`` for more."""
    return ["collector"] if count == 1 else [f"collector{i}" for i in range(1, count + 1)]


def _common(workdir: Path, host: str, port: int, dedup_window_s: float | None, sinks: int = 1) -> dict[str, object]:
    # the preparing child (the default), written out so the README's figures reproduce whatever the default becomes
    agent: dict[str, object] = {"state_dir": str(workdir / "state"), "log_level": "warning", "log_format": "text",
                                "intake": {"processes": "auto"}}
    if dedup_window_s is not None:
        agent["dedup"] = {"window_s": dedup_window_s}
    names = sink_names(sinks)
    return {
        "agent": agent,
        "sinks": {name: {"type": "syslog", "address": f"{host}:{port}", "transport": "tcp", "framing": "octet"}
                  for name in names},
        "routes": [{"name": "default", "to": names}],
    }


def file_config(input_path: Path, host: str, port: int, workdir: Path, sinks: int = 1) -> dict[str, object]:
    """Tail ``input_path`` from its beginning, json decoder, to the syslog sink(s)."""
    config = _common(workdir, host, port, None, sinks)
    config["sources"] = {"events": {"type": "file", "paths": [str(input_path)], "read_from": "beginning",
                                    "decoder": "json"}}
    return config


def http_config(host: str, port: int, http_port: int, workdir: Path, sinks: int = 1) -> dict[str, object]:
    """Accept one JSON event per POST on loopback, to the syslog sink(s); dedup off (see module doc)."""
    config = _common(workdir, host, port, 0, sinks)
    config["sources"] = {"webhook": {"type": "http", "address": f"127.0.0.1:{http_port}",
                                     "paths": {"/": {"decoder": "json"}}}}
    return config


def syslog_config(host: str, port: int, listen_port: int, workdir: Path, sinks: int = 1) -> dict[str, object]:
    """Relay syslog: a TCP ``syslog`` source on loopback (``syslog`` decoder) to the syslog sink(s).

    De-duplication stays at its default, as for the file: every message of the
    workload is distinct.
    """
    config = _common(workdir, host, port, None, sinks)
    config["sources"] = {"relay": {"type": "syslog", "address": f"127.0.0.1:{listen_port}", "transport": "tcp",
                                   "decoder": "syslog"}}
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sinks", type=int, default=1, help="syslog sinks every event goes to (default 1)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY.PATH=JSON",
                        help="set one more key under agent, sinks or sources (e.g. agent.intake.processes=1, "
                             "sinks.collector.encode_in='\"child\"'); repeatable")
    modes = parser.add_subparsers(dest="mode", required=True)
    f = modes.add_parser("file", help="file source → syslog sink")
    f.add_argument("input", type=Path)
    f.add_argument("host")
    f.add_argument("port", type=int)
    f.add_argument("workdir", type=Path)
    h = modes.add_parser("http", help="http source → syslog sink")
    h.add_argument("host")
    h.add_argument("port", type=int)
    h.add_argument("http_port", type=int)
    h.add_argument("workdir", type=Path)
    s = modes.add_parser("syslog", help="syslog source (TCP) → syslog sink")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("listen_port", type=int)
    s.add_argument("workdir", type=Path)
    args = parser.parse_args(argv)
    if args.sinks < 1:
        parser.error("--sinks must be at least 1")
    if args.mode == "file":
        config = file_config(args.input.resolve(), args.host, args.port, args.workdir.resolve(), args.sinks)
    elif args.mode == "http":
        config = http_config(args.host, args.port, args.http_port, args.workdir.resolve(), args.sinks)
    else:
        config = syslog_config(args.host, args.port, args.listen_port, args.workdir.resolve(), args.sinks)
    for item in args.set:
        path, _, value = item.partition("=")
        keys = path.split(".")
        if len(keys) < 2 or keys[0] not in ("agent", "sinks", "sources") or not value:
            parser.error(f"--set {item!r}: expected agent|sinks|sources.KEY[.KEY...]=JSON")
        node = config
        for key in keys[:-1]:
            node = node.setdefault(key, {})  # type: ignore[union-attr,assignment]
        node[keys[-1]] = json.loads(value)  # type: ignore[index]
    args.workdir.mkdir(parents=True, exist_ok=True)
    # JSON is valid YAML: no third-party writer needed, and every string is quoted safely
    (args.workdir / "siemrelay.yaml").write_text(json.dumps(config, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
