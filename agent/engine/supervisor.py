"""The supervisor: owns start and stop order, signals and reload.

Start: open the spool → start one worker per sink → build sources → the plugins' ``startup``
hooks → start sources → admin API and readiness.
Stop (SIGTERM/SIGINT): stop sources (no new input) → workers drain their queues until
the shutdown deadline → close sinks → close the spool. A second signal forces exit;
the spool is crash-safe, so even then nothing acknowledged is lost.
Signal handlers only set flags; the main thread acts on them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import TYPE_CHECKING, Callable

from loguru import logger
from types import FrameType

from agent import compiled
from agent.config.validate import AgentConfig, validate_config
from agent.engine.build import build_sinks, build_sources
from agent.config.loader import load_config
from agent.errors import ConfigError
from agent.engine.intake import DedupWindow, GatedSubmit, Intake, SubmitGate, Tap
from agent.engine.heads import attach_heads, sink_configs
from agent.engine.prepare_pool import SMALL_BATCH_BYTES, PreparePool, recipe_for
from agent.engine.prepare_processes import process_count
from agent.processes.launch import SpareChild
from agent.logging import Redactor
from agent.plugins import PluginSet, call_hook_each
from agent.sdk.sink import Sink
from agent.sdk.source import Source
from agent.spool.store import Spool
from agent.delivery.worker import SinkWorker
from agent.engine import lifecycle
from agent.engine.notify import Notifier, WatchdogPinger
from agent.engine.reload import apply_reload

if TYPE_CHECKING:
    from agent.admin.server import AdminServer  # imported when the admin API starts (lifecycle)

__all__ = ["Supervisor", "StartupError"]


def tune_garbage_collector(gen0_threshold: int = 50_000) -> None:
    """Make the cyclic garbage collector cheap for a long-running event pipeline.

    Every event allocates a few dozen short-lived dicts and lists; with CPython's
    default gen-0 threshold (700) the collector runs every few events and, measured on
    the json decoder, takes about half of the decoding time. Nearly all of that garbage
    is freed by reference counting anyway (the hot path makes no cycles), so collecting
    rarely costs little memory. ``gc.freeze()`` moves everything built at start-up
    (modules, configuration, plugins) out of the collector's sight for good.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(gen0_threshold, 50, 100)


class StartupError(Exception):
    """The agent cannot start (port in use, spool unreadable); the message says why."""


