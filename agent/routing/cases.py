"""Route tests: YAML cases that say where an event must (not) go and what sinks receive.

In the spirit of ``vector test``, but asserting on what each sink is handed: the event
after its route's transforms, in the native JSON form. A case's input is a native
event, or a vendor payload (inline or a file) run through a decoder built exactly as
a source builds it (:class:`agent.engine.build.DecoderFactory`), so any registered decoder
works. Loading a file reports every problem with its file and line; running a case
never raises, it returns an :class:`CaseResult` with readable failure lines.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import orjson

from agent.routing.operators import build_op
from agent.routing.conditions import OPERATORS
from agent.yamlsource import SourceMap, load_yaml_text
from agent.sdk.decoder import Decoder, DecodeError
from agent.errors import ConfigError, Problem
from agent.model import Event, format_time, score_from_severity
from agent.sdk.record import RawRecord
from agent.routing.router import Router

__all__ = ["Case", "CaseResult", "load_cases", "run_case", "build_input"]

_INPUT_KEYS = ("event", "payload", "file", "decoder", "origin")
_EXPECT_KEYS = ("to", "not_to", "only_to", "routes", "fields", "sinks", "decode_error", "events")
_T0 = "2025-01-01T00:00:00Z"


@dataclass(slots=True)
class Case:
    """One route test as written in a file."""

    name: str
    file: str
    line: int
    input: dict[str, Any]
    expect: Any
    base_dir: Path
    index: int = 0


@dataclass(slots=True)
class CaseResult:
    """The result of one case: no failures means it passed."""

    case: Case
    failures: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    error: str = ""  # the input could not be built (bad file, unknown decoder)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.error


def load_cases(paths: list[Path], sinks: set[str], problems: list[Problem]) -> list[Case]:
    """Read test files; append a Problem (file, line) for every malformed case."""
    cases: list[Case] = []
    for path in paths:
        try:
            data, smap = load_yaml_text(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            problems.append(Problem(str(path), 0, "", f"cannot read: {exc.strerror or exc}"))
            continue
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        items = data.get("tests") if isinstance(data, dict) else data
        if not isinstance(items, list):
            problems.append(Problem(str(path), 1, "", "expected a mapping with a 'tests:' list of cases"))
            continue
        if isinstance(data, dict):
            for key in data:
                if key != "tests":
                    problems.append(smap.problem((key,), "unknown key (a test file has one key: tests)"))
        prefix = ("tests",) if isinstance(data, dict) else ()
        for i, item in enumerate(items):
            case = _check_case(item, prefix + (i,), smap, sinks, problems, path)
            if case is not None:
                case.index = len(cases)
                cases.append(case)
    return cases


def _check_case(item: object, at: tuple[object, ...], smap: SourceMap, sinks: set[str], problems: list[Problem],
                path: Path) -> Case | None:
    file, line = smap.where(at)
    if not isinstance(item, dict):
        problems.append(smap.problem(at, "expected a mapping with name, input and expect"))
        return None
    before = len(problems)
    for key in item:
        if key not in ("name", "input", "expect"):
            problems.append(smap.problem(at + (key,), _unknown(key, ("name", "input", "expect"))))
    name = item.get("name")
    if not isinstance(name, str) or not name:
        problems.append(smap.problem(at + ("name",), "every test needs a name"))
    inp = item.get("input")
    if not isinstance(inp, dict) or not any(k in inp for k in ("event", "payload", "file")):
        problems.append(smap.problem(at + ("input",), "expected input: {event: {...}} or {file: PATH, decoder: NAME} "
                                                      "or {payload: ..., decoder: NAME}"))
    else:
        for key in inp:
            if key not in _INPUT_KEYS:
                problems.append(smap.problem(at + ("input", key), _unknown(key, _INPUT_KEYS)))
    expect = item.get("expect")
    for j, exp in enumerate(expect if isinstance(expect, list) else [expect]):
        where = at + ("expect", j) if isinstance(expect, list) else at + ("expect",)
        if not isinstance(exp, dict):
            problems.append(smap.problem(where, "expected a mapping such as {to: [siem], not_to: [slack]}"))
            continue
        for key, value in exp.items():
            if key not in _EXPECT_KEYS:
                problems.append(smap.problem(where + (key,), _unknown(key, _EXPECT_KEYS)))
            elif key in ("to", "not_to", "only_to"):
                if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                    problems.append(smap.problem(where + (key,), "expected a list of sink names"))
                    continue
                for k, s in enumerate(value):
                    if s not in sinks:
                        problems.append(smap.problem(where + (key, k), f"no sink named {s!r}" + _hint(s, sinks)))
            elif key == "sinks":
                if not isinstance(value, dict):
                    problems.append(smap.problem(where + (key,), "expected {SINK: {FIELD: VALUE, ...}}"))
                    continue
                for s in value:
                    if s not in sinks:
                        problems.append(smap.problem(where + (key, s), f"no sink named {s!r}" + _hint(s, sinks)))
            elif key in ("fields",) and not isinstance(value, dict):
                problems.append(smap.problem(where + (key,), "expected {FIELD: VALUE, ...}"))
    if len(problems) > before:
        return None
    assert isinstance(name, str) and isinstance(inp, dict)
    return Case(name, file, line, inp, expect, path.parent)


def _unknown(key: object, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), known, n=1)
    return "unknown key" + (f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(known)})")


def _hint(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else f" (sinks: {', '.join(sorted(known))})"


def build_input(inp: dict[str, Any], base_dir: Path, decoders: Callable[[Any], Decoder], label: str = "test") -> list[Event]:
    """Turn a case's input into events (a native event, or a payload through its decoder).

    :raises DecodeError: the decoder refused the payload.
    :raises ValueError: the input itself is unusable (missing file, bad native event).
    """
    origin = dict(inp.get("origin") or {"input": label})
    if "event" in inp:
        ev = inp["event"]
        if not isinstance(ev, dict):
            raise ValueError(f"input.event: expected a mapping, found {type(ev).__name__}")
        data = {"id": f"{label}-event", "time": _T0, "source": "test", "type": "log", **{k: _plain(v) for k, v in ev.items()}}
        event = Event.from_dict(data)
        if "score" not in ev:  # as decoders do: a severity without a score gets its representative score
            event.score = score_from_severity(event.severity_id)
        if event.origin is None:
            event.origin = origin
        return [event]
    if "file" in inp:
        path = Path(os.path.expanduser(str(inp["file"])))
        path = path if path.is_absolute() else base_dir / path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"input.file {path}: {exc.strerror or exc}") from None
    else:
        payload = inp["payload"]
        raw = payload.encode() if isinstance(payload, str) else orjson.dumps(_plain(payload))
    decoder = decoders(inp.get("decoder", "json"))
    record = RawRecord(data=raw, decoder=decoder, origin=origin, received_at=datetime.now(timezone.utc))
    events = decoder.decode(record)
    for ev in events:
        if ev.origin is None:
            ev.origin = origin
    return events


def _plain(value: object) -> object:
    """YAML turns unquoted times into datetimes; the JSON form has strings."""
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


_ABSENT = object()


def _dig(doc: object, path: str) -> object:
    for step in path.split("."):
        if isinstance(doc, dict) and step in doc:
            doc = doc[step]
        elif isinstance(doc, list) and step.lstrip("-").isascii() and step.lstrip("-").isdigit() and -len(doc) <= int(step) < len(doc):
            doc = doc[int(step)]
        else:
            return _ABSENT
    return doc


def _show(value: object) -> str:
    if value is _ABSENT:
        return "(absent)"
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


def check_field(doc: dict[str, Any], path: str, expected: object) -> str | None:
    """Compare one field of a received document; return a readable failure or None."""
    actual = _dig(doc, path)
    expected = _plain(expected)
    if isinstance(expected, dict) and expected and all(k in OPERATORS for k in expected):
        value = None if actual is _ABSENT else actual
        for op, arg in expected.items():
            try:
                ok = build_op(lambda _ev: value, op, arg)(None)  # type: ignore[arg-type]
            except ValueError as exc:
                return f"{path}: {exc}"
            if not ok:
                return f"{path}: expected {op} {_show(arg)}, got {_show(actual)}"
        return None
    if actual is not _ABSENT and actual == expected:
        return None
    a, e = _pretty(actual), _pretty(expected)
    if "\n" not in a and "\n" not in e:
        return f"{path}:\n    - expected: {e}\n    + actual:   {a}"
    diff = difflib.unified_diff(e.splitlines(), a.splitlines(), "expected", "actual", lineterm="", n=2)
    return f"{path}:\n" + "\n".join("    " + line for line in diff)


def _pretty(value: object) -> str:
    if value is _ABSENT:
        return "(absent)"
    opt = orjson.OPT_SORT_KEYS | (orjson.OPT_INDENT_2 if isinstance(value, (dict, list)) and len(_show(value)) > 60 else 0)
    return orjson.dumps(value, option=opt, default=str).decode()


def run_case(case: Case, router: Router, decoders: Callable[[Any], Decoder]) -> CaseResult:
    """Route the case's input and check every expectation; never raises."""
    out = CaseResult(case)
    expect = case.expect
    try:
        events = build_input(case.input, case.base_dir, decoders, f"case-{case.index + 1}")
    except DecodeError as exc:
        wanted = expect.get("decode_error") if isinstance(expect, dict) else None
        if wanted is True or isinstance(wanted, str) and wanted in str(exc):
            return out
        out.failures.append(f"the decoder refused the input: {exc}")
        return out
    except ConfigError as exc:
        out.error = "; ".join(str(p) for p in exc.problems)
        return out
    except ValueError as exc:
        out.error = str(exc)
        return out
    exps = expect if isinstance(expect, list) else [expect] * len(events)
    if isinstance(expect, dict) and expect.get("decode_error"):
        out.failures.append("expected the decoder to refuse the input, but it decoded "
                            f"{len(events)} event(s)")
    if isinstance(expect, dict) and "events" in expect and expect["events"] != len(events):
        out.failures.append(f"expected {expect['events']} event(s) from the decoder, got {len(events)}")
    if len(exps) != len(events):
        out.failures.append(f"expect lists {len(exps)} event(s), the input decoded to {len(events)}")
    for n, (ev, exp) in enumerate(zip(events, exps)):
        tag = f"event {n + 1}: " if len(events) > 1 else ""
        _check_event(out, ev, exp, router, tag)
    return out


