#!/usr/bin/env python3
"""What the status page's and metrics' counting costs the intake hot path, per event.

Intake counts, for the page and ``/metrics``, the bytes received per batch, each
source's last-received time per batch, and per event the routes an event matched and
whether it was queued (one dict increment each, folded into the shared counters once
per batch). This runs the real ``Intake.submit`` (json decoder, router, durable spool)
over the same events twice, once as shipped and once with those counting steps taken
out (``IntakeStats.add_routes``/``received`` made no-ops; the two per-event dict
increments cannot be taken out without editing the code, so they are timed on their
own over the same plans), and prints CPU microseconds per event.

    python bench/intake_counters.py [--events 40000] [--batch 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loguru import logger  # noqa: E402

from agent.config.loader import SourceMap  # noqa: E402
from agent.engine.intake import Intake, IntakeStats  # noqa: E402
from agent.engine.supervisor import tune_garbage_collector  # noqa: E402
from agent.errors import Problem  # noqa: E402
from agent.routing.router import compile_routes  # noqa: E402
from agent.sdk.record import RawRecord  # noqa: E402
from agent.spool.store import Spool  # noqa: E402
from plugins.dec_json.config import CONFIG_SCHEMA as JSON_DECODER_SCHEMA  # noqa: E402
from plugins.dec_json.decoder import JsonDecoder  # noqa: E402

ROUTES = [{"name": "critical-to-chat", "when": {"severity": ">= critical"}, "to": ["chat"], "continue": True},
          {"name": "findings", "when": {"type": "finding.*"}, "to": ["siem"]},
          {"name": "default", "to": ["archive"]}]


class _Uncounted(IntakeStats):
    def add_routes(self, matched: Any, queued: Any) -> None:
        pass

    def received(self, name: str, when: float) -> None:
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from events import finding_line  # bench/ is on sys.path when this script runs

    tune_garbage_collector()
    logger.remove()
    decoder = JsonDecoder({k: v.get("default") for k, v in JSON_DECODER_SCHEMA.items()})
    now = datetime.now(timezone.utc)
    records = [RawRecord(finding_line(i).rstrip(b"\n"), decoder, {"input": "bench"}, now) for i in range(args.events)]
    problems: list[Problem] = []
    router = compile_routes(ROUTES, {"chat", "siem", "archive"}, SourceMap(), problems, set())
    assert not problems, problems
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="siemrelay-intake-") as tmp:
        for rnd in range(args.rounds):
            for label, stats in (("as shipped", IntakeStats()), ("without batch counters", _Uncounted())):
                spool = Spool(Path(tmp) / f"{label.replace(' ', '-')}-{rnd}", sync="off")
                spool.open(["chat", "siem", "archive"])
                intake = Intake(spool, router, logger, stats=stats)
                cpu = time.process_time()
                for i in range(0, len(records), args.batch):
                    intake.submit(records[i:i + args.batch])
                per_event = (time.process_time() - cpu) / len(records) * 1e6
                best[label] = min(best.get(label, per_event), per_event)
                spool.close()
    events = [ev for r in records for ev in decoder.decode(r)]
    plans = [router.plan(ev) for ev in events]
    cpu = time.process_time()
    for _ in range(args.rounds):
        matched: dict[tuple[str, ...], int] = {}
        queued: dict[tuple[str, ...], int] = {}
        for plan in plans:
            matched[plan.routes] = matched.get(plan.routes, 0) + 1
            queued[plan.routes] = queued.get(plan.routes, 0) + 1
    bumps = (time.process_time() - cpu) / (len(plans) * args.rounds) * 1e6
    print(f"{len(records)} findings, batches of {args.batch}, best of {args.rounds} rounds, CPU µs per event")
    print("| intake.submit | µs/event |\n|---|---|")
    for label, value in best.items():
        print(f"| {label} | {value:.2f} |")
    print(f"| the two per-event route counters alone | {bumps:.3f} |")
    batch = best["as shipped"] - best["without batch counters"]
    print(f"per-batch counters: {batch:+.2f} µs/event (within run-to-run noise when near 0); "
          f"per-event route counters: {bumps / best['as shipped'] * 100:.1f}% of intake")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
