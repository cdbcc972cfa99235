"""Routing speed with 100 rules on one core: memoised, uncached, and with serialisation.

Usage: ``python bench/routing_bench.py [--events 200000] [--rules 100] [--json]``

The rule set looks like a SOC's: per-vendor and per-team routes on source, type,
vendor type, severity thresholds, score ranges and repository lists, some with a
regex on the title or a ``raw`` field (evaluated per event), some with ``continue``
and transforms, and a default route. Events are drawn from realistic pools. Figures:

- ``plan``: :meth:`Router.plan`, what intake calls per event (memoised decisions);
- ``route``: :meth:`Router.route`, sink names (plan + drop handling);
- ``memo_disabled``: a router with ``cache_size=0``, so feature conditions are
  evaluated again for (nearly) every event: the floor;
- ``unique_features``: a fresh router and a distinct repository name per event;
- ``plan+serialise``: plan, transforms and one ``to_json`` per variant, the whole
  routing share of intake's hot path;
- ``redact_fan_out``: the same for "Slack without raw, SIEM and archive with it":
  high and critical events become two stored variants, the rest one.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from typing import Any, Callable

import orjson

from agent.config.loader import SourceMap
from agent.errors import Problem
from agent.model import Event
from agent.routing.router import Router, compile_routes
from agent.testing import make_event

VENDORS = ["zeropath", "escape", "detectify", "pentest", "syslog", "json"]
TYPES = ["finding.new", "finding.resolved", "finding.status_changed", "scan.completed", "scan.started", "audit.api_call"]
VTYPES = ["NEW_VULNERABILITIES_PR", "NEW_VULNERABILITIES_FULL_SCAN", "SCAN_COMPLETE", "issue:OPEN", "finding_added", ""]
SEVS = ["info", "low", "medium", "high", "critical"]
REPOS = [f"{team}-{svc}" for team in ("backend", "frontend", "infra", "data", "mobile") for svc in range(10)]
SINKS = ["siem", "slack", "teams", "archive", "webhook"]


def ruleset(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """Return ``n`` routes plus a default, shaped like real team rule files."""
    routes: list[dict[str, Any]] = []
    for i in range(n):
        when: dict[str, Any] = {"source": rng.choice(VENDORS)}
        kind = i % 10
        if kind in (0, 1, 2):
            when["type"] = rng.choice(["finding.*", "scan.*", "finding.new"])
            when["severity"] = f">= {rng.choice(SEVS[2:])}"
        elif kind in (3, 4):
            when["vendor_type"] = rng.choice(["NEW_VULNERABILITIES_*", "SCAN_*", "issue:*"])
            when["repository"] = [f"{rng.choice(['backend', 'infra', 'data'])}-*", rng.choice(REPOS)]
        elif kind == 5:
            when["score"] = f"{rng.randint(40, 70)}..100"
        elif kind == 6:
            when["title"] = {"regex": rng.choice(["(?i)sql", "(?i)rce|remote code", "(?i)xss"])}
        elif kind == 7:
            when["any"] = [{"severity": "critical"}, {"tags": "pci"}]
        elif kind == 8:
            when["raw.env"] = {"in": ["prod", "production"]}
            when["severity"] = ">= medium"
        else:
            when["not"] = {"repository": ["mobile-*"]}
            when["type"] = "finding.*"
        route: dict[str, Any] = {"name": f"r{i}", "when": when, "to": rng.sample(SINKS, rng.randint(1, 2)),
                                 "continue": i % 7 == 0, "enabled": True}
        if i % 10 == 1:
            route["transforms"] = [{"redact": ["raw"]}, {"tag": ["routed"]}]
        routes.append(route)
    routes.append({"name": "default", "when": {}, "to": ["archive"], "continue": False, "enabled": True})
    return routes


def events(count: int, rng: random.Random, unique: bool = False) -> list[Event]:
    out = []
    for i in range(count):
        sev = rng.choice(SEVS)
        out.append(make_event(
            source=rng.choice(VENDORS), type=rng.choice(TYPES), vendor_type=rng.choice(VTYPES), severity=sev,
            score=rng.randint(0, 100), title=rng.choice(["SQL injection", "Open redirect", "RCE in parser", "Weak TLS"]),
            repository={"name": f"repo-{i}" if unique else rng.choice(REPOS)}, tags=rng.choice([[], ["pci"]]),
            raw={"env": rng.choice(["prod", "dev"]), "payload": "x" * 200}))
    return out


def rate(fn: Callable[[Event], Any], evs: list[Event], total: int) -> float:
    n = len(evs)
    start = time.perf_counter()
    done = 0
    while done < total:
        for ev in evs:
            fn(ev)
        done += n
    return done / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000, help="events routed per measurement")
    ap.add_argument("--rules", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = random.Random(42)
    problems: list[Problem] = []
    router = compile_routes(ruleset(args.rules, rng), set(SINKS), SourceMap(default_file="bench"), problems)
    assert not problems, problems
    pool = events(5000, rng)
    unique = events(args.events, rng, unique=True)

    no_memo = Router(router.routes, router.default, cache_size=0)

    def plan_and_serialise(ev: Event) -> int:
        rows = 0
        for transform, _sinks in router.plan(ev).branches:
            variant = ev if transform is None else transform(ev)
            if variant is not None:
                variant.to_json()
                rows += 1
        return rows

    def serialise_only(ev: Event) -> bytes:
        return ev.to_json()

    redacting = compile_routes([
        {"name": "chat", "when": {"severity": ">= high"}, "to": ["slack"], "continue": True, "enabled": True,
         "transforms": [{"redact": ["raw"]}, {"tag": "paged"}]},
        {"name": "siem", "when": {}, "to": ["siem", "archive"], "continue": False, "enabled": True},
    ], set(SINKS), SourceMap(default_file="bench"), problems)

    def redact_fan_out(ev: Event) -> int:
        rows = 0
        for transform, _sinks in redacting.plan(ev).branches:
            variant = ev if transform is None else transform(ev)
            if variant is not None:
                variant.to_json()
                rows += 1
        return rows

    rate(router.plan, pool, len(pool))  # warm the memo
    figures = {
        "rules": args.rules,
        "plan_events_per_s": rate(router.plan, pool, args.events),
        "route_events_per_s": rate(router.route, pool, args.events),
        "memo_disabled_events_per_s": rate(no_memo.plan, pool, args.events),
        "unique_features_events_per_s": rate(Router(router.routes, router.default).plan, unique, len(unique)),
        "plan_and_serialise_events_per_s": rate(plan_and_serialise, pool, args.events),
        "serialise_only_events_per_s": rate(serialise_only, pool, args.events),
        "redact_fan_out_events_per_s": rate(redact_fan_out, pool, args.events),
        "redact_fan_out_rows_per_event": sum(redact_fan_out(e) for e in pool) / len(pool),
        "memo_entries": sum(len(memo) for _, memo, _, _ in router._index),
        "variants_per_event": sum(len(router.plan(e).branches) for e in pool) / len(pool),
    }
    if args.json:
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
        return
    for key, value in figures.items():
        print(f"{key:<34} {value:>14,.1f}" if isinstance(value, float) else f"{key:<34} {value:>14}")


if __name__ == "__main__":
    main()
