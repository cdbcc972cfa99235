"""YAML with its source map: plain values, plus the file and line of every key path.

A shared basic: configuration loading (``agent.config.loader``), route rules and route
test files (``agent.routing``) all need an error to say
``/etc/siemrelay/siemrelay.yaml:42: sinks.siem.retry.max_attempts: ...``.

``yaml`` is imported when a document is first loaded: the preparing child needs the
:class:`SourceMap` its routes were compiled with, never a YAML parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError, Problem

if TYPE_CHECKING:
    import yaml

__all__ = ["Path_t", "SourceMap", "dotted", "load_yaml_text"]

Path_t = tuple[Any, ...]


@dataclass(slots=True)
class SourceMap:
    """Maps key paths (tuples of keys and list indexes) to ``(file, line)``."""

    marks: dict[Path_t, tuple[str, int]] = field(default_factory=dict)
    default_file: str = ""

    def where(self, path: Path_t) -> tuple[str, int]:
        """Return the file and line of ``path``, or of its nearest known ancestor."""
        p = tuple(path)
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), (self.default_file, 0))

    def problem(self, path: Path_t, message: str) -> Problem:
        file, line = self.where(path)
        return Problem(file, line, dotted(path), message)

    def update(self, other: "SourceMap", prefix: Path_t = (), shift: dict[int, int] | None = None) -> None:
        """Copy another map's marks under ``prefix``; ``shift`` renumbers list indexes at depth 0."""
        for path, mark in other.marks.items():
            if shift is not None and path and isinstance(path[0], int):
                path = (shift.get(path[0], path[0]),) + path[1:]
            self.marks[prefix + path] = mark


def dotted(path: Path_t) -> str:
    """``("sinks", "siem", "retry")`` → ``sinks.siem.retry``; ``("routes", 2)`` → ``routes[2]``."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += ("." if out else "") + str(step)
    return out


def load_yaml_text(text: str, filename: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain values and a :class:`SourceMap`.

    Duplicate keys are errors (YAML would silently keep the last one), and so is
    anything that is not a plain mapping, list or scalar.

    :raises ConfigError: on a syntax error, naming the line and column.
    """
    import yaml

    smap = SourceMap(default_file=filename)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, smap
        problems: list[Problem] = []
        value = _build(loader, node, (), smap, filename, problems, _Walk())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        col = f", column {mark.column + 1}" if mark else ""
        what = exc.problem or "syntax error"
        ctx = f" ({exc.context})" if exc.context else ""
        raise ConfigError(Problem(filename, line, "", f"invalid YAML{col}: {what}{ctx}")) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(filename, 0, "", f"invalid YAML: {exc}")) from None
    finally:
        loader.dispose()
    if problems:
        raise ConfigError(problems)
    return value, smap


class _Walk:
    """What one document's walk has seen: the alias chain being expanded (a node that
    contains itself, ``a: &x [*x]``, is an error rather than a RecursionError) and how
    many values aliases expanded to (a "billion laughs" document is refused)."""

    MAX_VALUES = 200_000

    def __init__(self) -> None:
        self.active: set[int] = set()
        self.values = 0
        self.too_big = False


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_t, smap: SourceMap,
           filename: str, problems: list[Problem], walk: _Walk) -> Any:
    import yaml  # imported by load_yaml_text already: a lookup

    smap.marks.setdefault(path, (filename, node.start_mark.line + 1))
    walk.values += 1
    if walk.values > walk.MAX_VALUES:
        if not walk.too_big:
            walk.too_big = True
            problems.append(Problem(filename, node.start_mark.line + 1, _d(path),
                                    f"the document expands to more than {walk.MAX_VALUES} values (through aliases?)"))
        return None
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in walk.active:
            problems.append(Problem(filename, node.start_mark.line + 1, _d(path),
                                    "an alias refers to a value that contains it (recursive YAML anchor)"))
            return None
        walk.active.add(id(node))
        try:
            return _build_collection(loader, node, path, smap, filename, problems, walk)
        finally:
            walk.active.discard(id(node))
    return loader.construct_object(node, deep=True)


def _build_collection(loader: yaml.SafeLoader, node: yaml.Node, path: Path_t, smap: SourceMap,
                      filename: str, problems: list[Problem], walk: _Walk) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                problems.append(Problem(filename, knode.start_mark.line + 1, _d(path), f"a key must be a plain string, found {type(key).__name__}"))
                continue
            if key in out:
                problems.append(Problem(filename, knode.start_mark.line + 1, _d(path + (key,)), "duplicate key (an earlier line sets it too)"))
                continue
            smap.marks[path + (key,)] = (filename, knode.start_mark.line + 1)
            out[key] = _build(loader, vnode, path + (key,), smap, filename, problems, walk)
        return out
    return [_build(loader, item, path + (i,), smap, filename, problems, walk) for i, item in enumerate(node.value)]


def _d(path: Path_t) -> str:
    return dotted(path)
