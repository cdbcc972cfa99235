"""``siemrelay run`` and ``siemrelay validate``: start the agent, or check that it would start."""

from __future__ import annotations

from typing import TYPE_CHECKING

import argparse
import os
import sys
import threading

from agent.cli.command import Command
from agent.cli.common import EXIT_CONFIG, add_config, check_state_dir, count, load_validated

if TYPE_CHECKING:
    from agent.logging import Redactor
    from agent.processes.launch import SpareChild

__all__ = ["COMMANDS"]


def _run_arguments(p: argparse.ArgumentParser) -> None:
    add_config(p)
    p.add_argument("--reset-spool", action="store_true",
                   help="if the spool database cannot be read, move it aside and start with an empty one")


def run(args: argparse.Namespace, redactor: Redactor) -> int:
    """Run until SIGTERM/SIGINT; 2 when the configuration or start-up fails."""
    from agent.engine.prepare_processes import spare_child

    spare = spare_child()  # first: its imports overlap the agent's own start on another core
    try:
        return _run(args, redactor, spare)
    finally:
        if spare is not None:
            spare.discard()  # a no-op once the pool took it


def _run(args: argparse.Namespace, redactor: Redactor, spare: "SpareChild | None") -> int:
    from loguru import logger

    from agent.engine.supervisor import StartupError, Supervisor, tune_garbage_collector
    from agent.errors import ConfigError
    from agent.logging import setup_logging
    from agent.processes.allocator import tune_allocator

    loaded = load_validated(args, redactor)
    if isinstance(loaded, int):
        return loaded
    cfg, plugins = loaded
    problem = check_state_dir(cfg.state_dir)
    if problem:
        print(f"siemrelay: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(args.log_level or cfg.agent["log_level"], args.log_format or cfg.agent["log_format"], redactor)
    for f in plugins.failures:
        logger.warning("plugin {} ({}) is disabled: {}", f.plugin, f.origin, f.error)
    tune_garbage_collector()
    logger.debug("allocator: {}", tune_allocator())
    sup = Supervisor(cfg, plugins, redactor, reset_spool=args.reset_spool, spare=spare)
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


def _validate_arguments(p: argparse.ArgumentParser) -> None:
    add_config(p)
    p.add_argument("--healthcheck", action="store_true", help="also probe every sink's destination")


def validate(args: argparse.Namespace, redactor: Redactor) -> int:
    """The start-up check without starting: 0 valid, 2 invalid, 1 a health check failed."""
    from agent.config.exposure import exposure_warnings
    from agent.engine.build import build_sinks, build_sources
    from agent.errors import ConfigError
    from agent.sdk.outcome import Delivery

    loaded = load_validated(args, redactor)
    if isinstance(loaded, int):
        return loaded
    cfg, plugins = loaded
    try:
        sinks = build_sinks(cfg, redactor)
        sources = build_sources(cfg, plugins, redactor)
    except ConfigError as exc:
        print(f"siemrelay: {redactor(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    problem = check_state_dir(cfg.state_dir)
    if problem:
        print(f"siemrelay: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    status = 0
    print(f"√ {cfg.loaded.path}: {count(len(sources), 'source')}, {count(len(sinks), 'sink')}, "
          f"{count(len(cfg.routes), 'route')}")
    for f in plugins.failures:
        print(f"~ plugin {f.plugin} ({f.origin}) is disabled: {f.error}")
    for w in [*cfg.warnings, *getattr(cfg.router, "warnings", ())]:
        print(f"~ {w}")
    for w in exposure_warnings(cfg):
        print(f"~ {redactor(w)}")
    if args.healthcheck:
        for name, sink in sinks.items():
            try:
                outcome = sink.healthcheck()
            except Exception as exc:  # a plugin's bug is reported as its sink's failure, not a traceback
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


COMMANDS = (
    Command("run", "run the agent until SIGTERM/SIGINT",
            "Run the agent in the foreground: sources, routing, the spool and one delivery worker per sink, "
            "until SIGTERM or SIGINT (SIGHUP reloads the configuration). Exits 2 when the configuration is "
            "invalid or start-up fails.",
            ("siemrelay run -c /etc/siemrelay/siemrelay.yaml",
             "siemrelay run -c siemrelay.yaml --log-format json --log-level debug"),
            _run_arguments, run),
    Command("validate", "check a configuration exactly as start-up does; exit 2 if invalid",
            "Load the configuration, its includes and routes.d/, validate every section and build every "
            "component exactly as start-up does, without starting anything. Prints warnings (~) and, with "
            "--healthcheck, probes each sink's destination. Exit codes: 0 valid, 1 a health check failed, 2 invalid.",
            ("siemrelay validate -c /etc/siemrelay/siemrelay.yaml",
             "siemrelay validate -c siemrelay.yaml --healthcheck"),
            _validate_arguments, validate),
)
