"""Per-route transforms: what a route changes before *its* sinks see the event.

A route's ``transforms:`` is an ordered list of steps, each a one-key mapping:
``drop``, ``set``, ``tag``, ``redact`` or ``rename``. They apply only to the sinks of
that route: ``redact: [raw]`` on the Slack route strips ``raw`` from what Slack gets
while the SIEM route still ships it. So one event can leave intake as more than one
*variant*; the router groups sinks by variant and intake serialises each variant once.

Transforms never modify the event they are given: they work on a copy whose nested
mappings are copied on write, so the other variants (and the original) are untouched.
"""

from __future__ import annotations

import difflib
from typing import Callable

import orjson

from agent.routing.conditions import CondCompiler, Errors
from agent.sdk.eventpaths import copy_event, del_nested, find_in_event, set_nested
from agent.sdk.eventpaths import step as keep
from agent.sdk.template import Template, TemplateError, parse_template
from agent.model import GROUPS, Event, Severity, severity_from_name

__all__ = ["Transform", "TransformCompiler", "STEPS", "copy_event"]

STEPS = ("drop", "set", "tag", "redact", "rename")
Step = Callable[[Event], bool]  # False means: drop the event

_FIELDS = tuple(Event.__dataclass_fields__)
_NESTED = frozenset({*GROUPS, "raw"})
_STRINGS = frozenset({"title", "description", "type", "vendor_type", "source"})
_REMOVABLE = {"title": "", "description": "", "vendor_type": "", "tags": None, "raw": None,
              **{g: None for g in GROUPS}}
_FIXED = frozenset({"id", "time", "received_at"})
_KNOWN_HEADS = frozenset({*_FIELDS, "severity"})


class Transform:
    """A compiled chain of steps; calling it returns a new event, or ``None`` if dropped."""

    __slots__ = ("steps", "desc", "may_drop")

    def __init__(self, steps: list[Step], desc: str, may_drop: bool = False) -> None:
        self.steps = tuple(steps)
        self.desc = desc
        self.may_drop = may_drop

    def __call__(self, ev: Event) -> Event | None:
        out = copy_event(ev)
        for stage in self.steps:
            if not stage(out):
                return None
        return out

    def __repr__(self) -> str:
        return f"Transform({self.desc})"


