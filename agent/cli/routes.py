"""``siemrelay test`` and ``siemrelay route --explain``: rules tested like code.

``test`` runs YAML route tests (see :mod:`agent.routing.cases`) against the rules of a
configuration, prints a readable report with a diff per failed expectation, exits
non-zero on failure and can write JUnit XML for CI. ``route`` shows where one event
goes; with ``--explain`` it says, for every route, whether it matched and which
condition failed.

Exit codes: 0 passed, 1 a test failed, 2 the configuration or a test file is invalid.
"""

from __future__ import annotations

import argparse
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import orjson

from agent.cli.command import Command
from agent.cli.common import add_config, load_validated

if TYPE_CHECKING:
    from agent.config.validate import AgentConfig
    from agent.logging import Redactor

__all__ = ["COMMANDS", "cmd_test", "cmd_route", "junit_xml"]

EXIT_FAILED = 1
EXIT_CONFIG = 2


def _test_arguments(p: argparse.ArgumentParser) -> None:
    add_config(p)
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="test files (default: routing-tests.yaml and routing-tests.d/*.yaml next to the configuration)")
    p.add_argument("--junit", metavar="FILE", help="also write a JUnit XML report (for CI)")
    p.add_argument("-v", "--verbose", action="store_true", help="show matched routes for passing tests too")


