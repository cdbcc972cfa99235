"""Routes: ordered YAML rules compiled once into predicates; an event may fan out to many sinks.

Routing is a pure function of (event, rules). Routes are tried in order; the first
that matches wins unless it says ``continue: true``; a route named ``default`` takes
what matched nothing. A route's ``transforms`` apply to its own sinks only, so the
decision is a :class:`Plan`: groups of sinks, each with the transform (or none) that
makes the variant those sinks receive.

Speed: each route is a bit. Conditions on a *feature* (source, type, vendor_type,
severity, score, repository and organisation names) are evaluated once per distinct
value of that feature and memoised as a mask of routes; an event's candidates are
the AND of its features' masks, and only the other conditions of those candidates (a
regex on the title, a field of ``raw``) run per event. The condition language lives in
:mod:`agent.routing.conditions`, transforms in :mod:`agent.routing.transforms`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

import orjson

from agent.routing.conditions import DOC_FEATURES, FEATURES, Cond, CondCompiler, parse_threshold
from agent.yamlsource import SourceMap
from agent.errors import Problem
from agent.model import Event
from agent.routing.transforms import Transform, TransformCompiler

__all__ = ["Route", "Router", "Plan", "RouteExplanation", "compile_routes", "parse_threshold"]

Predicate = Callable[[Event], bool]
Branch = tuple["Transform | None", tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Route:
    """One compiled route. ``index`` is its position in the merged ``routes:`` list."""

    name: str
    predicate: Predicate
    to: tuple[str, ...]
    cont: bool = False
    transform: Transform | None = None
    cond: Cond | None = None
    index: int = -1
    where: tuple[str, int] = ("", 0)
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Plan:
    """Where one event goes: the routes that matched and the sinks of each variant.

    :ivar routes: names of the matched routes (``("default",)`` for the default route);
        empty when nothing matched and there is no default (the event is *unrouted*).
    :ivar branches: ``(transform or None, sinks)`` per variant; ``None`` is the event as is.
    :ivar sinks: every sink, in route order (before any ``drop`` transform).
    """

    routes: tuple[str, ...]
    branches: tuple[Branch, ...]
    sinks: tuple[str, ...]
    may_drop: bool = False


NO_MATCH = Plan((), (), ())
_UNHASHABLE = object()


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _feature_event(doc: Mapping[str, Any]) -> Event:
    """An Event with the native dict's feature values, unconverted (a feature test reads only
    its feature; ``Event.from_dict`` would coerce a score of 7.5 to 7)."""
    return Event(str(doc.get("id", "")), _EPOCH, _EPOCH, doc["source"], doc["type"], doc["vendor_type"],
                 doc["severity_id"], doc["score"], repository=doc.get("repository"),
                 organization=doc.get("organization"))


@dataclass(frozen=True, slots=True)
class RouteExplanation:
    """What ``route --explain`` says about one route."""

    name: str
    status: str  # matched | failed | shadowed | not-evaluated | disabled | default-used | default-unused
    reason: str
    to: tuple[str, ...]
    transform: str = ""
    where: tuple[str, int] = ("", 0)


class Router:
    """Apply compiled routes: first match wins unless ``continue``; ``default`` catches the rest."""

    def __init__(self, routes: Sequence[Route], default: Route | None = None, *, disabled: Sequence[Route] = (),
                 warnings: Sequence[Problem] = (), cache_size: int = 16384) -> None:
        self.routes = tuple(routes)
        self.default = default
        self.disabled = tuple(disabled)
        self.warnings = list(warnings)
        self.cache_size = cache_size
        self._plans: dict[int, Plan] = {}  # by bitmask of matched routes
        self._entries: list[tuple[Route, Predicate | None]] = []
        # per feature, per distinct condition (routes often share one): the routes' bits
        tests: dict[str, dict[str, list[Any]]] = {}
        readers: dict[str, int] = {}
        for i, route in enumerate(self.routes):
            singles, residual = self._split(route)
            self._entries.append((route, residual))
            for feature, desc, test in singles:
                slot = tests.setdefault(feature, {}).setdefault(desc, [0, test])
                slot[0] |= 1 << i
                readers[feature] = readers.get(feature, 0) | 1 << i
        self._all = (1 << len(self.routes)) - 1
        # per feature: (getter, memo of value -> mask, (bits, test) per condition, routes that do not read it)
        self._index: list[tuple[Callable[[Event], Any], dict[Any, int], tuple[tuple[int, Predicate], ...], int]] = [
            (FEATURES[f], {}, tuple((bits, test) for bits, test in by_desc.values()), self._all & ~readers[f])
            for f, by_desc in sorted(tests.items())]
        self.features = tuple(sorted(tests))
        #: the same features read from the native form, in :attr:`_index`'s order (:meth:`plan_native`)
        self._doc_getters = tuple(DOC_FEATURES[f] for f in self.features)
        #: whether :meth:`plan_native` decides every event from its native dict: no route needs
        #: more of an event than its features, and none transforms it
        self.native_ok = all(residual is None and route.transform is None for route, residual in self._entries) \
            and (default is None or default.transform is None)
        #: the plan of every event when no rule reads anything of it (only a ``default``
        #: route, or routes without ``when``): the intake then skips :meth:`plan`
        self.constant: Plan | None = None
        if not self._index and all(residual is None for _, residual in self._entries):
            self.constant = self._plan_of(self._first_matches(self._all))

    @staticmethod
    def _split(route: Route) -> tuple[list[tuple[str, str, Predicate]], Predicate | None]:
        """Split a route's condition into single-feature tests (indexed) and a per-event residual."""
        cond = route.cond
        if cond is None:
            return [], route.predicate
        conjuncts: list[Cond] = []
        stack = [cond]
        while stack:
            c = stack.pop(0)
            if c.kind == "all" and c.children:
                stack[:0] = list(c.children)
            elif not c.always:
                conjuncts.append(c)
        singles = [(next(iter(c.features)), c.desc, c.test) for c in conjuncts
                   if c.features is not None and len(c.features) == 1]
        rest = [c.test for c in conjuncts if c.features is None or len(c.features) != 1]
        if not rest:
            return singles, None
        if len(rest) == 1:
            return singles, rest[0]
        return singles, lambda ev: all(t(ev) for t in rest)

    # ----------------------------------------------------------------- hot path
    def plan(self, event: Event) -> Plan:
        """Return where ``event`` goes.

        Each route is a bit. For each feature the rules read (source, type, severity,
        ...), a memo maps the event's value to the mask of routes whose conditions on
        that feature hold; ANDing those masks leaves the candidates, and only their
        other conditions (a regex on the title, a field of ``raw``) run per event.
        """
        try:
            mask = self._all
            for get, memo, tests, free in self._index:
                value = get(event)
                try:
                    bits = memo.get(value)
                except TypeError:  # an unhashable value where a name belongs: not memoised
                    bits = None
                    value = _UNHASHABLE
                if bits is None:
                    bits = self._learn(memo, tests, free, value, event)
                mask &= bits
                if not mask:
                    break
            matched = 0
            entries = self._entries
            while mask:
                low = mask & -mask
                route, residual = entries[low.bit_length() - 1]
                if residual is None or residual(event):
                    matched |= low
                    if not route.cont:
                        break
                mask ^= low
        except Exception:  # a value of a type no rule expects (a decoder bug): that test does not match
            matched = self._careful(event)
        return self._plan_for(matched)

    def plan_native(self, doc: Mapping[str, Any]) -> Plan | None:
        """:meth:`plan` for an event in its native form, where :attr:`native_ok`.

        The features are read from the dict and looked up in the same memos; a value seen for
        the first time is tested, once, on an Event that holds the dict's feature values as
        they are (:func:`_feature_event`). ``None`` when that fails (a value of a type no rule
        expects): the caller then decides with the Event the decoder gives.
        """
        try:
            mask = self._all
            event: Event | None = None
            for (_, memo, tests, free), get in zip(self._index, self._doc_getters):
                value = get(doc)
                try:
                    bits = memo.get(value)
                except TypeError:
                    bits = None
                    value = _UNHASHABLE
                if bits is None:
                    if event is None:
                        event = _feature_event(doc)
                    bits = self._learn(memo, tests, free, value, event)
                mask &= bits
                if not mask:
                    break
            matched = self._first_matches(mask)  # no residual tests: the candidates in order, to the first that stops
        except Exception:
            return None
        return self._plan_for(matched)

    def _learn(self, memo: dict[Any, int], tests: tuple[tuple[int, Predicate], ...], free: int, value: object,
               event: Event) -> int:
        """The routes a feature's value lets through: those that do not read the feature
        (``free``) and those whose test on it passes; remembered in ``memo`` unless unhashable."""
        bits = free
        for bit, test in tests:
            if test(event):
                bits |= bit
        if value is not _UNHASHABLE:
            if len(memo) >= self.cache_size:
                memo.clear()
            memo[value] = bits
        return bits

    def _plan_for(self, matched: int) -> Plan:
        """The plan of the routes in ``matched``, made once per set (bounded)."""
        plan = self._plans.get(matched)
        if plan is None:
            if len(self._plans) >= self.cache_size:
                self._plans.clear()
            plan = self._plan_of(matched)
        return plan

    def _first_matches(self, mask: int) -> int:
        """The routes taken among candidates ``mask`` that need no per-event test: in order,
        up to the first that does not continue."""
        matched = 0
        while mask:
            low = mask & -mask
            matched |= low
            if not self._entries[low.bit_length() - 1][0].cont:
                break
            mask ^= low
        return matched

    def _careful(self, event: Event) -> int:
        """Evaluate route by route, taking a condition that raises as not matching."""
        matched = 0
        for i, (route, _) in enumerate(self._entries):
            try:
                ok = route.predicate(event)
            except Exception:
                ok = False
            if ok:
                matched |= 1 << i
                if not route.cont:
                    break
        return matched

    def _plan_of(self, matched_bits: int) -> Plan:
        matched = tuple(r for i, (r, _) in enumerate(self._entries) if matched_bits >> i & 1)
        if not matched:
            if self.default is None:
                return NO_MATCH
            matched = (self.default,)
        groups: dict[Transform | None, list[str]] = {}
        order: list[str] = []
        for r in matched:
            for s in r.to:
                if s not in order:
                    order.append(s)
                    groups.setdefault(r.transform, []).append(s)
        branches = tuple((t, tuple(s)) for t, s in groups.items())
        plan = Plan(tuple(r.name for r in matched), branches, tuple(order),
                    any(t is not None and t.may_drop for t in groups))
        self._plans[matched_bits] = plan
        return plan

    def dispatch(self, event: Event) -> list[tuple[Event, tuple[str, ...]]]:
        """Return each variant of ``event`` with the sinks that receive it (drops removed)."""
        out: list[tuple[Event, tuple[str, ...]]] = []
        for transform, sinks in self.plan(event).branches:
            variant = event if transform is None else transform(event)
            if variant is not None:
                out.append((variant, sinks))
        return out

    def route(self, event: Event) -> tuple[str, ...]:
        """Return the sink names ``event`` reaches, in route order, without duplicates."""
        plan = self.plan(event)
        if not plan.may_drop:
            return plan.sinks
        kept = {s for _, sinks in self.dispatch(event) for s in sinks}
        return tuple(s for s in plan.sinks if s in kept)

    # ----------------------------------------------------------------- explain
    def explain(self, event: Event) -> list[RouteExplanation]:
        """Evaluate every route without the cache and say why each matched or not."""
        out: list[RouteExplanation] = []
        stopped_by = ""
        any_match = False
        everything = sorted([*self.routes, *self.disabled], key=lambda r: r.index)
        for r in everything:
            desc = r.transform.desc if r.transform else ""
            if not r.enabled:
                out.append(RouteExplanation(r.name, "disabled", "enabled: false", r.to, desc, r.where))
                continue
            try:
                ok = r.predicate(event)
                why = "" if ok or r.cond is None else r.cond.why_not(event)
            except Exception as exc:  # see plan(): a field of a type no rule expects
                ok, why = False, f"a condition could not be evaluated ({type(exc).__name__}: {exc}); taken as not matching"
            if stopped_by:
                status = "shadowed" if ok else "not-evaluated"
                reason = (f"would match, but route {stopped_by!r} matched first and does not continue" if ok
                          else f"not reached (route {stopped_by!r} matched first); {why}")
            elif ok:
                any_match = True
                status, reason = "matched", ("matched; continue: true" if r.cont else "matched")
                if not r.cont:
                    stopped_by = r.name
            else:
                status, reason = "failed", why
            out.append(RouteExplanation(r.name, status, reason, r.to, desc, r.where))
        if self.default is not None:
            d = self.default
            desc = d.transform.desc if d.transform else ""
            if any_match:
                out.append(RouteExplanation(d.name, "default-unused", "not used: another route matched", d.to, desc, d.where))
            else:
                out.append(RouteExplanation(d.name, "default-used", "no other route matched", d.to, desc, d.where))
        return out


