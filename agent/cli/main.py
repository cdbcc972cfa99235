# PYTHON_ARGCOMPLETE_OK
"""The ``siemrelay`` command line: builds the parser from the command table and dispatches.

Exit codes: 0 success, 1 runtime failure, 2 configuration or start-up error (a
user's mistake: one paragraph, no traceback).
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Sequence

from agent.cli.command import Command
from agent.cli.common import EXIT_CONFIG
from agent.version import __version__

__all__ = ["build_parser", "main"]


def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    """The whole parser: one subparser per row of :data:`agent.cli.commands.COMMANDS`."""
    if commands is None:
        from agent.cli.commands import COMMANDS

        commands = COMMANDS
    parser = argparse.ArgumentParser(
        prog="siemrelay", description="Collect security events, normalise them, forward them reliably.",
        epilog="examples:\n  siemrelay init --dir /etc/siemrelay\n  siemrelay validate -c /etc/siemrelay/siemrelay.yaml\n"
               "  siemrelay COMMAND --help",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"siemrelay {__version__}")
    _add_log_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands:
        p = sub.add_parser(command.name, help=command.summary, description=textwrap.fill(command.description, 79),
                           epilog=command.epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
        command.arguments(p)
        # `siemrelay run -c FILE --log-format json` as well as `siemrelay --log-format json run ...`;
        # SUPPRESS keeps a value given before the command when none is given after it
        _add_log_options(p, default=argparse.SUPPRESS)
        p.set_defaults(command_row=command)
    return parser


def _add_log_options(p: argparse.ArgumentParser, *, default: str | None) -> None:
    p.add_argument("--log-format", choices=["auto", "text", "json"], default=default,
                   help="log format (default: agent.log_format; auto = text on a terminal, JSON otherwise)")
    p.add_argument("--log-level", choices=["trace", "debug", "info", "warning", "error"], default=default,
                   help="log level (default: agent.log_level)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _enable_completion(parser)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    from agent.logging import Redactor, setup_logging

    redactor = Redactor()
    setup_logging(args.log_level or "info", args.log_format or "auto", redactor)
    command: Command = args.command_row
    try:
        return int(command.run(args, redactor) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `siemrelay plugins | head`: the reader left; no traceback, no second error at exit
        import os
        import sys

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _enable_completion(parser: argparse.ArgumentParser) -> None:
    """Answer the shell's completion request (argcomplete) and exit; a no-op otherwise.

    ``eval "$(register-python-argcomplete siemrelay)"`` in bash (or the fish/zsh
    equivalents) makes the shell call ``siemrelay`` with ``_ARGCOMPLETE`` set.
    """
    import os

    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    argcomplete.autocomplete(parser)
