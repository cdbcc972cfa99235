"""Load the YAML configuration: line tracking, includes, ``routes.d/``, ``${VAR}``.

The loaded document is plain dicts and lists, with a :class:`SourceMap` beside it that
knows for every key path the file and line it came from, so that validation errors
can say ``/etc/siemrelay/siemrelay.yaml:42: sinks.siem.retry.max_attempts: ...``.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from agent.errors import ConfigError, Problem

__all__ = ["SourceMap", "LoadedConfig", "load_config", "load_yaml_text", "interpolate"]

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


_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str], smap: SourceMap, path: Path_t = (),
                problems: list[Problem] | None = None, secrets: set[str] | None = None) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string; ``$${`` is a literal ``${``.

    Values taken from the environment are added to ``secrets`` (they are how secrets
    get in, so every log line redacts them). An unset variable without a default is
    a problem at that key's line.
    """
    if problems is None:
        problems = []
    if isinstance(value, dict):
        return {k: interpolate(v, env, smap, path + (k,), problems, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, smap, path + (i,), problems, secrets) for i, v in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        name, default = m.group(1), m.group(2)
        if name in env and env[name] != "":
            if secrets is not None and len(env[name]) >= 4:
                secrets.add(env[name])
            return env[name]
        if default is not None:
            return default
        problems.append(smap.problem(path, f"environment variable {name} is not set and has no default (write ${{{name}:-default}} to give one)"))
        return ""

    return _VAR.sub(repl, value)


@dataclass(slots=True)
class LoadedConfig:
    """The merged, interpolated (not yet validated) document and where each key came from."""

    path: Path
    data: dict[str, Any]
    smap: SourceMap
    files: list[Path]
    secrets: set[str]


def _read(path: Path) -> tuple[Any, SourceMap]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Problem(str(path), 0, "", "file not found")) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(str(path), 0, "", f"not UTF-8 text (byte {exc.start})")) from None
    except OSError as exc:
        raise ConfigError(Problem(str(path), 0, "", f"cannot read: {exc.strerror}")) from None
    return load_yaml_text(text, str(path))


_MERGED_SECTIONS = ("sources", "sinks")


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read the main file, its ``include:`` files and ``routes.d/``, and interpolate.

    Merge rules: ``sources`` and ``sinks`` are merged by name (a name defined twice is an
    error naming both files); ``routes`` are concatenated: the main file's, then each
    include's in order, then ``routes.d/*.yaml`` in file-name order; ``agent`` comes only
    from the main file.

    :raises ConfigError: with every problem found.
    """
    env = os.environ if env is None else env
    main = Path(path)
    data, smap = _read(main)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(Problem(str(main), 1, "", f"the configuration must be a mapping of sections (agent, sources, sinks, routes), found a {type(data).__name__}"))
    problems: list[Problem] = []
    files = [main]
    merged: dict[str, Any] = dict(data)

    def merge(extra_path: Path, allowed: tuple[str, ...]) -> None:
        try:
            extra, emap = _read(extra_path)
        except ConfigError as exc:
            problems.extend(exc.problems)
            return
        files.append(extra_path)
        if extra is None:
            return
        if not isinstance(extra, dict):
            problems.append(Problem(str(extra_path), 1, "", "an included file must be a mapping"))
            return
        for key, value in extra.items():
            if key not in allowed:
                problems.append(emap.problem((key,), f"section {key!r} is not allowed in an included file (allowed: {', '.join(allowed)})"))
                continue
            if key == "routes":
                if not isinstance(value, list):
                    problems.append(emap.problem((key,), f"expected a list of routes, found {type(value).__name__}"))
                    continue
                base = merged.setdefault("routes", [])
                if not isinstance(base, list):
                    continue
                offset = len(base)
                base.extend(value)
                for p, mark in emap.marks.items():
                    if p[:1] == ("routes",) and len(p) > 1 and isinstance(p[1], int):
                        smap.marks[("routes", p[1] + offset) + p[2:]] = mark
                continue
            if not isinstance(value, dict):
                problems.append(emap.problem((key,), f"expected a mapping of names, found {type(value).__name__}"))
                continue
            section = merged.setdefault(key, {})
            if section is None:
                section = merged[key] = {}
            for name, body in value.items():
                if name in section:
                    first = smap.where((key, name))
                    problems.append(emap.problem((key, name), f"{key[:-1]} {name!r} is already defined at {first[0]}:{first[1]}"))
                    continue
                section[name] = body
                for p, mark in emap.marks.items():
                    if p[:2] == (key, name):
                        smap.marks[p] = mark

    includes = merged.pop("include", None) or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        problems.append(smap.problem(("include",), "expected a list of file paths or globs"))
        includes = []
    for i, pattern in enumerate(includes):
        if not isinstance(pattern, str):
            problems.append(smap.problem(("include", i), f"expected a file path, found {type(pattern).__name__}"))
            continue
        full = pattern if os.path.isabs(pattern) else str(main.parent / pattern)
        matches = sorted(glob.glob(full))
        if not matches and not glob.has_magic(full):
            problems.append(smap.problem(("include", i), f"included file {full} not found"))
        for m in matches:
            merge(Path(m), ("sources", "sinks", "routes"))

    agent_section = merged.get("agent") if isinstance(merged.get("agent"), dict) else {}
    routes_dir = agent_section.get("routes_dir", "routes.d") if isinstance(agent_section, dict) else "routes.d"
    if isinstance(routes_dir, str) and "${" in routes_dir:  # read before the rest is interpolated
        routes_dir = interpolate(routes_dir, env, smap, ("agent", "routes_dir"), problems, set())
    if isinstance(routes_dir, str) and routes_dir:
        rdir = Path(routes_dir) if os.path.isabs(routes_dir) else main.parent / routes_dir
        if rdir.is_dir():
            for f in sorted([*rdir.glob("*.yaml"), *rdir.glob("*.yml")], key=lambda f: f.name):
                merge(f, ("routes",))
        elif isinstance(agent_section, dict) and "routes_dir" in agent_section:  # a directory the user named must exist
            problems.append(smap.problem(("agent", "routes_dir"), f"routes directory {rdir} "
                                         + ("is not a directory" if rdir.exists() else "not found")))
    if problems:
        raise ConfigError(problems)

    secrets: set[str] = set()
    merged = interpolate(merged, env, smap, (), problems, secrets)
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(path=main, data=merged, smap=smap, files=files, secrets=secrets)
