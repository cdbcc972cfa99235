"""The table of every ``siemrelay`` subcommand, in the order ``--help`` lists them.

Adding a command means writing its :class:`~agent.cli.command.Command` row in the
module of its group and listing that module's ``COMMANDS`` here; nothing else
registers commands.
"""

from __future__ import annotations

from agent.cli import catalog, config, delivery, init, live, routes, run, sinks
from agent.cli.command import Command

__all__ = ["COMMANDS"]

COMMANDS: tuple[Command, ...] = (
    *init.COMMANDS, *run.COMMANDS, *config.COMMANDS, *catalog.COMMANDS, *routes.COMMANDS,
    *sinks.COMMANDS, *delivery.COMMANDS, *live.COMMANDS,
)
