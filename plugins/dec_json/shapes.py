"""Which payload key fills each guessed Event field, worked out once per payload shape.

The json decoder finds a field the user did not map by trying common names in order
(``id``, then ``event_id``, ``eventId``, ...). Trying every name on every event costs more
than the rest of the mapping, while the events of one sender share a handful of key sets.
So the names present in a key set are found once, kept as a :class:`Plan` per key set,
and an event only reads the keys its plan names. A value that is ``null`` or ``""`` still
falls through to the next name present, exactly as when every name is tried.
"""

from __future__ import annotations

from typing import Any, Mapping

#: Common names, tried in order, when the user gave no explicit path.
GUESS: dict[str, tuple[str, ...]] = {
    "id": ("id", "event_id", "eventId", "uuid", "_id"),
    "time": ("time", "timestamp", "@timestamp", "created_at", "date", "ts"),
    "type": ("type", "event_type", "eventType", "event"),
    "severity": ("severity", "level", "priority", "risk"),
    "score": ("score", "risk_score", "riskScore"),
    "title": ("title", "name", "summary", "message", "msg"),
    "description": ("description", "details", "detail"),
    "source": ("source", "vendor", "product"),
}

#: Key sets remembered per decoder; a sender whose keys never repeat (ids as keys) still
#: decodes correctly past this, each event working out its own plan.
MAX_SHAPES = 1024

#: How one field is read: the keys of this shape to try in order, or the user's dotted path.
Reader = tuple[str, ...] | str

#: Stands for "no key of this shape": a key no payload can hold, so ``obj.get`` gives ``None``.
_NO_KEY: Any = object()


class Plan:
    """How one key set fills the guessable fields (:data:`GUESS` order).

    A field with at most one candidate key in this shape is read by one ``dict.get``,
    all of them in one ``map`` call; only a field with several candidates (``vendor`` and
    ``product`` both present for ``source``) or a user path is read by :func:`read`.
    """

    __slots__ = ("readers", "_single", "_several")

    def __init__(self, readers: tuple[Reader, ...]) -> None:
        self.readers = readers
        self._single: tuple[str, ...] = tuple(r[0] if isinstance(r, tuple) and len(r) == 1 else _NO_KEY
                                              for r in readers)
        self._several = tuple(i for i, r in enumerate(readers) if isinstance(r, str) or len(r) > 1)

    def values(self, obj: Mapping[str, object]) -> list[Any]:
        """What each field reads in ``obj``: the same values as :func:`read` with each reader."""
        found = list(map(obj.get, self._single))
        if "" in found:  # read() passes over empty values: with one candidate, that leaves None
            found = [None if value == "" else value for value in found]
        for i in self._several:
            found[i] = read(obj, self.readers[i])
        return found


def dig(obj: object, path: str) -> object:
    """The value at a dotted path (``alert.uuid``, ``hits.0.id``); ``None`` where a step is missing."""
    for step in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(obj, list) and step.isdecimal() and len(step) < 10 and int(step) < len(obj):
            obj = obj[int(step)]
        else:
            return None
    return obj


def read(obj: Mapping[str, object], reader: Reader) -> Any:
    """What ``reader`` finds in ``obj``: the value at the user's path (as it is, even empty),
    or the first guessed key's value that is neither ``null`` nor ``""``."""
    if type(reader) is str:
        return dig(obj, reader)
    for key in reader:
        value = obj[key]
        if value is not None and value != "":
            return value
    return None


class Planner:
    """Plans by key set for one decoder's field map (explicit paths win over guesses)."""

    def __init__(self, fields: Mapping[str, str], limit: int = MAX_SHAPES) -> None:
        self._explicit = {name: path for name, path in fields.items() if name in GUESS}
        self._limit = limit
        self._plans: dict[tuple[str, ...], Plan] = {}

    def plan(self, obj: Mapping[str, object]) -> Plan:
        """The plan for ``obj``'s key set (the key order is part of the key: building a
        tuple is cheaper than a set, and one sender writes its keys in one order)."""
        shape = tuple(obj)
        found = self._plans.get(shape)
        if found is None:
            found = self._compile(shape)
            if len(self._plans) < self._limit:
                self._plans[shape] = found
        return found

    def _compile(self, shape: tuple[str, ...]) -> Plan:
        present = frozenset(shape)
        return Plan(tuple(self._explicit[name] if name in self._explicit
                          else tuple(key for key in names if key in present) for name, names in GUESS.items()))