def _check_event(out: CaseResult, ev: Event, exp: dict[str, Any], router: Router, tag: str) -> None:
    plan = router.plan(ev)
    received: dict[str, dict[str, Any]] = {}
    for variant, sinks in router.dispatch(ev):
        doc = orjson.loads(variant.to_json())
        for s in sinks:
            received[s] = doc
    reached = [s for s in plan.sinks if s in received]
    out.context.append(f"{tag}routes matched: {', '.join(plan.routes) or '(none)'}; sinks reached: "
                       f"{', '.join(reached) or '(none)'}")
    why = {v.name: v.reason for v in router.explain(ev)}
    for s in exp.get("to", []):
        if s in plan.sinks and s not in received:
            out.failures.append(f"{tag}expected to reach {s}: route {_first_route(router, plan.routes, s)!r} "
                                f"sends it there, but its transforms dropped the event")
        elif s not in received:
            out.failures.append(f"{tag}expected to reach {s}, but it did not" + _routes_to(router, s, why))
    for s in exp.get("not_to", []):
        if s in received:
            out.failures.append(f"{tag}expected not to reach {s}, but it did (via route "
                                f"{_first_route(router, plan.routes, s)!r})")
    if "only_to" in exp and set(exp["only_to"]) != set(received):
        out.failures.append(f"{tag}expected to reach exactly [{', '.join(exp['only_to'])}], "
                            f"got [{', '.join(reached)}]")
    if "routes" in exp and list(exp["routes"]) != list(plan.routes):
        out.failures.append(f"{tag}expected routes {list(exp['routes'])}, matched {list(plan.routes)}")
    # fields are checked on what the expected sinks received, else on every sink reached
    targets = [s for s in exp.get("to") or exp.get("only_to") or () if s in received] or reached
    for path, value in (exp.get("fields") or {}).items():
        for s in targets:
            if s in received and (msg := check_field(received[s], str(path), value)):
                out.failures.append(f"{tag}{s}: {msg}")
    for s, fields in (exp.get("sinks") or {}).items():
        if s not in received:
            out.failures.append(f"{tag}{s}: fields were expected, but the event does not reach {s}")
            continue
        for path, value in (fields or {}).items():
            if msg := check_field(received[s], str(path), value):
                out.failures.append(f"{tag}{s}: {msg}")


def _routes_to(router: Router, sink: str, why: dict[str, str]) -> str:
    lines = [f"\n    route {r.name!r}: {why.get(r.name, '')}" for r in (*router.routes, *router.disabled)
             if sink in r.to]
    if router.default is not None and sink in router.default.to:
        lines.append(f"\n    route 'default': {why.get('default', '')}")
    return "".join(lines) if lines else f"\n    (no route sends to {sink})"


def _first_route(router: Router, matched: tuple[str, ...], sink: str) -> str:
    table = {r.name: r for r in router.routes}
    if router.default is not None:
        table["default"] = router.default
    return next((n for n in matched if n in table and sink in table[n].to), "?")
