"""The durable spool: per-sink FIFO queues, dead letters and delivery history in SQLite.

Layout (one database, ``<state_dir>/spool.db``, WAL mode):

- ``events(seq, mask, size, data)``: each event's native JSON **once**, however many
  sinks it fans out to. ``mask`` has one bit per destination sink.
- ``sinks(name, bit, cursor)``: each sink's queue is "events with my bit and
  ``seq > cursor``"; acknowledging a batch advances the cursor. Rows whose seq is at
  or below every sink's cursor are deleted (garbage collection).
- ``dead_letters``: events a sink refused or that ran out of retries, and records
  that could not be decoded (``sink`` is NULL), with reason, attempts and raw bytes.
- ``deliveries``: one row per delivery attempt, kept by count.

All writes go through one writer thread that takes every request waiting, runs them
in one transaction and commits once (group commit), then wakes the callers. A
source's ``append`` returns only after that commit, which is what makes its
acknowledgement safe. Readers (one per sink worker) use their own connections.
"""

from __future__ import annotations

import collections
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from agent.sinks import SpooledEvent

__all__ = ["Spool", "SpoolError", "SpoolFull", "SpoolClosed", "SpoolReader", "DeadLetter", "MAX_SINKS"]

MAX_SINKS = 63
SCHEMA_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sinks (name TEXT PRIMARY KEY, bit INTEGER NOT NULL UNIQUE, cursor INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, mask INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, sink TEXT, input TEXT, event_id TEXT, data BLOB NOT NULL, reason TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, first_attempt REAL, last_attempt REAL, last_error TEXT, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS dead_letters_sink ON dead_letters (sink, id);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, sink TEXT NOT NULL, time REAL NOT NULL, batch_size INTEGER NOT NULL, event_ids TEXT NOT NULL,
    status TEXT NOT NULL, code INTEGER, success INTEGER NOT NULL, attempt INTEGER NOT NULL, latency_ms REAL NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS deliveries_sink ON deliveries (sink, id);
"""


class SpoolError(Exception):
    """The spool cannot be used (unreadable, corrupt, not writable)."""


class SpoolFull(Exception):
    """The spool is over its quota; the caller should push back and retry later."""


class SpoolClosed(Exception):
    """The spool is shutting down and takes no more writes."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter entry as the CLI and admin API show it."""

    id: int
    sink: str | None
    input: str | None
    event_id: str | None
    data: bytes
    reason: str
    attempts: int
    first_attempt: float | None
    last_attempt: float | None
    last_error: str | None
    created: float


@dataclass(slots=True)
class _Request:
    kind: str
    args: tuple[Any, ...]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


def _connect(path: Path, sync: str) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Spool:
    """The durable queues of one agent. Construct, :meth:`open`, use, :meth:`close`."""

    def __init__(self, state_dir: Path | str, *, max_bytes: int = 1 << 30, resume_ratio: float = 0.9,
                 sync: str = "full", max_batch_events: int = 4096, history_rows: int = 10000,
                 clock: Callable[[], float] = time.time) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / "spool.db"
        self.max_bytes = max_bytes
        self.resume_bytes = int(max_bytes * resume_ratio)
        self.sync = sync
        self.max_batch_events = max_batch_events
        self.history_rows = history_rows
        self.clock = clock
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._closed = threading.Event()
        self._cond = threading.Condition()  # notified after commits that add events or free space
        self._bits: dict[str, int] = {}
        self._cursors: dict[str, int] = {}
        self._next_seq = 1
        self._pending_bytes = 0
        self._chunks: collections.deque[tuple[int, int]] = collections.deque()  # (last seq, bytes)
        self._full = False
        self._history_count = 0

    # ----------------------------------------------------------------- lifecycle
    def open(self, sinks: Iterable[str], *, reset: bool = False) -> list[str]:
        """Open (or create) the database and register the configured sinks.

        A sink known to the spool but no longer configured has its undelivered
        events moved to dead letters (reason ``sink removed from configuration``),
        so nothing is lost and ``siemrelay dlq replay`` can bring them back.

        :param reset: move an unreadable database aside (``spool.db.corrupt-<time>``)
            and start empty instead of refusing.
        :returns: messages worth logging (sinks removed, database moved aside).
        :raises SpoolError: the directory is not writable or the database is corrupt.
        """
        notes: list[str] = []
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create state directory {self.dir}: {exc.strerror}") from None
        if not os.access(self.dir, os.W_OK | os.X_OK):
            raise SpoolError(f"state directory {self.dir} is not writable by this user")
        try:
            conn = self._open_checked()
        except SpoolError:
            if not reset:
                raise
            aside = self.path.with_name(f"spool.db.corrupt-{int(self.clock())}")
            self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                side = self.path.with_name("spool.db" + suffix)
                if side.exists():
                    side.rename(aside.with_name(aside.name + suffix))
            notes.append(f"the unreadable spool was moved aside to {aside}; starting with an empty spool")
            conn = self._open_checked()
        self._conn = conn
        notes.extend(self._load_state(list(sinks)))
        self._writer = threading.Thread(target=self._write_loop, name="spool-writer")
        self._writer.start()
        return notes

    def _open_checked(self) -> sqlite3.Connection:
        try:
            conn = _connect(self.path, self.sync)
            conn.executescript(_DDL)
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                conn.close()
                raise SpoolError(f"spool {self.path} has schema version {row[0]}, this siemrelay needs {SCHEMA_VERSION}")
            conn.execute("SELECT count(*) FROM sinks").fetchone()
            conn.execute("SELECT max(seq) FROM events").fetchone()
            return conn
        except sqlite3.DatabaseError as exc:
            raise SpoolError(
                f"the spool database {self.path} cannot be read ({exc}); it was left untouched. "
                "Start with --reset-spool to move it aside and begin with an empty spool") from None

    def _load_state(self, configured: list[str]) -> list[str]:
        conn = self._conn
        assert conn is not None
        notes: list[str] = []
        if len(configured) > MAX_SINKS:
            raise SpoolError(f"at most {MAX_SINKS} sinks are supported, {len(configured)} are configured")
        max_seq = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
        rows = conn.execute("SELECT name, bit, cursor FROM sinks").fetchall()
        max_cursor = max((r[2] for r in rows), default=0)
        self._next_seq = max(max_seq, max_cursor) + 1
        conn.execute("BEGIN IMMEDIATE")
        try:
            for name, bit, cursor in rows:
                if name in configured:
                    self._bits[name] = bit
                    self._cursors[name] = cursor
                    continue
                moved = self._dead_letter_rest(conn, name, bit, cursor, "sink removed from configuration")
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
                    conn.execute("INSERT INTO sinks VALUES (?, ?, ?)", (name, bit, self._next_seq - 1))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._history_count = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        floor = self._gc_floor()
        conn.execute("DELETE FROM events WHERE seq <= ?", (floor,))
        for last, size in conn.execute("SELECT seq, size FROM events ORDER BY seq"):
            self._chunks.append((last, size))
            self._pending_bytes += size
        self._full = self._pending_bytes >= self.max_bytes
        return notes

    def _dead_letter_rest(self, conn: sqlite3.Connection, sink: str, bit: int, cursor: int, reason: str) -> int:
        now = self.clock()
        cur = conn.execute(
            "INSERT INTO dead_letters (sink, input, event_id, data, reason, attempts, created) "
            "SELECT ?, NULL, json_extract(data, '$.id'), data, ?, 0, ? FROM events WHERE seq > ? AND (mask >> ?) & 1",
            (sink, reason, now, cursor, bit))
        return cur.rowcount

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
        with self._cond:
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # ----------------------------------------------------------------- queries
    @property
    def sinks(self) -> dict[str, int]:
        """Configured sink names and their bit."""
        return dict(self._bits)

    def bit_of(self, sink: str) -> int:
        return self._bits[sink]

    @property
    def pending_bytes(self) -> int:
        """Bytes of events not yet acknowledged by every sink they go to."""
        return self._pending_bytes

    @property
    def is_full(self) -> bool:
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
    def _call(self, kind: str, *args: Any, wait: bool = True) -> Any:
        if self._closed.is_set():
            raise SpoolClosed("the spool is closed")
        req = _Request(kind, args)
        self._requests.put(req)
        if not wait:
            return None
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
        if self._full and events:
            raise SpoolFull(f"spool over quota ({self._pending_bytes} of {self.max_bytes} bytes)")
        if not events and not errors:
            return 0
        return int(self._call("append", list(events), list(errors)))

    def ack(self, sink: str, position: int) -> None:
        """Advance ``sink``'s cursor to ``position`` (its batch was delivered)."""
        self._call("ack", sink, position)

    def dead_letter(self, sink: str, batch: Sequence[SpooledEvent], position: int, reason: str, attempts: int,
                    first_attempt: float | None, last_attempt: float | None, last_error: str | None) -> None:
        """Copy ``batch`` to dead letters for ``sink`` and advance its cursor, in one transaction."""
        self._call("dead_letter", sink, list(batch), position, reason, attempts, first_attempt, last_attempt, last_error)

    def record_delivery(self, sink: str, when: float, event_ids: Sequence[str], status: str, code: int | None,
                        success: bool, attempt: int, latency_ms: float, error: str | None) -> None:
        """Add a delivery-history row (not waited for: it rides the next group commit)."""
        ids = ",".join(event_ids[:50]) + (",…" if len(event_ids) > 50 else "")
        self._call("history", (sink, when, len(event_ids), ids, status, code, int(success), attempt, latency_ms, error), wait=False)

    def requeue_dead_letters(self, ids: Sequence[int] | None, sink: str | None) -> int:
        """Put dead letters back on their sink's queue (replay); returns how many."""
        return int(self._call("requeue", list(ids) if ids is not None else None, sink))

    def purge_dead_letters(self, ids: Sequence[int] | None, sink: str | None) -> int:
        """Delete dead letters; returns how many."""
        return int(self._call("purge", list(ids) if ids is not None else None, sink))

    # ----------------------------------------------------------------- writer thread
    def _write_loop(self) -> None:
        conn = self._conn
        assert conn is not None
        stop = False
        while not stop:
            first = self._requests.get()
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
            self._run_transaction(conn, batch)
        # drain what arrived after the stop marker
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

    def _run_transaction(self, conn: sqlite3.Connection, batch: list[_Request]) -> None:
        appended = 0
        freed = False
        chunks: list[tuple[int, int]] = []
        saved = (self._next_seq, dict(self._cursors), self._history_count)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for req in batch:
                if req.kind == "append":
                    req.result, chunk = self._do_append(conn, *req.args)
                    appended += req.result
                    if chunk is not None:
                        chunks.append(chunk)
                elif req.kind == "ack":
                    self._do_ack(conn, *req.args)
                    freed = True
                elif req.kind == "dead_letter":
                    self._do_dead_letter(conn, *req.args)
                    freed = True
                elif req.kind == "history":
                    self._do_history(conn, *req.args)
                elif req.kind == "requeue":
                    req.result, chunk = self._do_requeue(conn, *req.args)
                    if chunk is not None:
                        chunks.append(chunk)
                    appended += req.result
                elif req.kind == "purge":
                    req.result = self._do_purge(conn, *req.args)
            if freed:
                freed_bytes = self._gc(conn)
            else:
                freed_bytes = 0
            conn.execute("COMMIT")
        except BaseException as exc:  # the whole group fails together; callers see the error
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._next_seq, self._cursors, self._history_count = saved[0], saved[1], saved[2]
            err: BaseException = SpoolError(f"spool write failed: {exc}") if isinstance(exc, sqlite3.Error) else exc
            for req in batch:
                req.error = err
                req.done.set()
            return
        for chunk in chunks:
            self._chunks.append(chunk)
            self._pending_bytes += chunk[1]
        if freed_bytes:
            self._pending_bytes -= freed_bytes
        was_full = self._full
        if self._pending_bytes >= self.max_bytes:
            self._full = True
        elif self._full and self._pending_bytes <= self.resume_bytes:
            self._full = False
        for req in batch:
            req.done.set()
        if appended or (was_full and not self._full) or freed:
            with self._cond:
                self._cond.notify_all()

    def _do_append(self, conn: sqlite3.Connection, events: list[tuple[int, bytes]],
                   errors: list[tuple[str, str | None, bytes, str]]) -> tuple[int, tuple[int, int] | None]:
        chunk = None
        if events:
            seq = self._next_seq
            rows = []
            size = 0
            for mask, data in events:
                n = len(data)
                rows.append((seq, mask, n, data))
                size += n
                seq += 1
            conn.executemany("INSERT INTO events (seq, mask, size, data) VALUES (?, ?, ?, ?)", rows)
            self._next_seq = seq
            chunk = (seq - 1, size)
        if errors:
            now = self.clock()
            conn.executemany(
                "INSERT INTO dead_letters (sink, input, event_id, data, reason, attempts, created) VALUES (NULL, ?, ?, ?, ?, 0, ?)",
                [(inp, eid, raw, reason, now) for inp, eid, raw, reason in errors])
        return len(events), chunk

    def _do_ack(self, conn: sqlite3.Connection, sink: str, position: int) -> None:
        if position > self._cursors.get(sink, 0):
            conn.execute("UPDATE sinks SET cursor=? WHERE name=?", (position, sink))
            self._cursors[sink] = position

    def _do_dead_letter(self, conn: sqlite3.Connection, sink: str, batch: list[SpooledEvent], position: int, reason: str,
                        attempts: int, first: float | None, last: float | None, last_error: str | None) -> None:
        now = self.clock()
        conn.executemany(
            "INSERT INTO dead_letters (sink, input, event_id, data, reason, attempts, first_attempt, last_attempt, last_error, created) "
            "VALUES (?, NULL, json_extract(?, '$.id'), ?, ?, ?, ?, ?, ?, ?)",
            [(sink, ev.data, ev.data, reason, attempts, first, last, last_error, now) for ev in batch])
        self._do_ack(conn, sink, position)

    def _do_history(self, conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
        conn.execute("INSERT INTO deliveries (sink, time, batch_size, event_ids, status, code, success, attempt, latency_ms, error) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        self._history_count += 1
        if self._history_count > self.history_rows * 1.1:
            conn.execute("DELETE FROM deliveries WHERE id <= (SELECT max(id) FROM deliveries) - ?", (self.history_rows,))
            self._history_count = self.history_rows

    def _select_dead(self, ids: list[int] | None, sink: str | None) -> tuple[str, list[Any]]:
        where, params = [], []
        if ids is not None:
            where.append(f"id IN ({','.join('?' * len(ids))})" if ids else "0")
            params.extend(ids)
        if sink is not None:
            where.append("sink = ?")
            params.append(sink)
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def _do_requeue(self, conn: sqlite3.Connection, ids: list[int] | None, sink: str | None) -> tuple[int, tuple[int, int] | None]:
        clause, params = self._select_dead(ids, sink)
        rows = conn.execute(f"SELECT id, sink, data FROM dead_letters{clause} ORDER BY id", params).fetchall()
        events, done = [], []
        for rid, target, data in rows:
            if target is None or target not in self._bits:
                continue  # decode errors and removed sinks have no queue to return to
            events.append((1 << self._bits[target], data))
            done.append(rid)
        n, chunk = self._do_append(conn, events, [])
        conn.executemany("DELETE FROM dead_letters WHERE id=?", [(r,) for r in done])
        return n, chunk

    def _do_purge(self, conn: sqlite3.Connection, ids: list[int] | None, sink: str | None) -> int:
        clause, params = self._select_dead(ids, sink)
        return conn.execute(f"DELETE FROM dead_letters{clause}", params).rowcount

    def _gc_floor(self) -> int:
        return min(self._cursors.values(), default=self._next_seq - 1)

    def _gc(self, conn: sqlite3.Connection) -> int:
        floor = self._gc_floor()
        freed = 0
        last = None
        while self._chunks and self._chunks[0][0] <= floor:
            last, size = self._chunks.popleft()
            freed += size
        if last is not None:
            conn.execute("DELETE FROM events WHERE seq <= ?", (last,))
        return freed

    # ----------------------------------------------------------------- read-only views
    def _ro(self) -> sqlite3.Connection:
        return _connect(self.path, self.sync)

    def queue_depth(self, sink: str) -> int:
        """Events waiting for ``sink``."""
        with self._ro_conn() as conn:
            return int(conn.execute("SELECT count(*) FROM events WHERE seq > ? AND (mask >> ?) & 1",
                                    (self._cursors.get(sink, 0), self._bits[sink])).fetchone()[0])

    def dead_letters(self, sink: str | None = None, limit: int = 100, ids: Sequence[int] | None = None) -> list[DeadLetter]:
        clause, params = self._select_dead(list(ids) if ids is not None else None, sink)
        with self._ro_conn() as conn:
            rows = conn.execute(f"SELECT id, sink, input, event_id, data, reason, attempts, first_attempt, last_attempt, last_error, created "
                                f"FROM dead_letters{clause} ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
        return [DeadLetter(*r) for r in rows]

    def deliveries(self, sink: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._ro_conn() as conn:
            cur = conn.execute("SELECT * FROM deliveries WHERE sink=? ORDER BY id DESC LIMIT ?", (sink, limit))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    class _RoConn:
        def __init__(self, spool: "Spool") -> None:
            self.conn = spool._ro()

        def __enter__(self) -> sqlite3.Connection:
            return self.conn

        def __exit__(self, *exc: Any) -> None:
            self.conn.close()

    def _ro_conn(self) -> "Spool._RoConn":
        return Spool._RoConn(self)


class SpoolReader:
    """One sink worker's view of its queue, on its own connection."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.conn = _connect(spool.path, spool.sync)

    def read(self, sink: str, after: int, max_events: int, max_bytes: int) -> tuple[list[SpooledEvent], int]:
        """Read the next events for ``sink`` after position ``after``.

        :returns: ``(events, position)``: acknowledging ``position`` later covers these
            events and every event in between that was not for this sink.
        """
        bit = self.spool._bits[sink]
        self.conn.execute("BEGIN")
        try:
            rows = self.conn.execute(
                "SELECT seq, data FROM events WHERE seq > ? AND (mask >> ?) & 1 ORDER BY seq LIMIT ?",
                (after, bit, max_events)).fetchall()
            out: list[SpooledEvent] = []
            size = 0
            for seq, data in rows:
                if out and size + len(data) > max_bytes:
                    return out, out[-1].seq
                out.append(SpooledEvent(seq, data))
                size += len(data)
            if len(rows) == max_events:
                return out, out[-1].seq
            top = self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]
            return out, max(top, after, out[-1].seq if out else 0)
        finally:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()