class TransformCompiler:
    """Compiles ``transforms:`` lists; equal lists compile to the same object (one variant).

    :ivar warnings: ``(path, message)`` of values that still work but should be rewritten
        (the deprecated single-brace placeholder), for ``validate`` and start-up to show.
    """

    def __init__(self, errors: Errors) -> None:
        self.errors = errors
        self.warnings: Errors = []
        self.conds = CondCompiler(errors)
        self._cache: dict[bytes, Transform] = {}

    def compile(self, spec: object, path: tuple[object, ...]) -> Transform | None:
        """Compile one route's list; ``None`` for an empty list (the event passes as is)."""
        if spec is None or spec == []:
            return None
        if not isinstance(spec, list):
            self.errors.append((path, f"expected a list of steps such as [{{redact: [raw]}}, {{tag: [paged]}}], "
                                      f"found {type(spec).__name__}"))
            return None
        before = len(self.errors)
        steps: list[Step] = []
        descs: list[str] = []
        for i, item in enumerate(spec):
            p = path + (i,)
            if not isinstance(item, dict) or len(item) != 1:
                self.errors.append((p, f"each step is a mapping with one key ({', '.join(STEPS)}), found {item!r}"))
                continue
            (kind, arg), = item.items()
            if kind not in STEPS:
                close = difflib.get_close_matches(str(kind), STEPS, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(STEPS)})"
                self.errors.append((p + (kind,), f"unknown transform {kind!r}{hint}"))
                continue
            made = getattr(self, "_" + kind)(arg, p + (kind,))
            if made is not None:
                steps.extend(made)
                descs.append(f"{kind} {arg!r}" if kind != "drop" or arg is True else f"drop when {arg!r}")
        if len(self.errors) > before or not steps:
            return None
        key = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS, default=str)
        cached = self._cache.get(key)
        if cached is None:
            may_drop = any(isinstance(item, dict) and item.get("drop", False) is not False for item in spec)
            cached = self._cache[key] = Transform(steps, "; ".join(descs), may_drop)
        return cached

    def _err(self, path: tuple[object, ...], msg: str) -> None:
        self.errors.append((path, msg))

    def _path(self, text: object, path: tuple[object, ...], verb: str) -> tuple[str, list[str]] | None:
        if not isinstance(text, str) or not text or text.startswith(".") or text.endswith(".") or ".." in text:
            self._err(path, f"{verb}: expected a dotted field path such as raw or asset.ip, found {text!r}")
            return None
        head, *steps = text.split(".")
        if head not in _KNOWN_HEADS:
            close = difflib.get_close_matches(head, sorted(_KNOWN_HEADS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self._err(path, f"{verb}: {text!r} is not an event field{hint}")
            return None
        if steps and head not in _NESTED:
            self._err(path, f"{verb}: {head} is not a mapping, so {text!r} cannot name a field inside it")
            return None
        return head, steps

    def _template(self, text: str, path: tuple[object, ...], verb: str) -> Template | None:
        """``text`` parsed as a template, or ``None`` (with the error recorded) when it is not one."""
        try:
            template = parse_template(text)
        except TemplateError as exc:
            self._err(path, f"{verb}: {exc}")
            return None
        if template.legacy:
            self.warnings.append((path, f"{verb}: the single-brace placeholder {text!r} is deprecated and stops "
                                        f"working in the next release; write {template.fixed!r}"))
        return template

    def _drop(self, arg: object, path: tuple[object, ...]) -> list[Step] | None:
        if arg is False:
            return []
        if arg is True:
            return [lambda ev: False]
        cond = self.conds.compile(arg, path)
        test = cond.test
        return [lambda ev: not test(ev)]

    def _set(self, arg: object, path: tuple[object, ...]) -> list[Step] | None:
        if not isinstance(arg, dict) or not arg:
            self._err(path, f"set: expected a mapping of field paths to values, found {arg!r}")
            return None
        return [s for key, value in arg.items() if (s := self._set_one(str(key), value, path + (key,))) is not None]

    def _set_one(self, key: str, value: object, path: tuple[object, ...]) -> Step | None:
        where = self._path(key, path, "set")
        if where is None:
            return None
        head, steps = where
        template = self._template(value, path, "set") if isinstance(value, str) else None
        if isinstance(value, str) and template is None:
            return None
        render = template.render_event if template is not None and not template.static else None
        if steps:
            if render is not None:
                return keep(lambda ev: set_nested(ev, head, steps, render(ev)))
            return keep(lambda ev: set_nested(ev, head, steps, value))
        if head in _FIXED:
            self._err(path, f"set: {head} cannot be changed (the id is the de-duplication key; times are facts)")
            return None
        if head in _STRINGS:
            if not isinstance(value, str) or not value and head in ("type", "source"):
                self._err(path, f"set: {head} expects a non-empty string, found {value!r}")
                return None
            if render is not None:
                return keep(lambda ev: setattr(ev, head, render(ev)))
            return keep(lambda ev: setattr(ev, head, value))
        if head in ("severity", "severity_id"):
            if isinstance(value, bool) or not isinstance(value, (str, int)) or (
                    severity_from_name(value) is Severity.UNKNOWN and str(value).lower() not in ("unknown", "0")):
                self._err(path, f"set: {head} expects a severity (info, low, medium, high, critical), found {value!r}")
                return None
            sid = int(severity_from_name(value))
            return keep(lambda ev: setattr(ev, "severity_id", sid))
        if head == "score":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                self._err(path, f"set: score expects a number from 0 to 100, found {value!r}")
                return None
            score = int(round(value))
            return keep(lambda ev: setattr(ev, "score", score))
        if head == "tags":
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                self._err(path, f"set: tags expects a list of strings, found {value!r}")
                return None
            tags = list(value)
            return keep(lambda ev: setattr(ev, "tags", list(tags)))
        if head in GROUPS and not isinstance(value, dict):
            self._err(path, f"set: {head} expects a mapping, found {value!r}")
            return None
        return keep(lambda ev: setattr(ev, head, value))

    def _tag(self, arg: object, path: tuple[object, ...]) -> list[Step] | None:
        items = [arg] if isinstance(arg, str) else arg
        if not isinstance(items, list) or not items or not all(isinstance(t, str) and t for t in items):
            self._err(path, f"tag: expected a tag or a list of tags, found {arg!r}")
            return None
        templates = [self._template(t, path, "tag") for t in items]
        if any(t is None for t in templates):
            return None
        # a tag whose placeholder is empty is left out: no "repo:" for an event without a repository
        renders = [(None if t.static else t.render_event_complete, text)
                   for t, text in zip(templates, items) if t is not None]

        def tag(ev: Event) -> bool:
            tags = list(ev.tags or ())
            for render, literal in renders:
                t = render(ev) if render is not None else literal
                if t and t not in tags:
                    tags.append(t)
            ev.tags = tags
            return True

        return [tag]

    def _redact(self, arg: object, path: tuple[object, ...]) -> list[Step] | None:
        mask: str | None = None
        fields = arg
        if isinstance(arg, dict):
            unknown = set(arg) - {"fields", "mask"}
            if unknown or "fields" not in arg:
                self._err(path, f"redact: expected a list of field paths, or {{fields: [...], mask: TEXT}}, found {arg!r}")
                return None
            fields, mask = arg["fields"], arg.get("mask", "***")
            if not isinstance(mask, str):
                self._err(path + ("mask",), f"redact: mask expects a string, found {mask!r}")
                return None
        if isinstance(fields, str):
            fields = [fields]
        if not isinstance(fields, list) or not fields:
            self._err(path, f"redact: expected a field path or a list of them, found {fields!r}")
            return None
        out: list[Step] = []
        for i, text in enumerate(fields):
            where = self._path(text, path + (i,), "redact")
            if where is None:
                continue
            head, steps = where
            if not steps and (head not in _REMOVABLE or mask is not None and head not in _STRINGS and head != "raw"):
                self._err(path + (i,), f"redact: {head} is a required field of every event and cannot be "
                                       f"{'masked' if mask is not None else 'removed'}")
                continue
            out.append(self._redact_one(head, steps, mask))
        return out

    @staticmethod
    def _redact_one(head: str, steps: list[str], mask: str | None) -> Step:
        if steps:
            if mask is None:
                return keep(lambda ev: del_nested(ev, head, steps))

            def masked(ev: Event) -> bool:
                if find_in_event(ev, head, steps)[0]:
                    set_nested(ev, head, steps, mask)
                return True

            return masked
        if mask is not None:
            def mask_top(ev: Event) -> bool:
                if getattr(ev, head) not in (None, ""):
                    setattr(ev, head, mask)
                return True

            return mask_top
        empty = _REMOVABLE[head]
        return keep(lambda ev: setattr(ev, head, [] if head == "tags" else empty))

    def _rename(self, arg: object, path: tuple[object, ...]) -> list[Step] | None:
        if not isinstance(arg, dict) or not arg:
            self._err(path, f"rename: expected a mapping of old path to new path, found {arg!r}")
            return None
        out: list[Step] = []
        for src, dst in arg.items():
            a = self._path(src, path + (src,), "rename")
            b = self._path(dst, path + (src,), "rename")
            if a is None or b is None:
                continue
            if not a[1] or not b[1]:
                self._err(path + (src,), "rename: both paths must name a field inside a mapping "
                                         "(such as raw.user or asset.hostname); to copy a top-level field use set "
                                         "with a template such as \"{{ title }}\"")
                continue
            out.append(self._move(a[0], a[1], b[0], b[1]))
        return out

    @staticmethod
    def _move(h1: str, s1: list[str], h2: str, s2: list[str]) -> Step:
        def move(ev: Event) -> bool:
            found, value = find_in_event(ev, h1, s1)
            if found:
                del_nested(ev, h1, s1)
                set_nested(ev, h2, s2, value)
            return True

        return move
