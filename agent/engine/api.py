"""The engine's interface: what reload, the run-phase operations and the admin side use of the
running agent (the :class:`~agent.engine.supervisor.Supervisor` implements it).

Three layers of one interface, each a :class:`~typing.Protocol`:
:class:`agent.sdk.RunningAgent` (what a plugin's lifecycle hook reads), extended by
:class:`agent.admin.state.AgentView` (what the admin API, metrics and page read), extended
here by :class:`Engine` (what reload and lifecycle change). Code that takes the supervisor
says which of the three it needs, and mypy checks the supervisor against it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Protocol

from agent.admin.state import AgentView
from agent.config.validate import AgentConfig
from agent.delivery.worker import SinkWorker
from agent.engine.intake import GatedSubmit, Intake, SubmitGate, Tap
from agent.engine.notify import Notifier, WatchdogPinger
from agent.engine.prepare_pool import PreparePool
from agent.logging import Redactor
from agent.plugins import PluginSet
from agent.sdk.sink import Sink
from agent.sdk.source import Source
from agent.spool.store import Spool

if TYPE_CHECKING:
    from loguru import Logger

    from agent.admin.server import AdminServer

__all__ = ["Engine"]


class Engine(AgentView, Protocol):
    """The running agent as the engine's own modules use it: the admin view, writable, plus
    what reload swaps (spool, intake, workers) and what the run phases drive."""

    cfg: AgentConfig
    plugins: PluginSet
    redactor: Redactor
    spool: Spool
    sinks: dict[str, Sink]
    workers: dict[str, SinkWorker]
    sources: dict[str, Source]
    intake: Intake | None
    #: the intake's preparing child processes (``agent.intake.processes``); None: in-process
    prepare_pool: PreparePool | None
    #: monotonic seconds (injected: tests drive deadlines with a fake clock)
    clock: Callable[[], float]
    #: set once a shutdown begins; sources stop their loops on it
    stopping: threading.Event
    log: Logger
    #: what sources call: passes the ingest gate, then reaches the current intake
    submit: GatedSubmit
    gate: SubmitGate
    #: ``siemrelay tap`` watchers, shared by every intake across reloads
    taps: list[Tap]
    notifier: Notifier
    admin: AdminServer | None
    watchdog: WatchdogPinger | None
    reload_counts: dict[str, int]
    #: (the last configuration load succeeded, wall time of the last success): the config metrics
    last_config_load: tuple[bool, float]

    def reenable(self, name: str) -> bool:
        """Close sink ``name``'s circuit and retry its head batch now; False if unknown."""
