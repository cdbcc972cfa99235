"""``siemrelay plugins`` and ``siemrelay describe``: what types exist and how to configure one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import argparse
import sys

from agent.cli.command import Command
from agent.cli.common import EXIT_CONFIG, dump_json

if TYPE_CHECKING:
    from agent.logging import Redactor

__all__ = ["COMMANDS"]


def _plugins_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--brief", action="store_true", help="types without their options")


def plugins(args: argparse.Namespace, redactor: Redactor) -> int:
    """Every plugin with its origin, its failures, and every type with its options."""
    from agent.config.reference import plugins_json, plugins_text
    from agent.plugins import load_plugins

    found = load_plugins()
    if args.json:
        dump_json(plugins_json(found))
    else:
        sys.stdout.write(plugins_text(found, options=not args.brief))
    return 0


def _describe_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=["source", "decoder", "sink", "in", "out"], help="what the type is (in = source, out = sink)")
    action = p.add_argument("type_name", metavar="TYPE", help="the type's name, as in `type:` (e.g. splunk_hec)")
    setattr(action, "completer", _type_names)  # argcomplete: `siemrelay describe sink <TAB>` lists the sink types


def _type_names(prefix: str, parsed_args: argparse.Namespace, **_: object) -> list[str]:
    """The registered type names of the kind already typed, for shell completion."""
    from agent.plugins import load_plugins

    kind = {"in": "source", "out": "sink"}.get(parsed_args.kind, parsed_args.kind)
    return [n for n in load_plugins().registry.names(kind) if n.startswith(prefix)]


def describe(args: argparse.Namespace, redactor: Redactor) -> int:
    """One type's options table and a commented example block."""
    from agent.config.reference import describe_type
    from agent.plugins import load_plugins

    kind = {"in": "source", "out": "sink"}.get(args.kind, args.kind)
    found = load_plugins()
    found.import_all()  # a type that cannot be imported is then unknown here, and listed by `siemrelay plugins`
    ct = found.registry.get(kind, args.type_name)
    if ct is None:
        known = ", ".join(found.registry.names(kind))
        print(f"siemrelay: unknown {kind} type {args.type_name!r} (known: {known})", file=sys.stderr)
        return EXIT_CONFIG
    sys.stdout.write(describe_type(ct, found))
    return 0


COMMANDS = (
    Command("plugins", "list plugins (version, origin, what they provide, failures) and every type with its options",
            "List the built-in and installed plugins (entry-point group siemrelay) with their version and origin, "
            "the plugins that failed to load and why, then every source, decoder and sink type with its options, "
            "defaults and descriptions.",
            ("siemrelay plugins --brief", "siemrelay plugins --json | jq '.types[].name'"),
            _plugins_arguments, plugins),
    Command("describe", "show one type's options as a table and an example block",
            "Print one source, decoder or sink type's options (key, type, default, description) and an example "
            "block to paste into the configuration: required keys set (secrets as ${ENV} placeholders), every "
            "other key commented out at its default.",
            ("siemrelay describe sink splunk_hec", "siemrelay describe source http"),
            _describe_arguments, describe),
)
