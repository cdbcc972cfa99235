"""The durable spool: per-sink FIFO queues, dead letters and delivery history in SQLite.

Layout (one database, ``<state_dir>/spool.db``, WAL mode; tables in :mod:`agent.spool.db`):

- ``segments(base, last, mask, size, ends, data)``: each event's native JSON **once**,
  however many sinks it fans out to, many events to a row (:mod:`agent.spool.segments`):
  a run of consecutive sequence numbers with one ``mask`` (one bit per destination
  sink). A group commit of 2,000 lines for one sink is one row.
- ``sinks(name, bit, cursor, ...)``: each sink's queue is "events with my bit and
  ``seq > cursor``"; acknowledging a batch advances the cursor (it may stop inside a
  segment). A segment is deleted as soon as every sink it was for has passed its last
  event, so a sink that is down for a week holds only its own undelivered segments on disk. The sink's retry state (attempts of the batch
  at the head of its queue, consecutive failures) is kept here too, so a restart does
  not hand a poison batch a fresh retry budget.
- ``dead_letters``, ``deliveries`` (history, pruned by count per sink and by age),
  ``control`` (requests from the CLI while the agent runs).

All writes go through one writer thread that takes every request waiting, runs them
in one transaction and commits once (group commit), then wakes the callers. Within
that transaction, the appends of every source become as few segments as their masks
allow, each sink's cursor and retry state is written once however many
acknowledgements it sent, and the delivery-history rows go in one statement. A
source's ``append`` returns only after that commit, which is what makes its
acknowledgement safe. Readers (one per sink worker) use their own connections.

Quota: :attr:`Spool.pending_bytes` is the size of the segments still owed to at least one
sink. At ``max_bytes`` (high water mark) appends are refused (sources push back);
they are accepted again once it drops to ``resume_ratio * max_bytes`` (low mark).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from array import array
from bisect import bisect_right
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from agent.spool import db as db
from agent.sdk.sink import SpooledEvent
from agent.spool.segments import unpack_ends
from agent.spool.views import DeadLetter, SinkState, SpoolViews
from agent.spool.writes import SpoolOps
from agent.spool.db import MAX_SINKS
from agent.spool.errors import SpoolClosed, SpoolError, SpoolFull

__all__ = ["Spool", "SpoolError", "SpoolFull", "SpoolClosed", "SpoolReader", "DeadLetter", "SinkState", "MAX_SINKS"]


@dataclass(slots=True)
class _Request:
    kind: str
    args: tuple[Any, ...]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    #: called on the writer thread right after the commit (or failure) of this request
    on_done: Callable[["_Request"], None] | None = None
    #: an append's first sequence number (its events are numbered from it, in order)
    first_seq: int = 0


def _answer(req: _Request, on_done: Callable[[int, BaseException | None], None] | None,
            on_stored: Callable[[int], None] | None) -> None:
    """An append's callbacks once its commit is done (see :meth:`Spool.append_nowait`)."""
    if on_stored is not None and req.error is None and req.result:
        on_stored(req.first_seq)
    if on_done is not None:
        on_done(int(req.result or 0), req.error)


class PendingAppend:
    """An append queued for the next group commit (:meth:`Spool.append_nowait`)."""

    __slots__ = ("_req",)

    def __init__(self, req: _Request) -> None:
        self._req = req

    def wait(self) -> int:
        """Wait for the commit; return the events written or raise its error (:class:`SpoolError`, ...)."""
        return int(Spool._result(self._req))


#: the requests whose commit must reach the disk before it is answered, under ``sync: full``:
#: they take in events nobody else holds once answered (a source's batch; dead letters
#: replayed into the queues). The rest (a sink's cursor and the segments it frees,
#: dead-letter moves, delivery history, retry state) are committed without an fsync of
#: their own: lost in a power failure, they only make a sink send again what it had sent
#: (at least once), never lose an event; and the next durable commit's fsync of the
#: write-ahead log, which flushes the whole log, makes them durable too. Measured on the
#: side-by-side file workload: 268 of 398 commits were a sink's acknowledgements, each
#: waiting about 10 ms for its fsync with under 1 ms of work (3.9 s of the writer's 7.9 s).
_DURABLE_KINDS = frozenset({"append", "requeue"})


