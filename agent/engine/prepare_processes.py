"""How many preparing children the intake starts, and the one started ahead of the configuration.

Kept apart from :mod:`agent.engine.prepare_pool` (which imports the intake, the spool and
the routing) so that ``siemrelay run`` can start the spare child before it imports any of
them: the point of the spare is to overlap the child's imports with the agent's own.
"""

from __future__ import annotations

from typing import Callable

from agent.processes.cores import usable_cores
from agent.processes.launch import SpareChild

__all__ = ["process_count", "spare_child", "PREPARE_PRELOAD"]


def process_count(setting: int | str, cores: Callable[[], int] = usable_cores) -> int:
    """How many preparing children ``agent.intake.processes`` asks for.

    ``auto``: one when this process may use two cores or more (the agent keeps one core
    for reading, spooling and the sink workers), none on one core (a child only adds the
    hand-over's cost there).
    """
    if setting == "auto":
        return 1 if cores() >= 2 else 0
    return max(0, int(setting))


#: what a preparing child imports before it is given its recipe (:class:`SpareChild`)
PREPARE_PRELOAD = ("agent.engine.prepare_child", "agent.engine.intake", "agent.plugins", "agent.routing.router",
                   "agent.engine.dedup")


def spare_child(cores: Callable[[], int] = usable_cores) -> SpareChild | None:
    """A preparing child started ahead, before the configuration is read, when the default
    (``agent.intake.processes: auto``) would start one: on two cores or more. The
    supervisor gives it to the pool, or ends it when the configuration wants none."""
    if process_count("auto", cores) < 1:
        return None
    return SpareChild("siemrelay-prepare-0", PREPARE_PRELOAD)