class Supervisor:
    """Runs one agent from a validated configuration."""

    def __init__(self, cfg: AgentConfig, plugins: PluginSet, redactor: Redactor, *, reset_spool: bool = False,
                 clock: Callable[[], float] = time.monotonic, spare: SpareChild | None = None) -> None:
        """:param spare: a preparing child started before the configuration was read
            (:func:`~agent.engine.prepare_processes.spare_child`): the pool takes it, or it
            is ended when the configuration wants no child; its starter ends it otherwise
            (``siemrelay run``, whatever happens)."""
        self.cfg = cfg
        self.spare = spare
        self.plugins = plugins
        self.redactor = redactor
        self.reset_spool = reset_spool
        self.clock = clock
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self.stopping = threading.Event()
        self._signals = 0
        spool_cfg = cfg.agent["spool"]
        self.spool = Spool(cfg.state_dir, max_bytes=spool_cfg["max_bytes"], resume_ratio=spool_cfg["resume_ratio"],
                           sync=spool_cfg["sync"], max_batch_events=spool_cfg["max_batch_events"],
                           history_rows=spool_cfg.get("history_max_rows", 10000),
                           history_max_age_s=spool_cfg.get("history_max_age_s", 7 * 86400))
        self.sinks: dict[str, Sink] = {}
        self.workers: dict[str, SinkWorker] = {}
        self.sources: dict[str, Source] = {}
        self.intake: Intake | None = None
        self.prepare_pool: PreparePool | None = None
        self.log = logger.bind(component="agent")
        # operations (agent/engine/lifecycle.py): sd_notify, watchdog, admin API, taps, reload gate
        self.notifier = Notifier.from_environ()
        self.taps: list[Tap] = []
        self.admin: AdminServer | None = None
        self.watchdog: WatchdogPinger | None = None
        self.reload_counts = {"ok": 0, "failed": 0}
        self.last_config_load: tuple[bool, float] = (True, 0.0)
        self.gate = SubmitGate()
        self.submit = GatedSubmit(self, self.gate)

    # ----------------------------------------------------------------- start
    def start(self) -> None:
        """Open the spool, start workers and sources; raise StartupError if any cannot start."""
        self.sinks = build_sinks(self.cfg, self.redactor)
        try:
            from agent.spool.store import SpoolError

            notes = self.spool.open(self.sinks.keys(), reset=self.reset_spool)
        except SpoolError as exc:
            raise StartupError(str(exc)) from None
        for note in notes:
            self.log.warning(note)
        self.spool.set_control_handler(lambda action, name: action == "enable" and self.reenable(name or ""))
        dd = self.cfg.agent["dedup"]
        self.intake = Intake(self.spool, self.cfg.router, logger.bind(component="intake"),
                             DedupWindow(float(dd["window_s"]), int(dd["max_ids"])))
        self.intake.taps = self.taps
        self.intake.set_heads(*attach_heads(self.sinks, sink_configs(self.cfg)))
        self._start_prepare_pool(self.intake)
        for name, sink in self.sinks.items():
            _, conf = self.cfg.sinks[name]
            try:
                sink.open()
            except Exception as exc:
                self.log.warning("sink {} could not open yet ({}); its worker will keep retrying", name, self.redactor(str(exc)))
            worker = SinkWorker(sink, self.spool, conf, logger.bind(component="sink", name=name))
            self.workers[name] = worker
            worker.start()
        self.sources = build_sources(self.cfg, self.plugins, self.redactor, submit=self.submit, stopping=self.stopping)
        # before any source starts: no event can arrive while a hook prepares what sinks and sources need
        for plugin, failure in call_hook_each(self.plugins.pm, "startup", agent=self):
            self.log.error("plugin {}'s startup hook failed ({}: {}); the agent keeps running without that hook",
                           plugin, type(failure).__name__, self.redactor(str(failure)))
        for name, source in self.sources.items():
            try:
                source.start()
            except OSError as exc:
                self.shutdown()
                raise StartupError(f"source {name!r} ({source.type_name}) cannot start: {exc.strerror or exc}") from None
            except Exception as exc:
                self.shutdown()
                raise StartupError(f"source {name!r} ({source.type_name}) failed to start: {type(exc).__name__}: {exc}") from None
        for warning in self.cfg.warnings:
            self.log.warning("configuration warning: {}", warning)
        for warning in getattr(self.cfg.router, "warnings", ()):
            self.log.warning("route warning: {}", warning)
        try:
            lifecycle.started(self)
        except (OSError, ValueError) as exc:
            self.shutdown()
            raise StartupError(f"admin API cannot listen on {self.cfg.agent['admin']['address']}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None
        self.log.info("siemrelay started: {} sources, {} sinks, {} routes, state in {}; hot path: {}",
                      len(self.sources), len(self.sinks), len(self.cfg.routes), self.cfg.state_dir, compiled.summary())

    def _start_prepare_pool(self, intake: Intake) -> None:
        """Start the intake's preparing children (``agent.intake.processes``), from this long-lived thread."""
        conf = self.cfg.agent.get("intake") or {}
        n = process_count(conf.get("processes", 0))
        spare, self.spare = self.spare, None
        if not n:
            if spare is not None:
                spare.discard()
            return
        pool = PreparePool(recipe_for(self.cfg, self.spool.sinks, self.plugins, intake.renderers), n,
                           logger.bind(component="intake"),
                           timeout_s=float(conf.get("timeout_s", 30.0)),
                           small_batch_bytes=int(conf.get("child_min_bytes", SMALL_BATCH_BYTES)), spare=spare)
        pool.start()
        self.prepare_pool = intake.preparer = pool

    def reenable(self, name: str) -> bool:
        """Re-enable a sink (CLI ``siemrelay sinks enable``, admin API): close its circuit,
        reset its failure counter and retry its head batch now. False if unknown."""
        worker = self.workers.get(name)
        if worker is None:
            return False
        worker.reenable()
        return True

    # ----------------------------------------------------------------- signals
    def install_signal_handlers(self) -> None:
        """Install handlers (main thread only): TERM/INT stop, a second forces exit, HUP reloads."""

        def on_stop(signum: int, _frame: FrameType | None) -> None:
            self._signals += 1
            if self._signals > 1:
                os.write(2, b"second signal: forcing exit (the spool is crash-safe)\n")
                os._exit(1)
            self.stop_requested.set()

        def on_hup(_signum: int, _frame: FrameType | None) -> None:
            self.reload_requested.set()
            self.stop_requested.set()  # wake the main loop; run() tells the two apart

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)

    def run_forever(self) -> None:
        """Block until a stop is requested, handling reloads meanwhile; then shut down."""
        while True:
            # wake up now and then: a signal the kernel hands to another thread only sets a flag,
            # and the main thread runs Python's handlers when it next runs bytecode; an endless
            # wait here could sleep through SIGHUP or SIGTERM
            while not self.stop_requested.wait(0.5):
                pass
            if self.reload_requested.is_set() and self._signals == 0:
                self.reload_requested.clear()
                self.stop_requested.clear()
                self.reload()
                continue
            break
        self.shutdown()

    def reload(self) -> bool:
        """Re-read the configuration and apply all of it; keep the old one if invalid.

        Routes, sources and sinks may be added, removed or changed: ``agent/engine/reload.py``
        validates and constructs everything first, then restarts only what changed,
        without losing spooled events. A batch of records is routed entirely by the old
        or entirely by the new rules (intake takes the router once per batch).
        """
        self.log.info("reloading configuration from {}", self.cfg.loaded.path)
        lifecycle.reloading(self)
        try:
            loaded = load_config(self.cfg.loaded.path)
            self.redactor.add(loaded.secrets)
            new = validate_config(loaded, self.plugins)
        except ConfigError as exc:
            for problem in exc.problems:
                self.log.error("reload refused: {}", problem)
            self.log.error("reload refused ({} problems); the running configuration is kept", len(exc.problems))
            lifecycle.reloaded(self, False)
            return False
        for warning in new.warnings:
            self.log.warning("configuration warning: {}", warning)
        for warning in getattr(new.router, "warnings", ()):
            self.log.warning("route warning: {}", warning)
        try:
            ok = apply_reload(self, new)
        except Exception as exc:  # a bug or a disk failure mid-reload: say so loudly, keep running
            self.log.opt(exception=exc).critical("reload failed half-way; restart the agent to apply the configuration")
            ok = False
        lifecycle.reloaded(self, ok)
        return ok

    # ----------------------------------------------------------------- stop
    def shutdown(self) -> None:
        """Stop sources, drain workers until the deadline, close sinks and the spool."""
        if self.stopping.is_set() and not self.workers and not self.sources:
            return
        self.stopping.set()
        lifecycle.stopping(self)
        self.log.info("stopping: sources first, then draining sinks")
        for name, source in list(self.sources.items()):
            try:
                source.stop()
            except Exception as exc:
                self.log.error("source {} did not stop cleanly: {}", name, exc)
        self.sources = {}
        deadline = self.clock() + float(self.cfg.agent["shutdown_timeout_s"])
        if self.prepare_pool is not None:  # sources stopped: spool what is in flight, end the children
            self.prepare_pool.close(max(0.5, deadline - self.clock()))
        for worker in self.workers.values():
            worker.stop(deadline)
        for name, worker in self.workers.items():
            if not worker.join(max(0.1, deadline - self.clock() + 1.0)):
                self.log.error("sink {} did not finish in time; its in-flight batch stays in the spool", name)
        self._close_sinks(deadline)
        self.workers = {}
        self.spool.close()
        for plugin, failure in call_hook_each(self.plugins.pm, "shutdown", agent=self):
            self.log.error("plugin {}'s shutdown hook failed: {}: {}", plugin, type(failure).__name__,
                           self.redactor(str(failure)))
        lifecycle.stopped(self)
        self.log.info("stopped")

    def _close_sinks(self, deadline: float) -> None:
        """Close every sink at once, each in a thread of its own, and wait for them until the
        stop's deadline (and a second): a sink releasing its connection in order waits for
        its receiver (up to its own timeout), so one hung receiver must neither hold up the
        others nor keep the agent from exiting within ``shutdown_timeout_s``."""
        def close(name: str, sink: Sink) -> None:
            try:
                sink.close()
            except Exception as exc:
                self.log.error("sink {} did not close cleanly: {}", name, self.redactor(str(exc)))

        closing = [threading.Thread(target=close, args=item, name=f"close-{item[0]}", daemon=True)
                   for item in self.sinks.items()]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(max(0.1, deadline - self.clock() + 1.0))
            if thread.is_alive():
                self.log.warning("sink {} was still closing at the stop's deadline; the agent exits without it",
                                 thread.name[len("close-"):])
