"""Thresholds and shorthands of route conditions: ``">= high"``, ``"70..89"``, globs.

Parsed once at load time; a threshold of the wrong type (``severity: ">= 7"``,
``score: ">= high"``) raises :class:`ValueError` with what was expected, which the
condition compiler turns into an error naming the file, line and route.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Callable

from agent.model import Severity, severity_from_name

__all__ = ["parse_threshold", "parse_severity_threshold", "severity_id", "SCORE", "CMP", "kind", "is_number", "globber"]

_THRESHOLD = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)?\s*([A-Za-z]+|\d)\s*$")
CMP: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b,
    "==": lambda a, b: a == b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}


def severity_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"expected a severity name (unknown, info, low, medium, high, critical), found {kind(value)}")
    sev = severity_from_name(value)
    if sev is Severity.UNKNOWN and str(value).strip().lower() not in ("unknown", "0"):
        raise ValueError(f"unknown severity {value!r} (expected one of unknown, info, low, medium, high, critical)")
    return int(sev)


def parse_threshold(text: object) -> Callable[[int], bool]:
    """Parse ``">= high"``, ``"critical"`` (exact) or ``3`` into a test on a severity id.

    :raises ValueError: for anything else, with what was expected.
    """
    op, sid = parse_severity_threshold(text)
    cmp = CMP[op]
    return lambda value: cmp(value, sid)


def parse_severity_threshold(text: object) -> tuple[str, int]:
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str):
        raise ValueError(f"expected a severity such as \">= high\", found {kind(text)}")
    m = _THRESHOLD.match(text)
    if not m:
        raise ValueError(f"expected a severity such as \">= high\" or \"critical\", found {text!r}")
    return m.group(1) or "==", severity_id(m.group(2))


SCORE = re.compile(r"^\s*(?:(>=|<=|==|!=|>|<|=)\s*(-?\d+(?:\.\d+)?)|(-?\d+(?:\.\d+)?)\s*(?:\.\.|-)\s*(-?\d+(?:\.\d+)?))\s*$")


def kind(value: object) -> str:
    name = {"str": "string", "int": "integer", "float": "number", "bool": "true/false", "dict": "mapping",
            "list": "list", "NoneType": "nothing"}.get(type(value).__name__, type(value).__name__)
    return name if isinstance(value, (dict, list)) or value is None else f"{name} {value!r}"


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def globber(spec: object, what: str) -> tuple[Callable[[object], bool], bool]:
    """A matcher of strings against globs; returns (matcher, matches-everything)."""
    given: list[object] = spec if isinstance(spec, list) else [spec]
    items = [i for i in given if isinstance(i, str)]
    if not items or len(items) != len(given):
        raise ValueError(f"{what}: expected a string, a glob or a list of them, found {kind(spec)}")
    if "*" in items:
        return (lambda value: True), True
    exact = frozenset(i for i in items if not any(c in i for c in "*?["))
    globs = [re.compile(fnmatch.translate(i)).match for i in items if i not in exact]
    if not globs:
        return (lambda value: isinstance(value, str) and value in exact), False
    if len(globs) == 1 and not exact:
        g = globs[0]
        return (lambda value: isinstance(value, str) and g(value) is not None), False
    return (lambda value: isinstance(value, str) and (value in exact or any(g(value) for g in globs))), False
