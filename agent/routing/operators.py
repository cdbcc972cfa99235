"""The operators of route conditions (``eq``, ``regex``, ``<``, ...) as closures.

Each operator checks its argument once, at load time (a bad regex or a list where a
number belongs is a configuration error), and returns a predicate that never raises
at run time: a value of the wrong type, or a missing value, simply does not match
(except ``ne``, ``not_in`` and ``exists: false``, which a missing value satisfies).
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from typing import Any, Callable

from agent.model import Event

__all__ = ["build_op"]

Getter = Callable[[Event], Any]
Test = Callable[[Event], bool]


def _kind(value: object) -> str:
    name = {"str": "string", "int": "integer", "float": "number", "bool": "true/false", "dict": "mapping",
            "list": "list", "NoneType": "nothing"}.get(type(value).__name__, type(value).__name__)
    return name if isinstance(value, (dict, list)) or value is None else f"{name} {value!r}"


def _comparable(arg: object) -> bool:
    return isinstance(arg, (int, float, str, datetime)) and not isinstance(arg, bool)


def _same_kind(value: object, arg: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(arg, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(arg))


def _string_test(arg: object, op: str) -> Callable[[str], bool]:
    given: list[object] = arg if isinstance(arg, list) else [arg]
    items = [i for i in given if isinstance(i, str)]
    if not items or len(items) != len(given):
        raise ValueError(f"'{op}' expects a string or a list of strings, found {_kind(arg)}")
    if op == "glob":
        pats = [re.compile(fnmatch.translate(i)).match for i in items]
    else:
        pats = []
        for i in items:
            try:
                pats.append(re.compile(i).search)
            except re.error as exc:
                raise ValueError(f"bad regex {i!r}: {exc}") from None
    if len(pats) == 1:
        p = pats[0]
        return lambda s: p(s) is not None
    return lambda s: any(p(s) is not None for p in pats)


def _on_strings(get: Getter, match: Callable[[str], bool]) -> Test:
    """Apply a string matcher to a string, a number's text, or any item of a list."""

    def test(ev: Event) -> bool:
        v = get(ev)
        if isinstance(v, str):
            return match(v)
        if isinstance(v, list):
            return any(match(i) for i in v if isinstance(i, str))
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return match(str(v))
        return False

    return test


def build_op(get: Getter, op: str, arg: object) -> Test:
    """Return the predicate ``get(event) <op> arg``.

    :raises ValueError: the argument does not suit the operator.
    """
    if op == "eq":
        return lambda ev: get(ev) == arg
    if op == "ne":
        return lambda ev: get(ev) != arg
    if op in ("in", "not_in"):
        if not isinstance(arg, list):
            raise ValueError(f"'{op}' expects a list, found {_kind(arg)}")
        try:
            pool: Any = frozenset(arg)
        except TypeError:
            pool = list(arg)

        def isin(ev: Event) -> bool:
            try:
                return get(ev) in pool
            except TypeError:  # an unhashable value (a mapping) is in no list of scalars
                return False

        if op == "in":
            return isin
        return lambda ev: not isin(ev)
    if op in ("glob", "regex"):
        return _on_strings(get, _string_test(arg, op))
    if op == "exists":
        if not isinstance(arg, bool):
            raise ValueError(f"'exists' expects true or false, found {_kind(arg)}")
        if arg:
            return lambda ev: get(ev) is not None
        return lambda ev: get(ev) is None
    if op == "contains":
        if isinstance(arg, (dict, list)) or arg is None:
            raise ValueError(f"'contains' expects a single value, found {_kind(arg)}")

        def contains(ev: Event) -> bool:
            v = get(ev)
            if isinstance(v, list):
                return arg in v
            if isinstance(v, str) and isinstance(arg, str):
                return arg in v
            if isinstance(v, dict):
                return arg in v
            return False

        return contains
    if op in ("<", "<=", ">", ">="):
        if not _comparable(arg):
            raise ValueError(f"'{op}' expects a number (or a string or time), found {_kind(arg)}")
        if op == "<":
            return lambda ev: _same_kind(v := get(ev), arg) and v < arg
        if op == "<=":
            return lambda ev: _same_kind(v := get(ev), arg) and v <= arg
        if op == ">":
            return lambda ev: _same_kind(v := get(ev), arg) and v > arg
        return lambda ev: _same_kind(v := get(ev), arg) and v >= arg
    raise ValueError(f"unknown operator {op!r}")
