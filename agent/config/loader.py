"""Load the YAML configuration: line tracking, includes, ``routes.d/``, ``${VAR}``.

The loaded document is plain dicts and lists, with a :class:`~agent.yamlsource.SourceMap`
(from :mod:`agent.yamlsource`) beside it that knows for every key path the file and line it came from, so that validation errors
can say ``/etc/siemrelay/siemrelay.yaml:42: sinks.siem.retry.max_attempts: ...``.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from agent.errors import ConfigError, Problem
from agent.yamlsource import Path_t, SourceMap, dotted, load_yaml_text

__all__ = ["Path_t", "SourceMap", "dotted", "LoadedConfig", "load_config", "load_yaml_text", "interpolate"]

_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: object, env: Mapping[str, str], smap: SourceMap, path: Path_t = (),
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
