"""Copy-on-write edits of an :class:`~agent.model.Event` by dotted path, and ``{{ path }}`` templates.

Transforms build a variant of an event for some sinks while other sinks receive the
original, so nothing here modifies a mapping it did not copy first: an edit copies
the mappings along its path and leaves every other nested object shared.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable

import orjson

from agent.model import Event, format_time

__all__ = ["copy_event", "render", "placeholders", "set_nested", "lookup", "del_nested", "step"]

_FIELDS = tuple(Event.__dataclass_fields__)
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][\w.\-]*)\s*\}\}")


def copy_event(ev: Event) -> Event:
    """Return a shallow copy: same nested objects, which transforms copy on write."""
    return Event(*[getattr(ev, f) for f in _FIELDS])




def placeholders(template: str) -> list[str]:
    """Return the field paths a template refers to (``{{ repository.name }}``)."""
    return _TEMPLATE.findall(template)


def render(template: str, *, require_all: bool = False) -> Callable[[Event], str | None] | None:
    """Compile ``"[{{ source }}] {{ title }}"``; ``None`` when the text has no placeholder.

    :param require_all: the compiled function returns ``None`` when a placeholder's field
        is missing or empty (a tag ``repo:`` with no repository name means nothing).
    """
    parts = _TEMPLATE.split(template)
    if len(parts) == 1:
        return None
    literals, paths = parts[0::2], parts[1::2]

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, datetime):
            return format_time(value)
        if isinstance(value, (dict, list)):
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
        return str(value)

    def render(ev: Event) -> str | None:
        out = [literals[0]]
        for path, lit in zip(paths, literals[1:]):
            value = text(ev.get(path))
            if require_all and not value:
                return None
            out.append(value)
            out.append(lit)
        return "".join(out)

    return render


def step(action: Callable[[Event], Any]) -> Callable[[Event], bool]:
    """Wrap an action that edits the event into a step that keeps it."""

    def run(ev: Event) -> bool:
        action(ev)
        return True

    return run


def set_nested(ev: Event, head: str, steps: list[str], value: Any) -> None:
    root = getattr(ev, head)
    root = dict(root) if isinstance(root, dict) else {}
    cur = root
    for s in steps[:-1]:
        nxt = cur.get(s)
        nxt = dict(nxt) if isinstance(nxt, dict) else {}
        cur[s] = nxt
        cur = nxt
    cur[steps[-1]] = value
    setattr(ev, head, root)


def lookup(ev: Event, head: str, steps: list[str]) -> tuple[bool, Any]:
    cur = getattr(ev, head)
    for s in steps:
        if not isinstance(cur, dict) or s not in cur:
            return False, None
        cur = cur[s]
    return True, cur


def del_nested(ev: Event, head: str, steps: list[str]) -> bool:
    found, _ = lookup(ev, head, steps)
    if not found:
        return False
    root = dict(getattr(ev, head))
    cur = root
    for s in steps[:-1]:
        cur[s] = dict(cur[s])
        cur = cur[s]
    del cur[steps[-1]]
    setattr(ev, head, root)
    return True
