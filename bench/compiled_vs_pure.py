#!/usr/bin/env python3
"""The hot path's compiled modules against their sources, function by function, in one process each.

For each function of the modules ``setup.py`` compiles with mypyc (``agent/compiled.py``)
that runs per event, the CPU microseconds per event on the same events: once in an
interpreter that loads the compiled extensions, once in one started with
``SIEMRELAY_PURE_PYTHON=1`` (the ``.py`` files), alternated ``--rounds`` times; each
figure is the minimum over its rounds (this machine's load swings; the minimum is the
run the least disturbed). docs/hot-path.md, section 17, has the figures.

Input: a JSON-lines file, e.g. the side-by-side harness's workload (its ``gen_events.py``).

    python bench/compiled_vs_pure.py --input events.jsonl [--events 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: what the measuring interpreter runs: prints {function: µs per event}
_MEASURE = r"""
import json, sys, time
from datetime import datetime, timezone
import orjson
from agent.compiled import compiled_state
from agent.sdk.native_head import parse_head
from agent.sdk.record import RawRecord
from plugins.dec_json.config import CONFIG_SCHEMA
from plugins.dec_json.decoder import JsonDecoder
from plugins.out_syslog.encoder import SyslogFormat, SyslogHeads, encode_octet_stream, message_head
from plugins.out_syslog.config import DEFAULT_SD_FIELDS

path, count, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "rb") as fh:
    lines = [fh.readline().rstrip(b"\n") for _ in range(count)]
decoder = JsonDecoder({k: v.get("default") for k, v in CONFIG_SCHEMA.items()})
now = datetime.now(timezone.utc)
records = [RawRecord(line, decoder, {"input": "bench"}, now) for line in lines]
events = [ev for r in records for ev in decoder.decode(r)]
docs = [ev.to_dict() for ev in events]
stored = [ev.to_json() for ev in events]
fmt = SyslogFormat(hostname="bench", sd_fields=tuple(DEFAULT_SD_FIELDS.items()), max_bytes=65536)
heads = SyslogHeads(fmt)
ahead = [heads(d) for d in docs]

def best(fn):
    low = float("inf")
    for _ in range(reps):
        start = time.process_time()
        fn()
        low = min(low, time.process_time() - start)
    return round(low / count * 1e6, 3)

out = {
    "syslog head from the dict (in the child)": best(lambda: [heads(d) for d in docs]),
    "syslog message_head": best(lambda: [message_head(fmt, d) for d in docs]),
    "syslog encode_octet_stream, heads rendered here": best(
        lambda: [encode_octet_stream(fmt, parse_head, stored[i:i + 500]) for i in range(0, count, 500)]),
    "syslog encode_octet_stream, heads ahead": best(
        lambda: [encode_octet_stream(fmt, parse_head, stored[i:i + 500], ahead[i:i + 500]) for i in range(0, count, 500)]),
}
print(json.dumps({"compiled": compiled_state(), "us": out}))
"""


def measure(pure: bool, args: argparse.Namespace) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "SIEMRELAY_PURE_PYTHON"}
    if pure:
        env["SIEMRELAY_PURE_PYTHON"] = "1"
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(args.input), str(args.events), str(args.reps)],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    result: dict[str, object] = json.loads(out)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", type=Path, required=True, help="JSON lines (the harness's gen_events.py)")
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5, help="pure and compiled interpreters alternated this often")
    ap.add_argument("--reps", type=int, default=5, help="timed passes per function in each interpreter")
    args = ap.parse_args()
    figures: dict[str, dict[str, list[float]]] = {"pure": {}, "compiled": {}}
    states: dict[str, object] = {}
    for _ in range(args.rounds):
        for kind in ("pure", "compiled"):
            got = measure(kind == "pure", args)
            states[kind] = got["compiled"]
            for name, value in dict(got["us"]).items():  # type: ignore[call-overload]
                figures[kind].setdefault(name, []).append(float(value))
    compiled_state = states["compiled"]
    if not isinstance(compiled_state, dict) or not all(compiled_state.values()):
        print(f"warning: not every hot-path module is compiled in this install: {compiled_state}", file=sys.stderr)
    print(f"{args.events} events, minimum of {args.rounds} rounds × {args.reps} passes; CPU µs per event")
    print("| function | sources | compiled | ratio |\n|---|---|---|---|")
    for name, values in figures["pure"].items():
        pure, comp = min(values), min(figures["compiled"][name])
        print(f"| {name} | {pure:.2f} | {comp:.2f} | {pure / comp:.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
