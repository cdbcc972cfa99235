"""The ``siemrelay`` command line.

Exit codes: 0 success, 1 runtime failure, 2 configuration or start-up error (a
user's mistake: one paragraph, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
from pathlib import Path
from typing import Any, Sequence

from agent.version import __version__

#: Modules that add subcommands: each has ``add_parsers(subparsers, add_config)`` that
#: calls ``subparsers.add_parser(...)`` and sets ``handler=cmd_function`` via
#: ``set_defaults``; a handler is ``cmd(args, redactor) -> int``.
COMMAND_MODULES: tuple[str, ...] = ("agent.cli.routes", "agent.cli.ops")

DEFAULT_CONFIG = os.environ.get("SIEMRELAY_CONFIG", "/etc/siemrelay/siemrelay.yaml")
EXIT_CONFIG = 2


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG,
                   help=f"configuration file (default: $SIEMRELAY_CONFIG or {DEFAULT_CONFIG})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="siemrelay", description="Collect security events, normalise them, forward them reliably.")
    parser.add_argument("--version", action="version", version=f"siemrelay {__version__}")
    _add_log_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run the agent until SIGTERM/SIGINT")
    _add_config(p)
    p.add_argument("--reset-spool", action="store_true",
                   help="if the spool database cannot be read, move it aside and start with an empty one")

    p = sub.add_parser("validate", help="check a configuration exactly as start-up does; exit 2 if invalid")
    _add_config(p)
    p.add_argument("--healthcheck", action="store_true", help="also probe every sink's destination")

    p = sub.add_parser("plugins", help="list plugins (version, origin, what they provide, failures) and every type with its options")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--brief", action="store_true", help="types without their options")

    p = sub.add_parser("describe", help="show one type's options as a table and an example block")
    p.add_argument("kind", choices=["source", "decoder", "sink", "in", "out"])
    p.add_argument("type_name")

    from agent.cli.delivery import add_deliveries_parser, add_dlq_parser, add_sinks_parser

    add_dlq_parser(sub, _add_config)
    add_deliveries_parser(sub, _add_config)

    for modname in COMMAND_MODULES:
        importlib.import_module(modname).add_parsers(sub, _add_config)
    if "sinks" not in sub.choices:  # an admin-API `sinks` command, when present, takes precedence
        add_sinks_parser(sub, _add_config)
    # `siemrelay run -c FILE --log-format json` as well as `siemrelay --log-format json run ...`;
    # SUPPRESS keeps a value given before the command when none is given after it
    for command_parser in _command_parsers(sub):
        _add_log_options(command_parser, default=argparse.SUPPRESS)
    return parser


def _command_parsers(sub: Any) -> list[argparse.ArgumentParser]:
    """Every (sub)command parser under ``sub``, nested ones (``dlq list``) included, once each."""
    found: list[argparse.ArgumentParser] = []
    for p in sub.choices.values():
        if any(p is q for q in found):
            continue  # an alias
        found.append(p)
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                found.extend(q for q in _command_parsers(action) if not any(q is r for r in found))
    return found


def _add_log_options(p: argparse.ArgumentParser, *, default: Any) -> None:
    p.add_argument("--log-format", choices=["auto", "text", "json"], default=default,
                   help="log format (default: agent.log_format; auto = text on a terminal, JSON otherwise)")
    p.add_argument("--log-level", choices=["trace", "debug", "info", "warning", "error"], default=default,
                   help="log level (default: agent.log_level)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    from agent.logging import Redactor, setup_logging

    redactor = Redactor()
    setup_logging(args.log_level or "info", args.log_format or "auto", redactor)
    handler = getattr(args, "handler", None) or globals()[f"cmd_{args.command}"]
    try:
        return int(handler(args, redactor) or 0)
    except KeyboardInterrupt:
        return 130


def _load(args: argparse.Namespace, redactor: Any, *, quiet: bool = False) -> tuple[Any, Any] | int:
    from agent.engine.build import validate_config
    from agent.config.loader import load_config
    from agent.errors import ConfigError
    from agent.plugins import load_plugins

    plugins = load_plugins()
    try:
        loaded = load_config(args.config)
        redactor.add(loaded.secrets)
        cfg = validate_config(loaded, plugins)
        redactor.add(cfg.secrets)
    except ConfigError as exc:
        print(f"siemrelay: {redactor(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    return cfg, plugins


def cmd_run(args: argparse.Namespace, redactor: Any) -> int:
    from loguru import logger

    from agent.errors import ConfigError
    from agent.logging import setup_logging
    from agent.engine.supervisor import StartupError, Supervisor, tune_garbage_collector

    loaded = _load(args, redactor)
    if isinstance(loaded, int):
        return loaded
    cfg, plugins = loaded
    problem = _check_state_dir(cfg.state_dir)
    if problem:
        print(f"siemrelay: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(args.log_level or cfg.agent["log_level"], args.log_format or cfg.agent["log_format"], redactor)
    for f in plugins.failures:
        logger.warning("plugin {} ({}) is disabled: {}", f.plugin, f.origin, f.error)
    tune_garbage_collector()
    sup = Supervisor(cfg, plugins, redactor, reset_spool=args.reset_spool)
    sup.install_signal_handlers()
    try:
        sup.start()
    except (StartupError, ConfigError) as exc:
        print(f"siemrelay: {redactor(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    sup.run_forever()
    leftovers = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    if leftovers:
        logger.error("threads still running after shutdown ({}); exiting anyway", ", ".join(t.name for t in leftovers))
        sys.stderr.flush()
        os._exit(0)
    return 0


def cmd_validate(args: argparse.Namespace, redactor: Any) -> int:
    from agent.engine.build import build_sinks, build_sources
    from agent.errors import ConfigError

    loaded = _load(args, redactor)
    if isinstance(loaded, int):
        return loaded
    cfg, plugins = loaded
    try:
        sinks = build_sinks(cfg, redactor)
        sources = build_sources(cfg, plugins, redactor)
    except ConfigError as exc:
        print(f"siemrelay: {redactor(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    problems = _check_state_dir(cfg.state_dir)
    if problems:
        print(f"siemrelay: {problems}", file=sys.stderr)
        return EXIT_CONFIG
    status = 0
    print(f"√ {cfg.loaded.path}: {_count(len(sources), 'source')}, {_count(len(sinks), 'sink')}, "
          f"{_count(len(cfg.routes), 'route')}")
    for f in plugins.failures:
        print(f"~ plugin {f.plugin} ({f.origin}) is disabled: {f.error}")
    for w in [*cfg.warnings, *getattr(cfg.router, "warnings", ())]:
        print(f"~ {w}")
    from agent.config.exposure import exposure_warnings

    for w in exposure_warnings(cfg):
        print(f"~ {redactor(w)}")
    if args.healthcheck:
        for name, sink in sinks.items():
            try:
                outcome = sink.healthcheck()
            except Exception as exc:
                from agent.sdk.outcome import Delivery

                outcome = Delivery.retry(f"health check raised {type(exc).__name__}: {exc}")
            mark = "√" if outcome.ok else "x"
            print(f"{mark} sink {name} ({sink.type_name}): {redactor(outcome.reason) or 'ok'}")
            if not outcome.ok:
                status = 1
    for sink in sinks.values():
        try:
            sink.close()
        except Exception:
            pass
    return status


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _check_state_dir(path: Path) -> str:
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        return f"state directory {path} is not writable by this user ({probe} is not writable)"
    if probe.exists() and not probe.is_dir():
        return f"state directory {path}: {probe} is not a directory"
    return ""


def cmd_plugins(args: argparse.Namespace, redactor: Any) -> int:
    from agent.config.reference import plugins_json, plugins_text
    from agent.plugins import load_plugins

    plugins = load_plugins()
    if args.json:
        import orjson

        sys.stdout.write(orjson.dumps(plugins_json(plugins), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(plugins_text(plugins, options=not args.brief))
    return 0


def cmd_describe(args: argparse.Namespace, redactor: Any) -> int:
    from agent.config.reference import describe_type
    from agent.plugins import load_plugins

    kind = {"in": "source", "out": "sink"}.get(args.kind, args.kind)
    plugins = load_plugins()
    ct = plugins.registry.get(kind, args.type_name)
    if ct is None:
        known = ", ".join(plugins.registry.names(kind))
        print(f"siemrelay: unknown {kind} type {args.type_name!r} (known: {known})", file=sys.stderr)
        return EXIT_CONFIG
    sys.stdout.write(describe_type(ct, plugins))
    return 0


def _delivery_command(name: str, args: argparse.Namespace, redactor: Any) -> int:
    """dlq, deliveries and sinks need only the state directory from the configuration."""
    from agent.cli import delivery as cli_delivery
    loaded = _load(args, redactor)
    if isinstance(loaded, int):
        return loaded
    cfg, _ = loaded
    return int(getattr(cli_delivery, f"cmd_{name}")(args, redactor, cfg.state_dir))


def cmd_dlq(args: argparse.Namespace, redactor: Any) -> int:
    return _delivery_command("dlq", args, redactor)


def cmd_deliveries(args: argparse.Namespace, redactor: Any) -> int:
    return _delivery_command("deliveries", args, redactor)


def cmd_sinks(args: argparse.Namespace, redactor: Any) -> int:
    return _delivery_command("sinks", args, redactor)
