"""Full configuration reload (SIGHUP): sources and sinks added, removed or changed, nothing lost.

The new configuration is validated and every new component constructed (no I/O)
*before* anything running is touched, so an invalid file, an unknown type or a
plugin that refuses its settings leaves the old configuration running untouched.

Then only what changed is restarted:

- **Sources** removed or changed are stopped first (no new input from them), new
  and changed ones are started last. A changed source that cannot start (its new
  port is taken) is put back with its old settings. A changed source's listening
  sockets are handed to its successor (:class:`agent.sdk.listeners.Listeners`): they
  stay open while the two swap, so the kernel keeps queueing connections and
  datagrams for the new instance and no sender is refused.
- **Sinks** whose settings changed get a new instance and worker under the same
  name: the spool queue is keyed by name, so queued events simply wait for the new
  worker. Counters and, if its settings did not change, the circuit carry over.
- **Adding or removing a sink** changes the spool's set of queues. Submissions are
  held at the ingest gate (``intake.SubmitGate``) for the instant it takes (sources
  never see a refusal), workers are stopped, the spool is reopened with the new set
  (a removed sink's undelivered events go to dead letters, replayable with
  ``siemrelay dlq replay``) and the workers restart on it.

``agent.state_dir``, ``agent.spool``, ``agent.dedup`` and ``agent.intake`` need a restart; a reload
that changes them says so and keeps the running values.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from loguru import logger

from agent.config.validate import AgentConfig
from agent.engine.api import Engine
from agent.engine.build import build_sinks, build_sources
from agent.errors import ConfigError
from agent.engine.intake import Intake
from agent.engine.heads import attach_heads, sink_configs
from agent.engine.prepare_pool import recipe_for
from agent.registry import ComponentType
from agent.sdk.listeners import Listeners
from agent.sdk.sink import Sink
from agent.sdk.source import Source
from agent.spool.store import Spool, SpoolError
from agent.delivery.worker import SinkWorker

__all__ = ["apply_reload", "RESTART_ONLY"]

RESTART_ONLY = ("state_dir", "spool", "dedup", "intake")


Section = dict[str, tuple[ComponentType, dict[str, Any]]]


def _enabled(section: Section) -> Section:
    return {n: v for n, v in section.items() if v[1].get("enabled", True)}


def _diff(old: Section, new: Section) -> tuple[set[str], set[str], set[str]]:
    added = set(new) - set(old)
    removed = set(old) - set(new)
    changed = {n for n in set(old) & set(new) if old[n] != new[n]}
    return added, removed, changed


def apply_reload(sup: Engine, new: AgentConfig) -> bool:
    """Apply a validated configuration to a running supervisor; False if it was refused."""
    log = sup.log
    old: AgentConfig = sup.cfg
    for key in RESTART_ONLY:
        if new.agent.get(key) != old.agent.get(key):
            log.warning("reload: agent.{} changed; it takes effect at the next restart (the running value is kept)", key)
            new.agent[key] = old.agent[key]
    old_sinks, new_sinks = _enabled(old.sinks), _enabled(new.sinks)
    old_srcs, new_srcs = _enabled(old.sources), _enabled(new.sources)
    s_added, s_removed, s_changed = _diff(old_sinks, new_sinks)
    i_added, i_removed, i_changed = _diff(old_srcs, new_srcs)
    if new.decoders != old.decoders:
        i_changed |= set(old_srcs) & set(new_srcs)
    try:  # construct everything new first: a plugin refusing its settings refuses the reload
        built_sinks = build_sinks(dataclasses.replace(new, sinks={n: new_sinks[n] for n in s_added | s_changed}), sup.redactor)
        built_srcs = build_sources(dataclasses.replace(new, sources={n: new_srcs[n] for n in i_added | i_changed}),
                                   sup.plugins, sup.redactor, submit=sup.submit, stopping=sup.stopping)
    except ConfigError as exc:
        log.error("reload refused, the running configuration is kept: {}", exc)
        return False
    sup.redactor.add(new.secrets)

    handed: dict[str, Listeners] = {}
    for name in sorted(i_removed | i_changed):
        listeners = _stop_source(sup, name, hand_over=name in i_changed)
        if listeners is not None:
            handed[name] = listeners
    if s_added or s_removed:
        _reopen_spool(sup, new, built_sinks, s_changed)
    else:
        for name in sorted(s_changed):
            _replace_sink(sup, name, built_sinks[name], new_sinks[name][1])
        renderers, memos = attach_heads(sup.sinks, sink_configs(new))
        if sup.prepare_pool is not None:  # batches submitted from here on are prepared with the new routes
            sup.prepare_pool.configure(recipe_for(new, sup.spool.sinks, sup.plugins, renderers))
        intake = _running_intake(sup)
        intake.set_router(new.router)
        intake.set_heads(renderers, memos)
    ok = True
    for name in sorted(i_added | i_changed):
        ok = _start_source(sup, name, built_srcs[name], old, new, handed.get(name)) and ok
    for name, listeners in handed.items():
        listeners.settle()  # closes what the successor did not take again (its address changed)
        if name not in sup.sources:  # neither the new nor the restored instance runs: nothing would serve it
            listeners.close()
    new_admin, old_admin = new.agent.get("admin"), old.agent.get("admin")
    sup.cfg = new
    if new_admin != old_admin:
        from agent.engine.lifecycle import restart_admin

        ok = restart_admin(sup) and ok
    log.info("reload done: sources +{} -{} ~{}, sinks +{} -{} ~{}, {} routes", len(i_added), len(i_removed), len(i_changed),
             len(s_added), len(s_removed), len(s_changed), len(new.routes))
    return ok


def _running_intake(sup: Engine) -> Intake:
    if sup.intake is None:
        raise RuntimeError("a reload needs a started agent (it has no intake yet)")
    return sup.intake


def _stop_source(sup: Engine, name: str, *, hand_over: bool) -> Listeners | None:
    """Stop source ``name``; with ``hand_over``, its listening sockets stay open for its successor."""
    source = sup.sources.pop(name, None)
    if source is None:
        return None
    listeners = source.ctx.listeners
    if hand_over:
        listeners.hand_over()
    try:
        source.stop()
    except Exception as exc:
        sup.log.error("reload: source {} did not stop cleanly: {}", name, exc)
    return listeners if hand_over else None


def _start_source(sup: Engine, name: str, source: Source, old: AgentConfig, new: AgentConfig,
                  listeners: Listeners | None) -> bool:
    if listeners is not None:
        source.ctx.listeners = listeners
    try:
        source.start()
        sup.sources[name] = source
        return True
    except Exception as exc:
        sup.log.error("reload: source {} ({}) cannot start with its new settings: {}", name, source.type_name,
                      getattr(exc, "strerror", None) or exc)
    if name in _enabled(old.sources):  # put the old one back so input keeps flowing
        try:
            restored = build_sources(dataclasses.replace(old, sources={name: old.sources[name]}), sup.plugins, sup.redactor,
                                     submit=sup.submit, stopping=sup.stopping)[name]
            if listeners is not None:
                restored.ctx.listeners = listeners
            restored.start()
            sup.sources[name] = restored
            new.sources[name] = old.sources[name]
            sup.log.warning("reload: source {} keeps running with its previous settings", name)
        except Exception as exc:
            sup.log.error("reload: source {} could not be restored either and is stopped: {}", name, exc)
    return False


def _new_worker(sink: Sink, conf: dict[str, Any], spool: Spool, previous: SinkWorker | None,
                same_conf: bool) -> SinkWorker:
    worker = SinkWorker(sink, spool, conf, logger.bind(component="sink", name=sink.name))
    if previous is not None:
        worker.stats = previous.stats
        if same_conf:
            worker.circuit, worker.bucket = previous.circuit, previous.bucket
    return worker


def _stop_workers(workers: Sequence[SinkWorker], clock: Callable[[], float]) -> None:
    now = clock()
    for w in workers:
        w.stop(now)  # no drain: an unacknowledged batch simply stays queued for the next worker
    for w in workers:
        if not w.join(60.0):
            logger.bind(component="agent").error("reload: sink {} is still sending after 60s; its batch will be sent again", w.name)


def _replace_sink(sup: Engine, name: str, sink: Sink, conf: dict[str, Any]) -> None:
    old_worker = sup.workers.get(name)
    if old_worker is not None:
        _stop_workers([old_worker], sup.clock)
    old_sink = sup.sinks.get(name)
    if old_sink is not None:
        _close(sup, name, old_sink)
    _open(sup, name, sink)
    worker = _new_worker(sink, conf, sup.spool, old_worker, False)
    sup.sinks = {**sup.sinks, name: sink}
    sup.workers = {**sup.workers, name: worker}
    worker.start()


def _reopen_spool(sup: Engine, new: AgentConfig, built: dict[str, Sink], changed: set[str]) -> None:
    """Swap the spool for one with the new set of sink queues, holding submissions meanwhile."""
    new_sinks = _enabled(new.sinks)
    old_workers: dict[str, SinkWorker] = dict(sup.workers)
    spool_cfg = sup.cfg.agent["spool"]
    with sup.gate.paused():
        _stop_workers(list(old_workers.values()), sup.clock)
        sup.spool.close()
        spool = Spool(sup.cfg.state_dir, max_bytes=spool_cfg["max_bytes"], resume_ratio=spool_cfg["resume_ratio"],
                      sync=spool_cfg["sync"], max_batch_events=spool_cfg["max_batch_events"],
                      history_rows=spool_cfg.get("history_max_rows", 10000),
                      history_max_age_s=spool_cfg.get("history_max_age_s", 7 * 86400))
        try:
            notes = spool.open(new_sinks.keys())
        except SpoolError as exc:  # cannot happen short of a disk failure; keep what can be kept
            sup.log.error("reload: the spool could not be reopened ({}); restarting the agent is needed", exc)
            raise
        for note in notes:
            sup.log.warning("reload: {}", note)
        # `siemrelay sinks enable` requests, as at start-up
        spool.set_control_handler(lambda action, name: action == "enable" and sup.reenable(name or ""))
        old_intake = _running_intake(sup)
        intake = Intake(spool, new.router, old_intake.log, old_intake.dedup, stats=old_intake.stats)
        intake.taps = sup.taps
        sinks: dict[str, Sink] = {}
        workers: dict[str, SinkWorker] = {}
        for name, (_, conf) in new_sinks.items():
            sink = built.get(name) or sup.sinks[name]
            if name in built:
                _open(sup, name, sink)
            sinks[name] = sink
            workers[name] = _new_worker(sink, conf, spool, old_workers.get(name), name not in changed)
        # a new spool may number events anew: no head rendered for the old one may stay
        renderers, memos = attach_heads(sinks, sink_configs(new), fresh=True)
        intake.set_heads(renderers, memos)
        if sup.prepare_pool is not None:  # nothing is in flight (the gate is paused): new routes and sink bits
            sup.prepare_pool.configure(recipe_for(new, spool.sinks, sup.plugins, renderers))
            intake.preparer = sup.prepare_pool
        gone = {n: s for n, s in sup.sinks.items() if n not in sinks or sinks[n] is not s}
        sup.spool, sup.intake, sup.sinks, sup.workers = spool, intake, sinks, workers
        for name, w in workers.items():
            if name not in gone:
                w.start()
    # a replaced sink's worker starts once its predecessor let go of its connection in
    # order (the receiver read all of it), so the receiver cannot interleave the two;
    # outside the gate: sources are not held while a receiver takes its time
    for name, sink in gone.items():
        _close(sup, name, sink)
        if name in workers:
            workers[name].start()


def _open(sup: Engine, name: str, sink: Sink) -> None:
    try:
        sink.open()
    except Exception as exc:
        sup.log.warning("sink {} could not open yet ({}); its worker will keep retrying", name, sup.redactor(str(exc)))


def _close(sup: Engine, name: str, sink: Sink) -> None:
    try:
        sink.close()
    except Exception as exc:
        sup.log.error("sink {} did not close cleanly: {}", name, exc)