class Spool(SpoolViews, SpoolOps):
    """The durable queues of one agent. Construct, :meth:`open`, use, :meth:`close`."""

    def __init__(self, state_dir: Path | str, *, max_bytes: int = 1 << 30, resume_ratio: float = 0.9,
                 sync: str = "full", max_batch_events: int = 4096, history_rows: int = 10000,
                 history_max_age_s: float = 7 * 86400, control_poll_s: float = 1.0, lock_wait_s: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        """:param lock_wait_s: how long :meth:`open` waits for a ``siemrelay dlq``/``sinks``
            command that holds the spool's lock for one short transaction."""
        super().__init__(Path(state_dir), sync)
        self.max_bytes = max_bytes
        self.resume_bytes = int(max_bytes * resume_ratio)
        self.max_batch_events = max_batch_events
        self.history_rows = history_rows
        self.history_max_age_s = history_max_age_s
        self.control_poll_s = control_poll_s
        self.lock_wait_s = lock_wait_s
        self.clock = clock
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = db.SpoolLock(self.dir)
        self._closed = threading.Event()
        self._cond = threading.Condition()  # notified after commits that add events or free space
        self._bits: dict[str, int] = {}
        self._cursors: dict[str, int] = {}
        self._states: dict[str, SinkState] = {}
        self._next_seq = 1
        self._pending_bytes = 0
        self._full = False
        self._history_counts: dict[str, int] = {}
        self._history_pruned_at = 0.0
        self._synchronous_full = sync == "full"  # what the connection's PRAGMA synchronous says now
        self._control_handler: Callable[[str, str | None], bool] | None = None
        self._runs = []
        self._moved_from = {}
        self._touched = set()
        self._history_rows = []

    # ----------------------------------------------------------------- lifecycle
    def open(self, sinks: Iterable[str], *, reset: bool = False) -> list[str]:
        """Open (or create) the database and register the configured sinks.

        A sink known to the spool but no longer configured has its undelivered
        events moved to dead letters (reason ``sink removed from configuration``),
        so nothing is lost and ``siemrelay dlq replay`` can bring them back.

        :param reset: move an unreadable database aside (``spool.db.corrupt-<time>``,
            kept, never deleted) and start empty instead of refusing.
        :returns: messages worth logging (sinks removed, database moved aside).
        :raises SpoolError: the directory is not writable, another agent uses this
            spool, or the database is corrupt.
        """
        notes: list[str] = []
        self._check_dir()
        if not self._acquire_lock():
            raise SpoolError(f"another siemrelay process (pid {self._lock.holder()}) is using the spool in {self.dir}; "
                             "one agent per state directory")
        try:
            try:
                conn = db.open_checked(self.path, self.sync)
            except SpoolError:
                if not reset:
                    raise
                notes.append(self._move_aside())
                conn = db.open_checked(self.path, self.sync)
            self._conn = conn
            notes.extend(self._load_state(list(sinks)))
        except BaseException:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._lock.release()
            raise
        self._writer = threading.Thread(target=self._write_loop, name="spool-writer")
        self._writer.start()
        return notes

    def _acquire_lock(self) -> bool:
        """Take the spool's lock, waiting out a CLI command's short transaction (not another agent)."""
        deadline = time.monotonic() + self.lock_wait_s
        told = False
        while not self._lock.acquire():
            if time.monotonic() >= deadline:
                return False
            if not told:
                told = True
                from loguru import logger

                logger.bind(component="spool").info(
                    "the spool in {} is locked by pid {}; waiting up to {:.0f}s (a siemrelay command finishing, "
                    "or another agent on the same state directory)", self.dir, self._lock.holder(), self.lock_wait_s)
            time.sleep(0.05)
        return True

    def _move_aside(self) -> str:
        stamp = int(self.clock())
        aside = self.path.with_name(f"spool.db.corrupt-{stamp}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"spool.db.corrupt-{stamp}.{n}")
            n += 1
        self.path.rename(aside)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name("spool.db" + suffix)
            if side.exists():
                side.rename(aside.with_name(aside.name + suffix))
        return f"the unreadable spool was moved aside to {aside} (kept for inspection); starting with an empty spool"

    def _load_state(self, configured: list[str]) -> list[str]:
        conn = self._conn
        assert conn is not None
        notes: list[str] = []
        if len(configured) > MAX_SINKS:
            raise SpoolError(f"at most {MAX_SINKS} sinks are supported, {len(configured)} are configured")
        self._next_seq = db.next_seq(conn)
        rows = conn.execute("SELECT name, bit, cursor, retry_seq, attempts, first_attempt, last_attempt, last_error, failures "
                            "FROM sinks").fetchall()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for name, bit, cursor, *state in rows:
                if name in configured:
                    self._bits[name] = bit
                    self._cursors[name] = cursor
                    self._states[name] = SinkState(*state)
                    continue
                moved = db.dead_letter_rest(conn, name, bit, cursor, "sink removed from configuration", self.clock())
                db.clear_bit(conn, bit)
                conn.execute("DELETE FROM sinks WHERE name=?", (name,))
                if moved:
                    notes.append(f"sink {name!r} is no longer configured: its {moved} undelivered events were moved to dead letters")
            used = set(self._bits.values())
            free = (b for b in range(MAX_SINKS) if b not in used)
            for name in configured:
                if name not in self._bits:
                    bit = next(free)
                    self._bits[name] = bit
                    self._cursors[name] = self._next_seq - 1
                    self._states[name] = SinkState()
                    conn.execute("INSERT INTO sinks (name, bit, cursor) VALUES (?, ?, ?)", (name, bit, self._next_seq - 1))
                    db.clear_bit(conn, bit)
            if self._cursors:
                floor = min(self._cursors.values())
                conn.execute("DELETE FROM segments WHERE last <= ?", (floor,))
                db.gc_range(conn, floor, max(self._cursors.values()), self._cursors, self._bits)
            conn.execute("DELETE FROM segments WHERE mask = 0")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._history_counts = dict(conn.execute("SELECT sink, count(*) FROM deliveries GROUP BY sink").fetchall())
        self._pending_bytes = db.stored_bytes(conn)
        self._full = self._pending_bytes >= self.max_bytes
        return notes

    def close(self) -> None:
        """Finish queued writes, stop the writer thread and close the database. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._writer is not None:
            self._requests.put(None)
            self._writer.join()
        if self._conn is not None:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._conn.close()
            self._conn = None
        self._lock.release()
        with self._cond:
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def set_control_handler(self, handler: Callable[[str, str | None], bool]) -> None:
        """``handler(action, sink) -> bool`` runs CLI requests that concern workers (``enable``)."""
        self._control_handler = handler

    # ----------------------------------------------------------------- state
    @property
    def sinks(self) -> dict[str, int]:
        """Configured sink names and their bit."""
        return dict(self._bits)

    def bit_of(self, sink: str) -> int:
        return self._bits[sink]

    def cursor(self, sink: str) -> int:
        """Position up to which ``sink`` has acknowledged (or dead-lettered) its events."""
        return self._cursors[sink]

    def sink_state(self, sink: str) -> SinkState:
        """The persisted retry state of ``sink`` as of the last commit."""
        return self._states.get(sink) or SinkState()

    @property
    def pending_bytes(self) -> int:
        """Bytes of events still owed to at least one sink (what the quota counts)."""
        return self._pending_bytes

    @property
    def is_full(self) -> bool:
        """Above the high water mark, and not yet back under the low one."""
        return self._full

    def wait_for_space(self, timeout: float) -> bool:
        """Block until the spool is below its low water mark; ``False`` on timeout or close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._full and not self._closed.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return not self._full and not self._closed.is_set()

    def wait_for_events(self, timeout: float) -> None:
        """Block until a commit added events (or ``timeout``); spurious wake-ups are fine."""
        with self._cond:
            self._cond.wait(timeout)

    def reader(self) -> "SpoolReader":
        """Return a reader with its own connection, for one worker thread."""
        return SpoolReader(self)

    # ----------------------------------------------------------------- writes
    def _call(self, kind: str, *args: object, wait: bool = True) -> Any:
        if self._closed.is_set():
            raise SpoolClosed("the spool is closed")
        req = _Request(kind, args)
        self._requests.put(req)
        if not wait:
            return req
        return self._result(req)

    @staticmethod
    def _result(req: _Request) -> Any:
        req.done.wait()
        if req.error is not None:
            raise req.error
        return req.result

    def append(self, events: Sequence[tuple[int, bytes]], errors: Sequence[tuple[str, str | None, bytes, str]] = ()) -> int:
        """Durably add events and decode-error records; return after the commit.

        :param events: ``(sink mask, native JSON bytes)`` per event.
        :param errors: ``(input, event id or None, raw bytes, reason)`` per record that
            could not be decoded; stored as dead letters with no sink.
        :returns: the number of events written.
        :raises SpoolFull: over quota (nothing written).
        :raises SpoolClosed: shutting down (nothing written).
        """
        pending = self.append_nowait(events, errors)
        return 0 if pending is None else pending.wait()

    def append_nowait(self, events: Sequence[tuple[int, bytes]],
                      errors: Sequence[tuple[str, str | None, bytes, str]] = (),
                      on_done: Callable[[int, BaseException | None], None] | None = None,
                      on_stored: Callable[[int], None] | None = None) -> PendingAppend | None:
        """Queue an append for the next group commit and return at once (see :meth:`append`).

        :param on_done: ``on_done(written, error)``, called on the writer thread right after
            the commit (``error`` None) or its failure; it must be short and must not block.
        :param on_stored: ``on_stored(first_seq)``, called on the writer thread after a
            successful commit, before ``on_done`` and before any sink worker is woken: the
            events were stored as ``first_seq``, ``first_seq + 1``, ... in the order given.
        :returns: a handle to wait on, or ``None`` when there was nothing to write
            (``on_done(0, None)`` has then already been called).
        :raises SpoolFull: over quota (nothing queued).
        :raises SpoolClosed: shutting down (nothing queued).
        """
        if self._full and events:
            raise SpoolFull(f"spool over quota ({self._pending_bytes} of {self.max_bytes} bytes)")
        if not events and not errors:
            if on_done is not None:
                on_done(0, None)
            return None
        if self._closed.is_set():
            raise SpoolClosed("the spool is closed")
        req = _Request("append", (list(events), list(errors)))
        if on_done is not None or on_stored is not None:
            req.on_done = lambda r: _answer(r, on_done, on_stored)
        self._requests.put(req)
        return PendingAppend(req)

    def ack(self, sink: str, position: int, *, dead: Sequence[tuple[SpooledEvent, str]] = (),
            failures: int | None = 0, wait: bool = True) -> Callable[[], None]:
        """Advance ``sink``'s cursor to ``position`` (its batch was delivered) and clear its retry state.

        :param dead: events of the range that were not sent (flood control), kept as
            dead letters with their reason in the same transaction.
        :param failures: the circuit's consecutive failures to persist (``None``: unchanged).
        :param wait: return after the commit; with ``False`` return at once and hand back
            a callable that waits for the commit (and raises its error), so a worker can
            send its next batch while this acknowledgement is written.
        """
        req = self._call("ack", sink, position, list(dead), failures, wait=wait)
        if not wait:
            return lambda: self._result(req)
        return lambda: None

    def dead_letter(self, sink: str, batch: Sequence[SpooledEvent], position: int, reason: str, attempts: int,
                    first_attempt: float | None, last_attempt: float | None, last_error: str | None,
                    failures: int | None = None, also: Sequence[tuple[SpooledEvent, str]] = ()) -> None:
        """Copy ``batch`` to dead letters for ``sink`` and advance its cursor, in one transaction.

        :param also: other events of the range to dead-letter with their own reason (flood control).
        """
        self._call("dead_letter", sink, list(batch), position, reason, attempts, first_attempt, last_attempt, last_error,
                   failures, list(also))

    def save_sink_state(self, sink: str, state: SinkState) -> None:
        """Persist ``sink``'s retry state (not waited for: it rides the next group commit)."""
        self._call("state", sink, state, wait=False)

    def reset_failures(self, sink: str) -> None:
        """Persist a re-enabled sink's failure counter as zero, keeping its head batch's
        attempts (not waited for: it rides the next group commit, after the worker's
        own earlier state writes)."""
        self._call("reset_failures", sink, wait=False)

    def record_delivery(self, sink: str, when: float, event_ids: Sequence[str], status: str, code: int | None,
                        success: bool, attempt: int, latency_ms: float, error: str | None, batch_size: int | None = None) -> None:
        """Add a delivery-history row (not waited for: it rides the next group commit)."""
        size = len(event_ids) if batch_size is None else batch_size
        ids = ",".join(event_ids[:50]) + (",…" if size > 50 else "")
        self._call("history", (sink, when, size, ids, status, code, int(success), attempt, latency_ms, error), wait=False)

    def requeue_dead_letters(self, ids: Sequence[int] | None, sink: str | None) -> int:
        """Put dead letters back at the end of their sink's queue (replay); returns how many."""
        return int(self._call("requeue", list(ids) if ids is not None else None, sink))

    def purge_dead_letters(self, ids: Sequence[int] | None, sink: str | None) -> int:
        """Delete dead letters; returns how many."""
        return int(self._call("purge", list(ids) if ids is not None else None, sink))

    def flush(self) -> None:
        """Return once every request queued before this call is committed."""
        self._call("noop")

    # ----------------------------------------------------------------- writer thread
    def _write_loop(self) -> None:
        conn = self._conn
        assert conn is not None
        stop = False
        next_poll = time.monotonic()
        while not stop:
            try:
                first = self._requests.get(timeout=max(0.01, next_poll - time.monotonic()))
            except queue.Empty:
                first = _Request("control", ())
            if first is None:
                break
            batch = [first]
            n_events = len(first.args[0]) if first.kind == "append" else 0
            while n_events < self.max_batch_events:
                try:
                    nxt = self._requests.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
                if nxt.kind == "append":
                    n_events += len(nxt.args[0])
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self.control_poll_s
                if first.kind != "control":
                    batch.append(_Request("control", ()))
            self._run_transaction(conn, batch)
        leftovers: list[_Request] = []
        while True:
            try:
                req = self._requests.get_nowait()
            except queue.Empty:
                break
            if req is not None:
                leftovers.append(req)
        if leftovers:
            self._run_transaction(conn, leftovers)

    def _completed(self, batch: list[_Request]) -> None:
        """Run the completion callbacks of a committed (or failed) group; one failing does not stop the writer."""
        for req in batch:
            if req.on_done is not None:
                try:
                    req.on_done(req)
                except Exception as exc:  # a caller's bug must not kill the one writer thread
                    from loguru import logger
                    logger.bind(component="spool").opt(exception=exc).error("a completion callback of the spool raised")

    def _run_transaction(self, conn: sqlite3.Connection, batch: list[_Request]) -> None:
        saved = (self._next_seq, dict(self._cursors), dict(self._states), dict(self._history_counts), self._pending_bytes)
        enables: list[str | None] = []
        added = 0
        if self.sync == "full":
            durable = any(req.kind in _DURABLE_KINDS for req in batch)
            if durable is not self._synchronous_full:
                conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._synchronous_full = durable
        try:
            conn.execute("BEGIN IMMEDIATE")
            for req in batch:
                handler = getattr(self, f"_do_{req.kind}")
                if req.kind == "append":  # numbered at the flush, after the events buffered before it
                    req.first_seq = self._next_seq + sum(len(run.datas) for run in self._runs)
                req.result = handler(conn, *req.args)
                if req.kind in ("append", "requeue"):
                    added += req.result
                elif req.kind == "control":
                    enables.extend(req.result)
            self._flush(conn)
            self._prune_history(conn)
            conn.execute("COMMIT")
        except BaseException as exc:  # the whole group fails together; callers see the error
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._next_seq, self._cursors, self._states, self._history_counts, self._pending_bytes = saved
            self._discard_unflushed()
            err: BaseException = SpoolError(f"spool write failed: {exc}") if isinstance(exc, sqlite3.Error) else exc
            for req in batch:
                req.error = err
                req.done.set()
            self._completed(batch)
            return
        was_full = self._full
        if self._pending_bytes >= self.max_bytes:
            self._full = True
        elif self._full and self._pending_bytes <= self.resume_bytes:
            self._full = False
        for req in batch:
            req.done.set()
        self._completed(batch)
        for sink in enables:
            if self._control_handler is not None:
                self._control_handler("enable", sink)
        if added or (was_full and not self._full) or any(r.kind in ("ack", "dead_letter") for r in batch):
            with self._cond:
                self._cond.notify_all()


class SpoolRead(NamedTuple):
    """What one :meth:`SpoolReader.read_batch` found."""

    events: list[SpooledEvent]
    #: acknowledging this position covers ``events`` and every event in between not for the sink
    position: int
    #: a limit (``max_events`` or ``max_bytes``) stopped the read: more events wait in the spool
    full: bool


class SpoolReader:
    """One sink worker's view of its queue, on its own connection.

    It keeps the last segment it read: a sink batch is usually smaller than a
    segment (500 of a commit's 2,000 events), and the next read continues inside it.
    Segments never change once written, and their sequence numbers are never reused.
    """

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.conn = db.connect(spool.path, spool.sync)
        self._segment: tuple[int, int, "array[int]", bytes] | None = None

    def _load(self, base: int) -> tuple[int, int, "array[int]", bytes] | None:
        seg = self._segment
        if seg is not None and seg[0] == base:
            return seg
        row = self.conn.execute("SELECT last, ends, data FROM segments WHERE base=?", (base,)).fetchone()
        if row is None:
            return None
        seg = (base, int(row[0]), unpack_ends(row[1]), bytes(row[2]))
        self._segment = seg
        return seg

    def read(self, sink: str, after: int, max_events: int, max_bytes: int) -> tuple[list[SpooledEvent], int]:
        """Read the next events for ``sink`` after position ``after``.

        :returns: ``(events, position)``: acknowledging ``position`` later covers these
            events and every event in between that was not for this sink.
        """
        got = self.read_batch(sink, after, max_events, max_bytes)
        return got.events, got.position

    def read_batch(self, sink: str, after: int, max_events: int, max_bytes: int) -> "SpoolRead":
        """:meth:`read`, also telling whether a limit stopped it (:attr:`SpoolRead.full`).

        A worker filling a batch must know the difference: a read cut short by
        ``max_bytes`` or ``max_events`` leaves events in the spool, so waiting for the
        next commit before sending would only idle (with no intake, until ``max_wait_s``).
        """
        bit = self.spool._bits[sink]
        out: list[SpooledEvent] = []
        size = 0
        seen = after
        self.conn.execute("BEGIN")  # one snapshot: the position returned never skips a later commit
        try:
            while True:
                heads = self.conn.execute(
                    "SELECT base FROM segments WHERE last > ? AND (mask >> ?) & 1 ORDER BY last LIMIT 8",
                    (seen, bit)).fetchall()
                if not heads:
                    break
                for (base,) in heads:
                    seg = self._load(base)
                    if seg is None:
                        continue
                    _, last, ends, data = seg
                    start = max(0, seen + 1 - base)
                    stop = min(len(ends), start + max_events - len(out))
                    if start < stop:
                        # the events of this segment that fit, found by bisection on the offsets and
                        # sliced out in C (the first event of a read always goes, however big)
                        prev = ends[start - 1] if start else 0
                        fit = bisect_right(ends, prev + max_bytes - size, start, stop)
                        if fit == start and not out:
                            fit = start + 1
                        offsets = ends[start:fit]
                        out.extend(map(SpooledEvent, range(base + start, base + fit),
                                       map(data.__getitem__, map(slice, chain((prev,), offsets), offsets))))
                        if fit > start:
                            size += ends[fit - 1] - prev
                        if fit < stop:  # the next event would pass max_bytes
                            return SpoolRead(out, out[-1].seq, True)
                        if len(out) == max_events:
                            return SpoolRead(out, base + fit - 1, True)
                    seen = last
            top = self.conn.execute("SELECT coalesce(max(last), 0) FROM segments").fetchone()[0]
            return SpoolRead(out, max(top, after, out[-1].seq if out else 0), False)
        finally:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()