def _shadow_warnings(routes: list[Route], default: Route | None, raw: dict[int, Any]) -> list[Problem]:
    out: list[Problem] = []
    seen: dict[bytes, Route] = {}
    catch_all: Route | None = None
    for r in routes:
        def warn(msg: str) -> None:
            out.append(Problem(r.where[0], r.where[1], f"routes[{r.index}]", msg))

        if catch_all is not None:
            warn(f"route {r.name!r} is never reached: route {catch_all.name!r} "
                 f"({catch_all.where[0]}:{catch_all.where[1]}) before it matches every event and does not continue")
            continue
        key = orjson.dumps(raw.get(r.index) or {}, option=orjson.OPT_SORT_KEYS, default=str)
        twin = seen.get(key)
        if twin is not None:
            warn(f"route {r.name!r} is never reached: route {twin.name!r} ({twin.where[0]}:{twin.where[1]}) "
                 f"has the same conditions and does not continue")
        if r.cont:
            continue
        if r.cond is not None and r.cond.always:
            catch_all = r
        seen.setdefault(key, r)
    if default is not None and raw.get(default.index):
        out.append(Problem(default.where[0], default.where[1], f"routes[{default.index}].when",
                           "route 'default' takes every event no other route matched; its 'when' is ignored"))
    if default is not None and catch_all is not None:
        out.append(Problem(default.where[0], default.where[1], f"routes[{default.index}]",
                           f"route 'default' is never used: route {catch_all.name!r} matches every event"))
    return out


