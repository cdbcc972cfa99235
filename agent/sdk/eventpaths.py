"""Copy-on-write edits of an :class:`~agent.model.Event` by dotted path (templates: :mod:`agent.sdk.template`).

Transforms build a variant of an event for some sinks while other sinks receive the
original, so nothing here modifies a mapping it did not copy first: an edit copies
the mappings along its path and leaves every other nested object shared.
"""

from __future__ import annotations

from typing import Any, Callable

from agent.model import Event

__all__ = ["copy_event", "set_nested", "find_in_event", "del_nested", "step"]

_FIELDS = tuple(Event.__dataclass_fields__)


def copy_event(ev: Event) -> Event:
    """Return a shallow copy: same nested objects, which transforms copy on write."""
    return Event(*[getattr(ev, f) for f in _FIELDS])


def step(action: Callable[[Event], Any]) -> Callable[[Event], bool]:
    """Wrap an action that edits the event into a step that keeps it."""

    def run(ev: Event) -> bool:
        action(ev)
        return True

    return run


def set_nested(ev: Event, head: str, steps: list[str], value: object) -> None:
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


def find_in_event(ev: Event, head: str, steps: list[str]) -> tuple[bool, Any]:
    cur = getattr(ev, head)
    for s in steps:
        if not isinstance(cur, dict) or s not in cur:
            return False, None
        cur = cur[s]
    return True, cur


def del_nested(ev: Event, head: str, steps: list[str]) -> bool:
    found, _ = find_in_event(ev, head, steps)
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
