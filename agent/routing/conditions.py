"""The ``when:`` language of routes, compiled once into a tree of fast predicates.

A condition is a mapping; every key must hold (an implicit ``all``). Keys are
shortcuts (``type``, ``vendor_type``, ``source``, ``severity``, ``score``,
``repository``, ``asset``, ``organization``, ``tags``), combinators (``all``, ``any``,
``not``) or any field by dotted path. A value is a shorthand (a glob, a list, a
threshold) or a mapping of operators. Compilation happens at load time so that a
typo, a bad regex or a threshold of the wrong type is an error with a line number,
and so that routing an event runs closures instead of interpreting YAML.

Each node also says which *features* it reads. A feature is a low-cardinality field
(source, type, severity, ...); the router memoises decisions that depend only on
features, which is what makes 100 rules cost one dict lookup per event.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, Callable, Mapping

from agent.model import GROUPS, Event, Severity, parse_time, severity_from_name
from agent.routing.thresholds import (CMP, SCORE, globber, is_number, kind, parse_severity_threshold, parse_threshold,
                              severity_id)

__all__ = ["Cond", "CondCompiler", "OPERATORS", "SHORTCUTS", "parse_threshold", "FEATURES", "DOC_FEATURES", "MISSING"]

Getter = Callable[[Event], Any]
Test = Callable[[Event], bool]
Errors = list[tuple[tuple[object, ...], str]]

MISSING: Any = None

#: Operators of the mapping form, ``{field: {op: argument}}``.
OPERATORS = ("eq", "ne", "in", "not_in", "glob", "regex", "exists", "contains", "<", "<=", ">", ">=")
#: Shortcut keys and what they test.
SHORTCUTS = ("type", "vendor_type", "source", "severity", "score", "repository", "asset", "organization",
             "organisation", "tags")
COMBINATORS = ("all", "any", "not")
_NAMED = {"repository": "repository.name", "asset": "asset.name", "organization": "organization.name",
          "organisation": "organization.name"}
_FIELDS = ("id", "time", "received_at", "source", "type", "vendor_type", "severity", "severity_id", "score",
           "title", "description", *GROUPS, "tags", "raw")


def _group_name(group: str) -> Getter:
    def get(ev: Event) -> Any:
        g = getattr(ev, group)
        return g.get("name") if isinstance(g, dict) else None
    return get


#: Features: fields whose values are few, so decisions that read only them are memoised.
FEATURES: dict[str, Getter] = {
    "source": lambda ev: ev.source,
    "type": lambda ev: ev.type,
    "vendor_type": lambda ev: ev.vendor_type,
    "severity_id": lambda ev: ev.severity_id,
    "score": lambda ev: ev.score,
    "repository.name": _group_name("repository"),
    "organization.name": _group_name("organization"),
}
_FEATURE_OF_PATH = {"severity": "severity_id", **{k: k for k in FEATURES}}


def _doc_group_name(group: str) -> Callable[[Mapping[str, Any]], Any]:
    def get(doc: Mapping[str, Any]) -> Any:
        g = doc.get(group)
        return g.get("name") if isinstance(g, dict) else None
    return get


#: The same features read from an event's native form (``Event.to_dict``): each gives the
#: value its :data:`FEATURES` getter gives for that event (the native form leaves out empty
#: groups, whose names are ``None`` either way)
DOC_FEATURES: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "source": itemgetter("source"),
    "type": itemgetter("type"),
    "vendor_type": itemgetter("vendor_type"),
    "severity_id": itemgetter("severity_id"),
    "score": itemgetter("score"),
    "repository.name": _doc_group_name("repository"),
    "organization.name": _doc_group_name("organization"),
}


@dataclass(slots=True)
class Cond:
    """One compiled node: ``test(event)`` plus what ``--explain`` needs to say why.

    :ivar desc: the condition as a user would write it (``severity >= high``).
    :ivar test: the compiled predicate.
    :ivar kind: ``leaf``, ``all``, ``any`` or ``not``.
    :ivar children: sub-conditions of a combinator.
    :ivar actual: returns the value a leaf looked at, for explanations.
    :ivar features: features read, or ``None`` when it reads anything else.
    :ivar always: true when it matches every event (a catch-all).
    """

    desc: str
    test: Test
    kind: str = "leaf"
    children: tuple["Cond", ...] = ()
    actual: Getter | None = None
    features: frozenset[str] | None = frozenset()
    always: bool = False

    def why_not(self, ev: Event) -> str:
        """Return the first failing condition and the value it saw (for a non-match)."""
        if self.kind == "all":
            for c in self.children:
                if not c.test(ev):
                    return c.why_not(ev)
        elif self.kind == "any":
            return "none of: " + "; ".join(c.why_not(ev) for c in self.children)
        elif self.kind == "not":
            return f"not ({self.children[0].desc}) failed: it matched"
        if self.actual is not None:
            return f"{self.desc} failed: found {_show(self.actual(ev))}"
        return f"{self.desc} failed"


def _show(value: object) -> str:
    if value is None:
        return "nothing (missing)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _all(children: list[Cond], desc: str) -> Cond:
    kids = [c for c in children if not c.always]
    feats = _union(children)
    if not kids:
        return Cond(desc or "(always)", lambda ev: True, "all", tuple(children), features=frozenset(), always=True)
    if len(kids) == 1 and len(children) == 1:
        return kids[0]
    tests = tuple(c.test for c in kids)
    if len(tests) == 1:
        t0 = tests[0]
        test: Test = t0
    elif len(tests) == 2:
        t0, t1 = tests
        test = lambda ev: t0(ev) and t1(ev)  # noqa: E731
    else:
        test = lambda ev: all(t(ev) for t in tests)  # noqa: E731
    return Cond(desc, test, "all", tuple(children), features=feats)


def _union(children: list[Cond]) -> frozenset[str] | None:
    out: set[str] = set()
    for c in children:
        if c.features is None:
            return None
        out |= c.features
    return frozenset(out)


class CondCompiler:
    """Compiles ``when:`` mappings; problems go to ``errors`` as (key path, message)."""

    def __init__(self, errors: Errors) -> None:
        self.errors = errors

    def compile(self, when: object, path: tuple[object, ...] = ()) -> Cond:
        """Compile one condition mapping (``{}`` or ``None`` matches everything)."""
        if when is None:
            when = {}
        if not isinstance(when, dict):
            self.errors.append((path, f"expected a mapping of conditions, found {kind(when)}"))
            return _never()
        children = [self._key(str(k), v, path + (k,)) for k, v in when.items()]
        return _all(children, " and ".join(c.desc for c in children))

    def _fail(self, path: tuple[object, ...], msg: str) -> Cond:
        self.errors.append((path, msg))
        return _never()

    def _key(self, key: str, value: object, path: tuple[object, ...]) -> Cond:
        try:
            if key in ("all", "any"):
                return self._combine(key, value, path)
            if key == "not":
                inner = self.compile(value, path)
                t = inner.test
                return Cond(f"not ({inner.desc})", lambda ev: not t(ev), "not", (inner,), features=inner.features)
            if isinstance(value, dict):
                return self._ops(key, value, path)
            if key in ("type", "vendor_type", "source"):
                return self._glob_field(key, key, value)
            if key in _NAMED:
                return self._glob_field(_NAMED[key], key, value)
            if key == "severity":
                return self._severity(value)
            if key == "score":
                return self._score(value)
            if key == "tags":
                m, _ = globber(value, "tags")
                return Cond(f"tags has {value!r}", lambda ev: any(m(t) for t in ev.tags), actual=lambda ev: ev.tags,
                            features=None)
            get = self._getter(key)
            if isinstance(value, list):
                return self._op(key, get, "in", value, path)
            return self._op(key, get, "eq", value, path)
        except ValueError as exc:
            return self._fail(path, str(exc))

    def _combine(self, key: str, value: object, path: tuple[object, ...]) -> Cond:
        if not isinstance(value, list) or not value:
            raise ValueError(f"'{key}' expects a non-empty list of conditions, found {kind(value)}")
        kids = [self.compile(v, path + (i,)) for i, v in enumerate(value)]
        if key == "all":
            return _all(kids, "all(" + "; ".join(k.desc for k in kids) + ")") if len(kids) > 1 else kids[0]
        tests = tuple(k.test for k in kids)
        always = any(k.always for k in kids)
        return Cond("any(" + "; ".join(k.desc for k in kids) + ")", lambda ev: any(t(ev) for t in tests), "any",
                    tuple(kids), features=_union(kids), always=always)

    def _getter(self, path: str) -> Getter:
        head, _, rest = path.partition(".")
        if head not in _FIELDS:
            known = [*SHORTCUTS, *COMBINATORS, *_FIELDS]
            close = difflib.get_close_matches(head, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (a field path starts with an event field: " \
                   "type, source, severity, score, asset, finding, scan, repository, organization, links, origin, tags, raw)"
            raise ValueError(f"unknown condition {path!r}{hint}")
        if path in FEATURES:
            return FEATURES[path]
        if not rest and head != "severity":
            return lambda ev: getattr(ev, head)
        if "." not in rest and head in GROUPS:
            def get(ev: Event) -> Any:
                g = getattr(ev, head)
                return g.get(rest) if isinstance(g, dict) else None
            return get
        return lambda ev: ev.get(path)

    def _glob_field(self, path: str, key: str, value: object) -> Cond:
        get = self._getter(path)
        m, always = globber(value, key)
        shown = value if isinstance(value, str) else value
        return Cond(f"{key} matches {shown!r}", lambda ev: m(get(ev)), actual=get,
                    features=frozenset({_FEATURE_OF_PATH[path]}) if path in _FEATURE_OF_PATH else None, always=always)

    def _severity(self, value: object) -> Cond:
        feats = frozenset({"severity_id"})
        actual: Getter = lambda ev: severity_from_name(ev.severity_id).label  # noqa: E731
        if isinstance(value, list):
            ids = frozenset(severity_id(v) for v in value)
            return Cond(f"severity in {value!r}", lambda ev: ev.severity_id in ids, actual=actual, features=feats)
        op, sid = parse_severity_threshold(value)
        cmp = CMP[op]
        op = "==" if op == "=" else op
        label = Severity(sid).label
        return Cond(f"severity {op} {label}", lambda ev: cmp(ev.severity_id, sid), actual=actual, features=feats,
                    always=(op == ">=" and sid == 0))

    def _score(self, value: object) -> Cond:
        feats = frozenset({"score"})
        get: Getter = lambda ev: ev.score  # noqa: E731
        if is_number(value):
            return Cond(f"score == {value}", lambda ev: ev.score == value, actual=get, features=feats)
        m = SCORE.match(value) if isinstance(value, str) else None
        if not m:
            raise ValueError(f"score: expected a number, a threshold such as \">= 70\" or a range such as "
                             f"\"40..69\", found {kind(value)}")
        if m.group(1):
            op, n = m.group(1), float(m.group(2))
            cmp = CMP[op]
            return Cond(f"score {op} {m.group(2)}", lambda ev: cmp(ev.score, n), actual=get, features=feats)
        lo, hi = float(m.group(3)), float(m.group(4))
        if lo > hi:
            raise ValueError(f"score: the range {value!r} is empty (low end above high end)")
        return Cond(f"score in {m.group(3)}..{m.group(4)}", lambda ev: lo <= ev.score <= hi, actual=get, features=feats)

    def _ops(self, key: str, ops: dict[Any, Any], path: tuple[object, ...]) -> Cond:
        field = _NAMED.get(key, key)
        get = self._getter(field)
        if not ops:
            raise ValueError(f"{key}: an empty mapping of operators (expected e.g. {{eq: VALUE}})")
        kids = []
        for op, arg in ops.items():
            if field == "severity":
                kids.append(self._severity_op(str(op), arg, path + (op,)))
            else:
                kids.append(self._op(field, get, str(op), arg, path + (op,)))
        return _all(kids, " and ".join(k.desc for k in kids))

    def _severity_op(self, op: str, arg: object, path: tuple[object, ...]) -> Cond:
        actual: Getter = lambda ev: severity_from_name(ev.severity_id).label  # noqa: E731
        get: Getter = lambda ev: ev.severity_id  # noqa: E731
        try:
            if op in ("eq", "ne", "<", "<=", ">", ">="):
                sid = severity_id(arg)
                c = self._op("severity", get, op, sid, path)
                return Cond(f"severity {op} {Severity(sid).label}", c.test, actual=actual, features=frozenset({"severity_id"}))
            if op in ("in", "not_in"):
                if not isinstance(arg, list):
                    raise ValueError(f"severity: '{op}' expects a list of severities, found {kind(arg)}")
                c = self._op("severity", get, op, [severity_id(a) for a in arg], path)
                return Cond(f"severity {op} {arg!r}", c.test, actual=actual, features=frozenset({"severity_id"}))
        except ValueError as exc:
            return self._fail(path, f"severity: {exc}" if not str(exc).startswith("severity") else str(exc))
        c = self._op("severity", actual, op, arg, path)
        c.features = frozenset({"severity_id"})
        return c

    def _op(self, field: str, get: Getter, op: str, arg: object, path: tuple[object, ...]) -> Cond:
        from agent.routing.operators import build_op

        if op not in OPERATORS:
            close = difflib.get_close_matches(op, OPERATORS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(OPERATORS)})"
            return self._fail(path, f"{field}: unknown operator {op!r}{hint}")
        if field in ("time", "received_at") and op in ("eq", "ne", "<", "<=", ">", ">="):
            when = parse_time(arg) if not isinstance(arg, (datetime, bool)) else None
            if when is None:
                return self._fail(path, f"{field}: '{op}' expects an ISO 8601 time, found {kind(arg)}")
            arg = when
        if field == "score" and op in ("eq", "ne", "<", "<=", ">", ">=") and not is_number(arg):
            return self._fail(path, f"score: '{op}' expects a number (0-100), found {kind(arg)}")
        try:
            test = build_op(get, op, arg)
        except ValueError as exc:
            return self._fail(path, f"{field}: {exc}")
        feature = _FEATURE_OF_PATH.get(field)
        return Cond(f"{field} {op} {arg!r}", test, actual=get,
                    features=frozenset({feature}) if feature else None)


def _never() -> Cond:
    return Cond("(invalid)", lambda ev: False, features=frozenset())
