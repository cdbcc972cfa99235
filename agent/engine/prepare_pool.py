"""A pool of preparing child processes: the intake's decode, route and serialise on other cores.

With ``agent.intake.processes`` > 0 the intake hands each admitted batch to this pool
(:attr:`agent.engine.intake.Intake.preparer`). The submitting thread sends the raw
records (bytes, origin, arrival time, and the key of their decoder) to a child
(:mod:`agent.engine.prepare_child`) and returns a :class:`PendingSubmit` at once; the
pool's collector thread receives the child's prepared batch and gives it to
:meth:`Intake.spool_prepared` **in submission order**, so a source's batches are
committed, and answered, in the order it submitted them. The answer still comes only
after the group commit that holds the batch: the delivery promise does not move.

What holds:

- **Same result as in-process.** A child builds its decoders and router from the same
  validated configuration with the same code. A record whose decoder has no
  :class:`~agent.engine.decoder_key.DecoderKey` (built by a test or a third-party source
  itself), a batch a child cannot build a decoder for, or one that cannot be pickled,
  is prepared in this process, in its place in the order.
- **De-duplication.** The child drops duplicates within a batch and returns the ids it
  kept; before spooling, the collector checks them against the agent's window. If any
  was seen, the batch is prepared again in-process (rare: a vendor's redelivery), which
  gives exactly the in-process result.
- **A child still starting** (importing, building its decoders) is given nothing: until
  it says it is ready, batches are prepared in this process, so the agent's first
  seconds (or a slow start on a loaded machine) never wait for a child.
- **A child that dies or hangs** (no answer within ``timeout_s``) is killed, its
  unanswered batches are prepared in-process, in order, and a new child is started;
  after :data:`GIVE_UP_AFTER` losses in a row the pool prepares everything in-process.
  Nothing is lost (the records stay here until their batch is spooled) and nothing is
  spooled twice (a batch is spooled once, whichever process prepared it).
- **Reload.** :meth:`configure` sends the new recipe down each child's pipe: batches
  sent before it are prepared with the old rules, later ones with the new (the
  in-process rule: "in-flight submits finish with the old ones").
- **No orphans.** A child ends when its pipe closes (:meth:`close`, or the kernel closing
  it when the agent is killed) and, on Linux, by PR_SET_PDEATHSIG.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from operator import attrgetter
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from agent.engine.decoder_key import DecoderKey, key_of
from agent.engine.intake import Intake, PreparedBatch
from agent.engine.prepare_child import PreparedResult, PrepareRecipe, WireRecord, child_main
from agent.processes.channel import ChildChannel
from agent.processes.launch import ChildProcess, SpareChild, start_child
from agent.sdk.record import RawRecord
from agent.sdk.source import PendingSubmit, Submitted, SubmitStatus

if TYPE_CHECKING:
    from loguru import Logger

    from agent.config.validate import AgentConfig
    from agent.plugins import PluginSet
    from agent.sdk.heads import HeadRenderer

__all__ = ["PreparePool", "recipe_for", "GIVE_UP_AFTER", "ChildMain"]

#: what a child process runs: ``(pipe, recipe, the agent's pid)``
ChildMain = Callable[[ChildChannel, PrepareRecipe, int], None]

_data = attrgetter("data")

#: a child lost this many times in a row (it cannot even start, say) is not started again
GIVE_UP_AFTER = 3
#: ``agent.intake.child_min_bytes``'s default: a batch smaller than this is prepared in the
#: agent's process: the trip to a child and
#: back costs more than it saves (measured: HTTP, one event per POST, 16 connections,
#: batches of about 11 KB: 5,450 requests/s in-process against 4,020 through the child;
#: NDJSON of 100 per POST, batches of about 1 MB: 20,990 -> 25,830 events/s through it)
SMALL_BATCH_BYTES = 64 * 1024


def recipe_for(cfg: "AgentConfig", bits: Mapping[str, int], plugins: "PluginSet",
               renderers: Mapping[str, "HeadRenderer"] | None = None) -> PrepareRecipe:
    """The recipe of ``cfg``'s routes for a spool with sink ``bits``, and the head renderers
    of the sinks that have them (:mod:`agent.sdk.heads`)."""
    enabled = tuple(n for n, (_, conf) in cfg.sinks.items() if conf.get("enabled", True))
    decoder_plugins = set()
    for name in plugins.registry.names("decoder"):
        ct = plugins.registry.get("decoder", name)
        if ct is not None:
            decoder_plugins.add(ct.plugin)
    dd = cfg.agent["dedup"]
    return PrepareRecipe(routes=[dict(r) for r in cfg.routes], sinks=enabled, bits=dict(bits),
                         dedup_window_s=float(dd["window_s"]), dedup_max_ids=int(dd["max_ids"]),
                         plugins=tuple(sorted(decoder_plugins)), renderers=dict(renderers or {}))


@dataclass(eq=False, slots=True)
class _Entry:
    """One submitted batch, from submission until it is handed to the spool."""

    seq: int
    intake: Intake
    records: Sequence[RawRecord]
    dedup: bool
    pending: PendingSubmit
    batch: PreparedBatch | None = None


@dataclass(eq=False)
class _Child:
    """One child process, its pipe and the batches it has not answered yet (by seq)."""

    index: int
    proc: ChildProcess
    conn: ChildChannel
    started: float
    ready: bool = False
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: dict[int, tuple[_Entry, float]] = field(default_factory=dict)  # seq → (entry, sent at)
    lost: bool = False


class PreparePool:
    """Prepares intake batches in ``processes`` child processes; see the module's docstring.

    :param timeout_s: a child that holds a batch longer than this is considered hung.
    :param start_timeout_s: how long a new child may take to build its decoders and router.
    :param max_in_flight: most batches submitted and not yet spooled; a submitter waits
        beyond it (the children's pace is the intake's).
    :param small_batch_bytes: a batch with fewer bytes is prepared in this process
        (:data:`SMALL_BATCH_BYTES`).
    :param child_main: what each child runs (:func:`~agent.engine.prepare_child.child_main`;
        a test slows its start with a wrapper).
    :param spare: a child started ahead (:func:`~agent.engine.prepare_processes.spare_child`),
        taken by the first child the pool starts.
    """

    def __init__(self, recipe: PrepareRecipe, processes: int, logger: "Logger", *, timeout_s: float = 30.0,
                 start_timeout_s: float = 60.0, max_in_flight: int = 8, small_batch_bytes: int = SMALL_BATCH_BYTES,
                 clock: Callable[[], float] = time.monotonic, child_main: ChildMain = child_main,
                 spare: SpareChild | None = None) -> None:
        if processes < 1:
            raise ValueError("a prepare pool needs at least one process (0 means: no pool)")
        self.recipe = recipe
        self.processes = processes
        self.log = logger
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.max_in_flight = max_in_flight
        self.small_batch_bytes = small_batch_bytes
        self.clock = clock
        self.child_main = child_main
        self._spare = spare
        self._cond = threading.Condition()
        self._order: collections.deque[_Entry] = collections.deque()  # submission order, head first
        self._drain_lock = threading.Lock()  # one thread hands batches to the spool at a time: keeps the order
        self._children: list[_Child | None] = [None] * processes
        self._seq = 0
        self._next_child = 0
        self._lost_in_row = 0
        self._closed = False
        self._collector: threading.Thread | None = None
        #: children started again after one died or hung
        self.restarts = 0
        #: batches prepared in this process (no key, a lost child, a refused decoder, a duplicate)
        self.in_process = 0
        #: set after :data:`GIVE_UP_AFTER` losses in a row: everything is prepared in-process
        self.gave_up = False

    # ----------------------------------------------------------------- life
    @property
    def pids(self) -> list[int]:
        """The children's process ids (what the admin view and the logs show)."""
        return [c.proc.pid for c in self._children if c is not None]

    def start(self) -> None:
        """Start the children and the collector thread.

        Call it from a thread that lives as long as the pool (the supervisor's): Linux's
        PR_SET_PDEATHSIG fires when the *thread* that started the child ends.
        """
        for i in range(self.processes):
            self._children[i] = self._spawn(i)
        self._collector = threading.Thread(target=self._collect, name="intake-prepare-collector", daemon=True)
        self._collector.start()
        self.log.info("intake: preparing batches in {} child process(es), pid {}", self.processes,
                      ", ".join(map(str, self.pids)))

    def _spawn(self, index: int) -> _Child:
        """Start child ``index`` (the spare started ahead, if there is one: the first child takes it)."""
        spare, self._spare = self._spare, None
        proc, conn = start_child(self.child_main, (self.recipe, os.getpid()), f"siemrelay-prepare-{index}", spare)
        return _Child(index, proc, conn, self.clock())

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every child has said it is ready (or the pool gave up on them); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.gave_up or all(c is not None and c.ready for c in self._children),
                                       timeout)

    def configure(self, recipe: PrepareRecipe) -> None:
        """New routes or sink bits (reload): every batch submitted from now on is prepared with them."""
        self.recipe = recipe
        for child in list(self._children):
            if child is None or child.lost:
                continue
            try:
                with child.send_lock:
                    child.conn.send(("config", recipe))
            except (OSError, ValueError):
                pass  # the collector sees it lost; a new child starts with the new recipe

    def close(self, timeout: float = 10.0) -> None:
        """Spool what is in flight (up to ``timeout``), end the children and the collector."""
        deadline = self.clock() + timeout
        with self._cond:
            self._closed = True
            while self._order and self.clock() < deadline:
                self._cond.wait(0.1)
            left = list(self._order)
            self._order.clear()
            self._cond.notify_all()
        for entry in left:  # not spooled: not acknowledged, the source sends it again
            entry.pending.set_result(Submitted(SubmitStatus.CLOSED))
        for i, child in enumerate(self._children):
            if child is not None:
                self._end(child)
                self._children[i] = None
        if self._collector is not None:
            self._collector.join(5.0)

    def _end(self, child: _Child) -> None:
        child.lost = True
        try:
            child.conn.close()  # a healthy child sees EOF and ends by itself
        except OSError:
            pass
        child.proc.join(2.0)
        if child.proc.is_alive():
            child.proc.kill()
            child.proc.join(5.0)

    # ----------------------------------------------------------------- submit
    def submit(self, intake: Intake, records: Sequence[RawRecord], dedup: bool) -> PendingSubmit:
        """Hand ``records`` to a child (or prepare them here, see the module's docstring); answer after the commit."""
        pending = PendingSubmit()
        keys: dict[DecoderKey, int] = {}
        collected: list[WireRecord] = []
        wire: list[WireRecord] | None = collected
        if sum(map(len, map(_data, records))) < self.small_batch_bytes:
            wire = None  # small: prepared here, in its place in the order
        for rec in (records if wire is not None else ()):
            key = key_of(rec.decoder)
            if key is None:
                wire = None  # a decoder a child cannot rebuild: the whole batch is prepared here
                break
            k = keys.get(key)
            if k is None:
                k = keys[key] = len(keys)
            collected.append((rec.data, k, rec.origin, rec.received_at, rec.parsed, rec.meta))
        with self._cond:
            while len(self._order) >= self.max_in_flight and not self._closed:
                self._cond.wait()
            if self._closed:
                pending.set_result(Submitted(SubmitStatus.CLOSED))
                return pending
            self._seq += 1
            entry = _Entry(self._seq, intake, records, dedup, pending)
            self._order.append(entry)
            child = self._pick() if wire is not None and records else None
            if child is not None:
                child.waiting[entry.seq] = (entry, self.clock())
        if child is None or not self._send(child, entry, list(keys), wire or []):
            self._prepare_here(entry)
        self._drain()
        return pending

    def _pick(self) -> _Child | None:
        """The next ready child, round robin (under the lock); None: prepare in-process
        (no child is ready: still starting, lost, or given up on)."""
        if self.gave_up:
            return None
        for _ in range(self.processes):
            child = self._children[self._next_child % self.processes]
            self._next_child += 1
            if child is not None and child.ready and not child.lost:
                return child
        return None

    def _send(self, child: _Child, entry: _Entry, keys: list[DecoderKey], wire: list[WireRecord]) -> bool:
        try:
            with child.send_lock:
                # the sinks whose heads the agent will keep: the child has no memos to ask
                child.conn.send(("batch", entry.seq, keys, wire, entry.dedup,
                                 tuple(entry.intake.heads_wanted(len(entry.records)))))
            return True
        except (OSError, ValueError):  # the child is gone (the collector replaces it)
            pass
        except Exception as exc:  # something in the records does not pickle
            self.log.debug("intake: a batch from {} cannot go to a child ({}: {}); prepared here",
                           entry.records[0].origin.get("input"), type(exc).__name__, exc)
        with self._cond:
            child.waiting.pop(entry.seq, None)
        return False

    def _prepare_here(self, entry: _Entry) -> None:
        """Prepare ``entry`` in this process (the in-process path's exact result)."""
        batch = entry.intake.prepare(entry.records, dedup=entry.dedup)
        with self._cond:
            self.in_process += 1
            if entry.batch is None:
                entry.batch = batch

    # ----------------------------------------------------------------- collect
    def _collect(self) -> None:
        """The collector thread: receive prepared batches, replace lost children, spool in order."""
        while True:
            with self._cond:
                if self._closed and not self._order:
                    return
                children = [c for c in self._children if c is not None and not c.lost]
            conns = {c.conn.incoming: c for c in children}  # what each child's answers arrive on
            try:
                ready = wait(list(conns), timeout=0.2) if conns else []
            except OSError:
                ready = []
            if not conns:
                time.sleep(0.05)
            for conn in ready:
                child = conns[conn]  # type: ignore[index]  # wait() returns the objects it was given
                try:
                    message = child.conn.recv()
                except (EOFError, OSError):
                    self._lost(child, "died")
                    continue
                except Exception as exc:  # garbage on the pipe
                    self._lost(child, f"answered garbage ({type(exc).__name__})")
                    continue
                self._receive(child, message)
            self._check_hung()
            self._drain()

    def _receive(self, child: _Child, message: tuple[object, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            with self._cond:
                child.ready = True
                self._cond.notify_all()
            self._lost_in_row = 0
            return
        seq = message[1]
        with self._cond:
            held = child.waiting.pop(seq, None)  # type: ignore[call-overload]  # seq is an int from our own message
        if held is None:
            return  # prepared in-process meanwhile (a send that failed half-way)
        entry = held[0]
        if kind == "done":
            batch = self._batch(entry, message[2])  # type: ignore[arg-type]  # the child's PreparedResult
            with self._cond:
                if entry.batch is None:
                    entry.batch = batch
            return
        if kind == "failed":
            self.log.error("intake: the preparing process (pid {}) failed on a batch from {}; prepared in-process:\n{}",
                           child.proc.pid, entry.records[0].origin.get("input"), message[2])
        self._prepare_here(entry)

    def _batch(self, entry: _Entry, result: PreparedResult) -> PreparedBatch:
        """The child's prepared batch, after writing what its intake logged (a decoder that raised) to the agent's log."""
        batch, logs = result
        for level, text in logs:
            entry.intake.log.log(level, "{}", text)
        return batch

    def _check_hung(self) -> None:
        now = self.clock()
        for child in list(self._children):
            if child is None or child.lost:
                continue
            if not child.ready:
                if now - child.started > self.start_timeout_s:
                    self._lost(child, f"did not start within {self.start_timeout_s:.0f}s")
                continue
            with self._cond:
                oldest = min((at for _, at in child.waiting.values()), default=None)
            if oldest is not None and now - oldest > self.timeout_s:
                self._lost(child, f"did not answer within {self.timeout_s:.0f}s")

    def _lost(self, child: _Child, what: str) -> None:
        """Kill ``child``, prepare its unanswered batches here (in order), start another."""
        with self._cond:
            orphans = sorted((e for e, _ in child.waiting.values()), key=lambda e: e.seq)
            child.waiting.clear()
        pid = child.proc.pid
        self._end(child)
        for entry in orphans:
            self._prepare_here(entry)
        self._lost_in_row += 1
        with self._cond:
            closed = self._closed
        if closed:
            return
        if self._lost_in_row >= GIVE_UP_AFTER:
            with self._cond:
                self.gave_up = True
                self._cond.notify_all()
            self.log.error("intake: the preparing process {} (pid {}), {} times in a row; preparing in-process from now on",
                           what, pid, self._lost_in_row)
            return
        replacement = self._spawn(child.index)
        self._children[child.index] = replacement
        self.restarts += 1
        self.log.warning("intake: the preparing process {} (pid {}); {} batch(es) prepared in-process, "
                         "new process pid {}", what, pid, len(orphans), replacement.proc.pid)

    def _drain(self) -> None:
        """Hand every prepared batch at the head of the order to its intake's spool."""
        with self._drain_lock:
            while True:
                with self._cond:
                    if not self._order or self._order[0].batch is None:
                        return
                    entry = self._order.popleft()
                    self._cond.notify_all()
                batch = entry.batch
                assert batch is not None
                dedup = entry.intake.dedup
                if entry.dedup and batch.ids and dedup is not None and any(map(dedup.seen, batch.ids)):
                    batch = entry.intake.prepare(entry.records, dedup=True)  # exactly the in-process result
                    self.in_process += 1
                entry.intake.spool_prepared(batch, entry.pending)
