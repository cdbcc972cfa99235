"""What several commands share: the ``-c/--config`` option, loading and validating a
configuration as start-up does, exit codes, and JSON output.

Exit codes: 0 success, 1 runtime failure, 2 configuration or start-up error (a
user's mistake: one paragraph, no traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson


if TYPE_CHECKING:
    from agent.logging import Redactor
    from agent.config.validate import AgentConfig
    from agent.plugins import PluginSet

__all__ = ["EXIT_FAILED", "EXIT_CONFIG", "default_config", "add_config", "load_validated", "count", "dump_json",
           "check_state_dir", "missing_config_hint"]

EXIT_FAILED = 1
EXIT_CONFIG = 2
#: Where the agent looks when neither -c nor $SIEMRELAY_CONFIG says otherwise.
DEFAULT_CONFIG_PATH = "/etc/siemrelay/siemrelay.yaml"


def default_config() -> str:
    """``$SIEMRELAY_CONFIG`` or the packaged path (read when the parser is built, not at import)."""
    return os.environ.get("SIEMRELAY_CONFIG") or DEFAULT_CONFIG_PATH


def add_config(p: argparse.ArgumentParser) -> None:
    """The ``-c/--config FILE`` option every configuration-reading command takes."""
    default = default_config()
    p.add_argument("-c", "--config", default=default,
                   help=f"configuration file (default: $SIEMRELAY_CONFIG or {DEFAULT_CONFIG_PATH}; now {default})")


def missing_config_hint(path: str) -> str:
    """What to say when the configuration file does not exist: how to make one."""
    target = Path(path).parent
    return (f"no configuration at {path}. Write a commented starting point with `siemrelay init --dir {target}` "
            f"(then edit {target / 'siemrelay.yaml'}), or point to another file with -c FILE or $SIEMRELAY_CONFIG.")


def load_validated(args: argparse.Namespace, redactor: Redactor) -> "tuple[AgentConfig, PluginSet] | int":
    """Load and validate ``args.config`` exactly as start-up does, or print why not and return 2."""
    from agent.config.loader import load_config
    from agent.config.validate import validate_config
    from agent.errors import ConfigError
    from agent.plugins import load_plugins

    if not Path(args.config).exists():
        print(f"siemrelay: {missing_config_hint(args.config)}", file=sys.stderr)
        return EXIT_CONFIG
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


def count(n: int, noun: str) -> str:
    """``1 sink``, ``3 sinks``."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def dump_json(obj: object) -> None:
    """Indented JSON on stdout."""
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")


def check_state_dir(path: Path) -> str:
    """Why the agent could not use ``path`` as its state directory (``""`` when it can)."""
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