def compile_routes(routes: list[dict[str, Any]], sinks: set[str], smap: SourceMap, problems: list[Problem],
                   disabled_sinks: set[str] = frozenset(), warnings: list[Problem] | None = None) -> Router:  # type: ignore[assignment]
    """Compile validated route dicts; every problem names the file, line and route.

    :param sinks: enabled sink names; a route may also name a disabled sink (it gets nothing).
    :param warnings: receives shadowed-route warnings (also kept in ``Router.warnings``).
    """
    errors: list[tuple[tuple[object, ...], str]] = []
    conds = CondCompiler(errors)
    transforms = TransformCompiler(errors)
    compiled: list[Route] = []
    disabled: list[Route] = []
    default: Route | None = None
    names: dict[str, int] = {}
    raw_when: dict[int, Any] = {}
    found: list[Problem] = []
    template_notes: list[Problem] = []
    for i, r in enumerate(routes):
        name = str(r.get("name", f"#{i}"))
        base = ("routes", i)
        where = smap.where(base)
        if name in names and not name.startswith("#"):
            first = smap.where(("routes", names[name]))
            found.append(smap.problem(base + ("name",), f"route {name!r} is already defined at {first[0]}:{first[1]}"))
        names.setdefault(name, i)
        for j, target in enumerate(r.get("to") or []):
            if target not in sinks and target not in disabled_sinks:
                close = difflib.get_close_matches(target, sorted(sinks | set(disabled_sinks)), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else (f" (defined sinks: {', '.join(sorted(sinks))})" if sinks else "")
                found.append(smap.problem(base + ("to", j), f"route {name!r} sends to sink {target!r}, which is not defined{hint}"))
        del errors[:]
        cond = conds.compile(r.get("when") or {}, ())
        for rel, msg in errors:
            found.append(smap.problem(base + ("when",) + rel, f"route {name!r}: {msg}"))
        del errors[:]
        del transforms.warnings[:]
        transform = transforms.compile(r.get("transforms"), ())
        for rel, msg in errors:
            found.append(smap.problem(base + ("transforms",) + rel, f"route {name!r}: {msg}"))
        template_notes.extend(smap.problem(base + ("transforms",) + rel, f"route {name!r}: {msg}")
                              for rel, msg in transforms.warnings)
        to = tuple(dict.fromkeys(t for t in (r.get("to") or []) if t in sinks))
        enabled = bool(r.get("enabled", True))
        route = Route(name, cond.test, to, bool(r.get("continue")), transform, cond, i, where, enabled)
        raw_when[i] = r.get("when") or {}
        if not enabled:
            disabled.append(route)
        elif name == "default":
            if default is not None:
                found.append(smap.problem(base + ("name",), "there can be only one route named 'default'"))
            default = route
        else:
            compiled.append(route)
    problems.extend(found)
    notes = template_notes + _shadow_warnings(compiled, default, raw_when)
    if warnings is not None:
        warnings.extend(notes)
    return Router(compiled, default, disabled=disabled, warnings=notes)
