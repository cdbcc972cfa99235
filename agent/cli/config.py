"""``siemrelay config``: what the agent made of its configuration, and its JSON Schema.

``--effective`` prints the configuration as the agent runs it: the main file, its
includes and ``routes.d/`` merged, every default filled in, each value followed by
the file and line it came from (``# default`` when no file set it), secrets masked.
``--json-schema`` prints the JSON Schema editors use to complete and check keys.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import yaml

from agent.cli.command import Command
from agent.cli.common import EXIT_CONFIG, add_config, load_validated

if TYPE_CHECKING:
    from agent.logging import Redactor

__all__ = ["COMMANDS", "effective_yaml"]

Path_t = tuple[Any, ...]
MASK = "***"
#: Keys masked in every section whatever their plugin declares (the agent's default secret keys).
ALWAYS_SECRET = frozenset({"token", "secret", "password", "read_token"})


def _arguments(p: argparse.ArgumentParser) -> None:
    add_config(p)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--effective", action="store_true",
                      help="print the merged configuration, defaults filled in, with the file and line of each value")
    what.add_argument("--json-schema", action="store_true",
                      help="print the JSON Schema of the configuration (for editors with the YAML language server)")
    p.add_argument("-o", "--output", metavar="FILE", help="with --json-schema: write it to FILE instead of stdout")


def config(args: argparse.Namespace, redactor: Redactor) -> int:
    """``--effective`` or ``--json-schema``."""
    if args.json_schema:
        return _json_schema(args)
    loaded = load_validated(args, redactor)
    if isinstance(loaded, int):
        return loaded
    cfg, _ = loaded
    secret_keys: dict[Path_t, frozenset[str]] = {}
    for section, comps in (("sources", cfg.sources), ("sinks", cfg.sinks)):
        for name, (ct, _conf) in comps.items():
            secret_keys[(section, name)] = frozenset(getattr(ct.cls, "SECRET_KEYS", ()) or ()) | ALWAYS_SECRET
    doc = {"agent": cfg.agent, "sources": {n: c for n, (_, c) in cfg.sources.items()},
           "decoders": cfg.decoders, "sinks": {n: c for n, (_, c) in cfg.sinks.items()}, "routes": cfg.routes}
    base = Path(cfg.loaded.path).resolve().parent
    files = ", ".join(_short(str(f), base) for f in cfg.loaded.files)
    sys.stdout.write(f"# effective configuration of {cfg.loaded.path} (files read: {files})\n"
                     "# each value: the file and line that set it, or `default`; secrets masked as ***\n")
    sys.stdout.write(effective_yaml(doc, cfg.loaded.smap.marks, base, redactor, secret_keys))
    return 0


def _json_schema(args: argparse.Namespace) -> int:
    from agent.config.jsonschema import schema_json
    from agent.plugins import load_plugins

    text = schema_json(load_plugins())
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"siemrelay: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"wrote {args.output}")
    return 0


def _short(file: str, base: Path) -> str:
    """A file named relative to the main file's directory when it lies under it."""
    try:
        return os.path.relpath(Path(file).resolve(), base) if Path(file).resolve().is_relative_to(base) else file
    except (OSError, ValueError):
        return file


def _scalar(value: object) -> str:
    """One value as inline YAML on one line (flow style), whatever characters its strings hold."""
    if isinstance(value, str) and not _one_line(value):
        return _double_quoted(value)
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_scalar(v)}" for k, v in value.items()) + "}"
    return yaml.safe_dump([value], default_flow_style=True, width=1 << 20, allow_unicode=True).strip()[1:-1]


def _one_line(text: str) -> bool:
    """True when PyYAML writes ``text`` on one line and reads it back unchanged."""
    return text.isprintable() and "\ufeff" not in text


def _double_quoted(text: str) -> str:
    """A YAML double-quoted scalar: printable characters as they are, the rest as \\u or \\U escapes."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif c.isprintable() and c != "\ufeff":
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def effective_yaml(doc: dict[str, Any], marks: dict[Path_t, tuple[str, int]], base: Path, redact: Callable[[str], str],
                   secret_keys: dict[Path_t, frozenset[str]]) -> str:
    """``doc`` as YAML, each line ending with ``# file:line`` (from ``marks``) or ``# default``.

    :param secret_keys: per component path (``("sinks", "splunk")``), the keys whose
        values are masked; other strings still pass through ``redact`` (interpolated
        secrets, credentials in URLs).
    """
    lines: list[str] = []

    def where(path: Path_t) -> str:
        mark = marks.get(path)
        return f"  # {_short(mark[0], base)}:{mark[1]}" if mark else "  # default"

    def secret(path: Path_t) -> bool:
        keys = secret_keys.get(path[:2], ALWAYS_SECRET)
        return bool(path) and isinstance(path[-1], str) and path[-1] in keys

    def leaf(value: object, path: Path_t) -> str:
        if isinstance(value, str) and value and secret(path):
            return _scalar(MASK)
        if isinstance(value, list):
            return _scalar([redact(v) if isinstance(v, str) else v for v in value]) if not secret(path) else _scalar(MASK)
        return _scalar(redact(value) if isinstance(value, str) else value)

    def mapping(value: dict[Any, Any], path: Path_t, indent: str) -> None:
        for key, v in value.items():
            p = path + (key,)
            k = _scalar(key)
            if isinstance(v, dict) and v:
                lines.append(f"{indent}{k}:{where(p)}")
                mapping(v, p, indent + "  ")
            elif isinstance(v, list) and v and any(isinstance(i, dict) for i in v):
                lines.append(f"{indent}{k}:{where(p)}")
                sequence(v, p, indent + "  ")
            else:
                lines.append(f"{indent}{k}: {leaf(v, p)}{where(p)}")

    def sequence(value: list[Any], path: Path_t, indent: str) -> None:
        for i, item in enumerate(value):
            p = path + (i,)
            if isinstance(item, dict) and item:
                start = len(lines)
                mapping(item, p, indent + "  ")
                lines[start] = f"{indent}- " + lines[start][len(indent) + 2:]
            else:
                lines.append(f"{indent}- {leaf(item, p)}{where(p)}")

    mapping(doc, (), "")
    return "\n".join(lines) + "\n"


COMMANDS = (
    Command("config", "print the effective configuration (merged, defaults filled, file:line per value) or its JSON Schema",
            "--effective loads the configuration as start-up does (includes and routes.d/ merged, ${VAR} "
            "interpolated, every default filled in) and prints it as YAML, each value followed by the file and "
            "line that set it or `default`; secrets are masked. --json-schema prints the JSON Schema of the "
            "configuration, generated from the same schemas as validate, for editors with the YAML language "
            "server (first line of the file: # yaml-language-server: $schema=./siemrelay.schema.json).",
            ("siemrelay config --effective -c /etc/siemrelay/siemrelay.yaml",
             "siemrelay config --json-schema -o /etc/siemrelay/siemrelay.schema.json"),
            _arguments, config),
)
