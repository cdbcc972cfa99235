"""One way to declare a ``siemrelay`` subcommand: a :class:`Command` row in a table.

Each command module exports ``COMMANDS``, a tuple of rows; :mod:`agent.cli.commands`
concatenates them and :func:`agent.cli.main.build_parser` turns every row into an
argparse subparser. A row carries what ``--help`` shows (a one-line summary, a
description, at least one example), the function that adds its arguments, and the
function that runs it, so dispatch is ``args.command_row.run(args, redactor)``: no
name lookups, no second registry.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from agent.logging import Redactor


__all__ = ["Command", "Arguments", "Handler"]

#: Adds a command's options and positionals to its parser.
Arguments = Callable[[argparse.ArgumentParser], None]
#: Runs a command; returns the process exit code (0 success, 1 runtime failure, 2 user error).
Handler = Callable[[argparse.Namespace, "Redactor"], int]


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its name, its help and its behaviour.

    :param summary: one line, shown in ``siemrelay --help``'s command list.
    :param description: the paragraph at the top of ``siemrelay NAME --help``.
    :param examples: command lines shown under "examples:" in ``--help`` (at least one).
    """

    name: str
    summary: str
    description: str
    examples: tuple[str, ...]
    arguments: Arguments
    run: Handler

    def __post_init__(self) -> None:
        if not self.description.strip() or not self.examples:
            raise ValueError(f"command {self.name!r} needs a description and at least one example")

    def epilog(self) -> str:
        """The "examples:" block printed after the options in ``--help``."""
        return "examples:\n" + "\n".join(f"  {line}" for line in self.examples)
