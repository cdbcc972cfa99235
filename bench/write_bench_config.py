#!/usr/bin/env python3
"""Write the siemrelay configuration the side-by-side forwarding benchmark runs.

The side-by-side harness (rsyslog, syslog-ng and siemrelay measured in one run; see
the README's "Performance" section) starts the agent with a command of its own; this script is the
project's half of that command. It writes ``<workdir>/siemrelay.yaml`` for one of two
workloads, both ending in one ``syslog`` sink (RFC 5424 over TCP, octet counting) to
the harness's receiver, with the default durable spool (``sync: full``):

- ``file INPUT HOST PORT WORKDIR``: a ``file`` source reading INPUT from its beginning
  with the ``json`` decoder (what rsyslog's imfile and syslog-ng's file() do);
- ``http HOST PORT HTTP_PORT WORKDIR``: an ``http`` source on 127.0.0.1:HTTP_PORT
  (path ``/``, ``json`` decoder), one event per POST. The load generator cycles
  through a fixed set of bodies, so de-duplication is switched off
  (``agent.dedup.window_s: 0``); otherwise repeated bodies are acknowledged and not
  forwarded, as they should be in production.

Only the standard library: the harness may run this with any ``python3``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _common(workdir: Path, host: str, port: int, dedup_window_s: float | None) -> dict[str, object]:
    agent: dict[str, object] = {"state_dir": str(workdir / "state"), "log_level": "warning", "log_format": "text"}
    if dedup_window_s is not None:
        agent["dedup"] = {"window_s": dedup_window_s}
    return {
        "agent": agent,
        "sinks": {"collector": {"type": "syslog", "address": f"{host}:{port}", "transport": "tcp", "framing": "octet"}},
        "routes": [{"name": "default", "to": ["collector"]}],
    }


def file_config(input_path: Path, host: str, port: int, workdir: Path) -> dict[str, object]:
    """Tail ``input_path`` from its beginning, json decoder, to the syslog sink."""
    config = _common(workdir, host, port, None)
    config["sources"] = {"events": {"type": "file", "paths": [str(input_path)], "read_from": "beginning",
                                    "decoder": "json"}}
    return config


def http_config(host: str, port: int, http_port: int, workdir: Path) -> dict[str, object]:
    """Accept one JSON event per POST on loopback, to the syslog sink; dedup off (see module doc)."""
    config = _common(workdir, host, port, 0)
    config["sources"] = {"webhook": {"type": "http", "address": f"127.0.0.1:{http_port}",
                                     "paths": {"/": {"decoder": "json"}}}}
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    args = parser.parse_args(argv)
    if args.mode == "file":
        config = file_config(args.input.resolve(), args.host, args.port, args.workdir.resolve())
    else:
        config = http_config(args.host, args.port, args.http_port, args.workdir.resolve())
    args.workdir.mkdir(parents=True, exist_ok=True)
    # JSON is valid YAML: no third-party writer needed, and every string is quoted safely
    (args.workdir / "siemrelay.yaml").write_text(json.dumps(config, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