def _route_arguments(p: argparse.ArgumentParser) -> None:
    add_config(p)
    p.add_argument("event", metavar="EVENT.json",
                   help="a native event (or an array of them), or with --decoder a vendor payload; - reads stdin")
    p.add_argument("--explain", action="store_true", help="for every route: matched, or which condition failed")
    p.add_argument("--decoder", default=None, help="decode EVENT.json with this decoder (type or name in decoders:)")
    p.add_argument("--payload", action="store_true", help="print the JSON each sink receives (after transforms)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _setup(args: argparse.Namespace, redactor: Redactor) -> tuple[Any, Any] | int:
    from agent.engine.build import DecoderFactory

    loaded = load_validated(args, redactor)
    if isinstance(loaded, int):
        return loaded
    cfg, plugins = loaded
    for w in cfg.router.warnings:
        print(f"~ warning: {w}", file=sys.stderr)
    factory = DecoderFactory(plugins, cfg.decoders, cfg.smap)
    return cfg, (lambda spec: factory(spec, ()))


def _default_files(config: Path) -> list[Path]:
    base = config.parent
    files = [base / "routing-tests.yaml"] if (base / "routing-tests.yaml").is_file() else []
    d = base / "routing-tests.d"
    if d.is_dir():
        files += sorted([*d.glob("*.yaml"), *d.glob("*.yml")], key=lambda f: f.name)
    return files


def cmd_test(args: argparse.Namespace, redactor: Redactor) -> int:
    """Run route tests; 0 when all pass, 1 when one fails, 2 on an invalid file."""
    from agent.errors import Problem
    from agent.routing.cases import load_cases, run_case

    setup = _setup(args, redactor)
    if isinstance(setup, int):
        return setup
    cfg, decoders = setup
    files = [Path(f) for f in args.files] or _default_files(Path(args.config))
    if not files:
        print(f"siemrelay: no test files given and none found next to {args.config} "
              "(routing-tests.yaml or routing-tests.d/*.yaml)", file=sys.stderr)
        return EXIT_CONFIG
    problems: list[Problem] = []
    sinks = set(cfg.sinks)
    cases = load_cases(files, sinks, problems)
    if problems:
        print("siemrelay: invalid test file:\n" + "\n".join(f"  - {p}" for p in problems), file=sys.stderr)
        return EXIT_CONFIG
    results = []
    started = time.perf_counter()
    for case in cases:
        t0 = time.perf_counter()
        outcome = run_case(case, cfg.router, decoders)
        results.append((outcome, time.perf_counter() - t0))
    elapsed = time.perf_counter() - started
    failed = errors = 0
    for outcome, _ in results:
        case = outcome.case
        where = f"{case.file}:{case.line}"
        if outcome.error:
            errors += 1
            print(f"ERROR {case.name}  ({where})\n    {outcome.error}")
        elif outcome.failures:
            failed += 1
            print(f"FAIL  {case.name}  ({where})")
            for line in outcome.context:
                print(f"    {line}")
            for f in outcome.failures:
                print("    ✗ " + f.replace("\n", "\n    "))
        else:
            print(f"ok    {case.name}")
            if args.verbose:
                for line in outcome.context:
                    print(f"    {line}")
    passed = len(results) - failed - errors
    print(f"\n{passed} passed, {failed} failed" + (f", {errors} errors" if errors else "") + f" in {elapsed:.2f}s")
    if args.junit:
        try:
            Path(args.junit).write_bytes(junit_xml(results, elapsed))
        except OSError as exc:
            print(f"siemrelay: cannot write the JUnit report {args.junit}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_CONFIG
    return 0 if not failed and not errors else EXIT_FAILED


def junit_xml(results: list[tuple[Any, float]], elapsed: float) -> bytes:
    """Return a JUnit XML report: one testsuite per test file, one testcase per case."""
    root = ET.Element("testsuites", name="siemrelay routes", tests=str(len(results)), time=f"{elapsed:.3f}",
                      failures=str(sum(1 for o, _ in results if o.failures and not o.error)),
                      errors=str(sum(1 for o, _ in results if o.error)))
    suites: dict[str, ET.Element] = {}
    for outcome, seconds in results:
        case = outcome.case
        suite = suites.get(case.file)
        if suite is None:
            suite = suites[case.file] = ET.SubElement(root, "testsuite", name=Path(case.file).name, file=case.file)
        tc = ET.SubElement(suite, "testcase", classname=Path(case.file).stem, name=case.name, file=case.file,
                           line=str(case.line), time=f"{seconds:.4f}")
        if outcome.error:
            ET.SubElement(tc, "error", message=outcome.error.splitlines()[0]).text = outcome.error
        elif outcome.failures:
            text = "\n".join(outcome.context + outcome.failures)
            ET.SubElement(tc, "failure", message=outcome.failures[0].splitlines()[0]).text = text
    for suite in suites.values():
        cases = list(suite)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _read_events(args: argparse.Namespace, decoders: Callable[[Any], Any]) -> list[Any]:
    from agent.routing.cases import build_input

    data = sys.stdin.buffer.read() if args.event == "-" else Path(args.event).read_bytes()
    if args.decoder is not None:
        return build_input({"payload": data.decode("utf-8", "replace"), "decoder": args.decoder}, Path("."), decoders, "explain")
    value = orjson.loads(data)
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and "type" in item and "source" in item:
            out.extend(build_input({"event": item}, Path("."), decoders, "explain"))
        else:
            out.extend(build_input({"payload": orjson.dumps(item).decode(), "decoder": "json"}, Path("."), decoders, "explain"))
    return out


_MARKS = {"matched": "✓", "failed": "✗", "shadowed": "~", "not-evaluated": "·", "disabled": "-",
          "default-used": "✓", "default-unused": "·"}


def cmd_route(args: argparse.Namespace, redactor: Redactor) -> int:
    """Print where an event goes (and with --explain, why)."""
    from agent.sdk.decoder import DecodeError
    from agent.errors import ConfigError

    setup = _setup(args, redactor)
    if isinstance(setup, int):
        return setup
    cfg, decoders = setup
    try:
        events = _read_events(args, decoders)
    except ConfigError as exc:
        # the decoder named on the command line, not a line of the configuration file
        what = f"--decoder {args.decoder}" if args.decoder is not None else args.event
        print(f"siemrelay: {what}: {'; '.join(p.message for p in exc.problems)}", file=sys.stderr)
        return EXIT_CONFIG
    except (OSError, ValueError, DecodeError) as exc:
        msg = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(f"siemrelay: {args.event}: {msg}", file=sys.stderr)
        return EXIT_CONFIG
    router = cfg.router
    report = []
    for ev in events:
        plan = router.plan(ev)
        variants = [{"sinks": list(sinks), "transform": t.desc if t else "", "event": None}
                    for t, sinks in plan.branches]
        for v, (variant, sinks) in zip(variants, [(t(ev) if t else ev, s) for t, s in plan.branches]):
            v["event"] = orjson.loads(variant.to_json()) if variant is not None else None
            v["dropped"] = variant is None
        report.append({"id": ev.id, "type": ev.type, "source": ev.source, "severity": ev.severity.label,
                       "score": ev.score, "routes": list(plan.routes), "sinks": list(router.route(ev)),
                       "variants": variants,
                       "explain": [{"route": v.name, "status": v.status, "reason": v.reason, "to": list(v.to),
                                    "transforms": v.transform, "file": v.where[0], "line": v.where[1]}
                                   for v in router.explain(ev)] if args.explain else []})
    if args.json:
        sys.stdout.write(orjson.dumps(report if len(report) != 1 else report[0], option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    sinks = _built_sinks(cfg, redactor) if args.payload else {}
    for r in report:
        print(f"event {r['id']}: type {r['type']}, source {r['source']}, severity {r['severity']}, score {r['score']}")
        if args.explain:
            width = max((len(e["route"]) for e in r["explain"]), default=0)
            for e in r["explain"]:
                to = f" → {', '.join(e['to']) or '(nowhere)'}" if e["status"] in ("matched", "default-used") else ""
                print(f"  {_MARKS.get(e['status'], '?')} {e['route']:<{width}}  {e['reason']}{to}  ({e['file']}:{e['line']})")
                if e["transforms"] and e["status"] in ("matched", "default-used"):
                    print(f"    {'':<{width}} transforms: {e['transforms']}")
        if not r["routes"]:
            print("  result: matched no route and there is no 'default' route: the event is not kept")
            continue
        print(f"  routes: {', '.join(r['routes'])}")
        print(f"  sinks:  {', '.join(r['sinks']) or '(none)'}")
        for v in r["variants"]:
            what = "dropped by " + v["transform"] if v["dropped"] else (v["transform"] or "the event as decoded")
            print(f"    {', '.join(v['sinks'])} ← {what}")
            if args.payload and v["event"] is not None:
                print("      " + orjson.dumps(v["event"]).decode())
                for sink_name in v["sinks"]:
                    for line in _sink_payload(sinks, sink_name, v["event"], redactor):
                        print(f"      {sink_name}: {line}")
    return 0


def _built_sinks(cfg: "AgentConfig", redact: Callable[[str], str]) -> dict[str, Any]:
    """The configured sinks, constructed without I/O, so their pure encoders can be shown."""
    from agent.engine.build import build_sinks
    from agent.errors import ConfigError

    try:
        return dict(build_sinks(cfg, redact))
    except ConfigError as exc:
        print(f"siemrelay: cannot show sink payloads: {'; '.join(p.message for p in exc.problems)}", file=sys.stderr)
        return {}


def _sink_payload(sinks: dict[str, Any], name: str, native: dict[str, Any], redact: Callable[[str], str]) -> list[str]:
    """What sink ``name`` would send for one event (CEF, LEEF, OCSF, ECS, ...), from its own pure
    encoder: ``encode_batch`` is called, nothing is sent."""
    from agent.model import Event
    from agent.sdk.sink import SpooledEvent

    sink = sinks.get(name)
    encode = getattr(sink, "encode_batch", None)
    if encode is None:
        return ["(this sink has no pure encoder to show)"]
    event = Event.from_dict(native)
    try:
        out = encode([SpooledEvent(0, event.to_json(), event)])
    except Exception as exc:  # a plugin's encoder bug: say so, never a traceback
        return [f"(the encoder failed: {type(exc).__name__}: {redact(str(exc))})"]
    items = out if isinstance(out, list) else [out]
    return [redact(i.decode("utf-8", "replace").rstrip("\n")) if isinstance(i, (bytes, bytearray)) else redact(repr(i))
            for i in items]



COMMANDS = (
    Command("test", "run route tests: which sinks events reach and what each sink receives",
            "Run YAML route tests against the configuration's rules, like unit tests: each case gives an event "
            "(or a vendor payload and its decoder) and expects the sinks it reaches and what they receive. Prints "
            "a diff per failed expectation; exit 1 when a test fails, 2 when a file is invalid; --junit for CI.",
            ("siemrelay test -c /etc/siemrelay/siemrelay.yaml",
             "siemrelay test -c siemrelay.yaml routing-tests.d/*.yaml --junit report.xml"),
            _test_arguments, cmd_test),
    Command("route", "show where an event goes; --explain says why, route by route",
            "Route one event (or an array) through the configuration's rules and print the routes it matched and "
            "the sinks it reaches; --explain gives every route's verdict with the condition that failed, "
            "--payload what each sink would send (from its own encoder; nothing is sent).",
            ("siemrelay route finding.json --explain", "siemrelay route payload.json --decoder zeropath --payload",
             "cat event.json | siemrelay route - --json"),
            _route_arguments, cmd_route),
)
