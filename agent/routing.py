"""Routes: ordered rules compiled once into predicates; an event may fan out to many sinks.

Routing is a pure function of (event, rules). This module holds the minimal language
of the core: ``when`` on ``type`` (exact, glob or a list), ``source`` and a severity
threshold; ``continue``; a route named ``default`` for what matched nothing.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from agent.config import SourceMap
from agent.errors import Problem
from agent.model import Event, Severity, severity_from_name

__all__ = ["Route", "Router", "compile_routes", "parse_threshold"]

Predicate = Callable[[Event], bool]


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    predicate: Predicate
    to: tuple[str, ...]
    cont: bool = False


_OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b, "==": lambda a, b: a == b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}
_THRESHOLD = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)?\s*([A-Za-z]+|\d)\s*$")


def parse_threshold(text: Any) -> Callable[[int], bool]:
    """Parse ``">= high"``, ``"critical"`` (exact) or ``3`` into a test on a severity id.

    :raises ValueError: for anything else, with what was expected.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise ValueError(f"expected a severity such as \">= high\", found {type(text).__name__}")
    m = _THRESHOLD.match(text)
    if not m:
        raise ValueError(f"expected a severity such as \">= high\" or \"critical\", found {text!r}")
    op, name = m.group(1) or "==", m.group(2)
    sev = severity_from_name(name)
    if sev is Severity.UNKNOWN and name.lower() not in ("unknown", "0"):
        raise ValueError(f"unknown severity {name!r} (expected one of unknown, info, low, medium, high, critical)")
    cmp = _OPS[op]
    value = int(sev)
    return lambda sid: cmp(sid, value)


def _string_matcher(spec: Any, what: str) -> Callable[[str], bool]:
    items = spec if isinstance(spec, list) else [spec]
    if not all(isinstance(i, str) for i in items):
        raise ValueError(f"{what}: expected a string, a glob or a list of them")
    exact = {i for i in items if not any(c in i for c in "*?[")}
    globs = [re.compile(fnmatch.translate(i)) for i in items if i not in exact]
    if "*" in items:
        return lambda value: True
    if not globs:
        return exact.__contains__
    return lambda value: value in exact or any(g.match(value) for g in globs)


def _compile_when(when: dict[str, Any]) -> Predicate:
    tests: list[Predicate] = []
    for key, spec in when.items():
        if key in ("type", "source", "vendor_type"):
            m = _string_matcher(spec, key)
            tests.append(lambda ev, m=m, key=key: m(getattr(ev, key)))
        elif key == "severity":
            t = parse_threshold(spec)
            tests.append(lambda ev, t=t: t(ev.severity_id))
        else:
            raise ValueError(f"unknown condition {key!r} (this build knows: type, vendor_type, source, severity)")
    if not tests:
        return lambda ev: True
    if len(tests) == 1:
        return tests[0]
    return lambda ev: all(t(ev) for t in tests)


class Router:
    """Apply compiled routes: first match wins unless ``continue``; ``default`` catches the rest."""

    def __init__(self, routes: Sequence[Route], default: Route | None = None) -> None:
        self.routes = tuple(routes)
        self.default = default

    def route(self, event: Event) -> tuple[str, ...]:
        """Return the sink names ``event`` goes to, in route order, without duplicates."""
        out: list[str] = []
        matched = False
        for r in self.routes:
            if r.predicate(event):
                matched = True
                for s in r.to:
                    if s not in out:
                        out.append(s)
                if not r.cont:
                    break
        if not matched and self.default is not None:
            return self.default.to
        return tuple(out)


def compile_routes(routes: list[dict[str, Any]], sinks: set[str], smap: SourceMap, problems: list[Problem],
                   disabled_sinks: set[str] = frozenset()) -> Router:  # type: ignore[assignment]
    """Compile validated route dicts; every problem names the file, line and route."""
    compiled: list[Route] = []
    default: Route | None = None
    for i, r in enumerate(routes):
        if not r.get("enabled", True):
            continue
        name = r["name"]
        for j, target in enumerate(r.get("to", [])):
            if target not in sinks and target not in disabled_sinks:
                hint = ""
                import difflib
                close = difflib.get_close_matches(target, sorted(sinks), n=1)
                if close:
                    hint = f"; did you mean {close[0]!r}?"
                problems.append(smap.problem(("routes", i, "to", j), f"route {name!r} sends to sink {target!r}, which is not defined{hint}"))
        to = tuple(t for t in r.get("to", []) if t in sinks)
        try:
            pred = _compile_when(r.get("when") or {})
        except ValueError as exc:
            problems.append(smap.problem(("routes", i, "when"), f"route {name!r}: {exc}"))
            continue
        route = Route(name, pred, to, bool(r.get("continue")))
        if name == "default":
            if default is not None:
                problems.append(smap.problem(("routes", i, "name"), "there can be only one route named 'default'"))
            default = route
        else:
            compiled.append(route)
    return Router(compiled, default)
