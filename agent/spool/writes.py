"""The spool writer's operations: each runs inside the writer thread's transaction.

A mixin of :class:`agent.spool.store.Spool`, kept apart so each module stays readable: the
spool owns the lifecycle, the writer loop and the public calls; these methods are the
``_do_<kind>`` handlers a group commit dispatches to, plus history pruning and the
``control`` requests the CLI leaves for a running agent. They touch the in-memory
state (cursors, retry states, pending bytes, next sequence number) only from the
writer thread, and the spool rolls that state back if the transaction fails.

What can wait for the end of the transaction does (:meth:`SpoolOps._flush`): the
events of every append become segments there (one per run of equal masks, across
all the appends of the commit), each sink touched gets one ``UPDATE`` with its final
cursor and retry state, and the history rows are inserted in one statement.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable

from agent.spool import db as db
from agent.sdk.sink import SpooledEvent
from agent.spool.segments import Run, runs
from agent.spool.views import SinkState

__all__ = ["SpoolOps"]


class SpoolOps:
    """Transaction handlers of the spool writer (mixin; state lives on the Spool)."""

    _bits: dict[str, int]
    _cursors: dict[str, int]
    _states: dict[str, SinkState]
    _next_seq: int
    _pending_bytes: int
    _history_counts: dict[str, int]
    _history_pruned_at: float
    history_rows: int
    history_max_age_s: float
    clock: Callable[[], float]
    path: Path
    #: appended events of the open transaction, not yet stored as segments
    _runs: list[Run]
    #: sinks whose cursor moved in the open transaction → their cursor before it
    _moved_from: dict[str, int]
    #: sinks whose cursor or retry state changed in the open transaction
    _touched: set[str]
    _history_rows: list[tuple[Any, ...]]

    def _discard_unflushed(self) -> None:
        """Forget the open transaction's buffered writes (it was rolled back)."""
        self._runs, self._moved_from, self._touched, self._history_rows = [], {}, set(), []

    def _flush_appends(self, conn: sqlite3.Connection) -> None:
        if self._runs:
            self._next_seq, size = db.insert_runs(conn, self._next_seq, self._runs)
            self._pending_bytes += size
            self._runs = []

    def _flush(self, conn: sqlite3.Connection) -> None:
        """Write what the transaction's requests buffered (see the module doc)."""
        self._flush_appends(conn)
        if self._touched:
            rows = []
            for sink in self._touched:
                st = self._states.get(sink) or SinkState()
                rows.append((self._cursors[sink], st.retry_seq, st.attempts, st.first_attempt, st.last_attempt,
                             st.last_error, st.failures, sink))
            conn.executemany("UPDATE sinks SET cursor=?, retry_seq=?, attempts=?, first_attempt=?, last_attempt=?, "
                             "last_error=?, failures=? WHERE name=?", rows)
            self._touched = set()
        for sink, old in self._moved_from.items():
            self._pending_bytes -= db.gc_range(conn, old, self._cursors[sink], self._cursors, self._bits)
        self._moved_from = {}
        if self._history_rows:
            conn.executemany("INSERT INTO deliveries (sink, time, batch_size, event_ids, status, code, success, attempt, "
                             "latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", self._history_rows)
            self._history_rows = []

    def _do_noop(self, conn: sqlite3.Connection) -> None:
        return None

    def _do_append(self, conn: sqlite3.Connection, events: list[tuple[int, bytes]],
                   errors: list[tuple[str, str | None, bytes, str]]) -> int:
        if events:
            self._runs.extend(runs(events, self._runs[-1] if self._runs else None))
        if errors:
            now = self.clock()
            conn.executemany(
                "INSERT INTO dead_letters (sink, input, event_id, data, reason, attempts, created) VALUES (NULL, ?, ?, ?, ?, 0, ?)",
                [(inp, eid, raw, reason, now) for inp, eid, raw, reason in errors])
        return len(events)

    def _advance(self, conn: sqlite3.Connection, sink: str, position: int, failures: int | None) -> None:
        old = self._cursors.get(sink, 0)
        state = self._states.get(sink) or SinkState()
        fails = state.failures if failures is None else failures
        self._states[sink] = SinkState(failures=fails)
        self._touched.add(sink)
        if position > old:
            self._moved_from.setdefault(sink, old)
            self._cursors[sink] = position

    def _insert_dead(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(
            "INSERT INTO dead_letters (sink, input, event_id, data, reason, attempts, first_attempt, last_attempt, last_error, created) "
            "VALUES (?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _do_ack(self, conn: sqlite3.Connection, sink: str, position: int, dead: list[tuple[SpooledEvent, str]],
                failures: int | None) -> None:
        if dead:
            now = self.clock()
            self._insert_dead(conn, [(sink, db.event_id_of(ev.data), ev.data, reason, 0, None, None, None, now) for ev, reason in dead])
        self._advance(conn, sink, position, failures)

    def _do_dead_letter(self, conn: sqlite3.Connection, sink: str, batch: list[SpooledEvent], position: int, reason: str,
                        attempts: int, first: float | None, last: float | None, last_error: str | None,
                        failures: int | None, also: list[tuple[SpooledEvent, str]]) -> None:
        now = self.clock()
        self._insert_dead(conn, [(sink, db.event_id_of(ev.data), ev.data, reason, attempts, first, last, last_error, now)
                                 for ev in batch])
        self._do_ack(conn, sink, position, also, failures)

    def _do_state(self, conn: sqlite3.Connection, sink: str, state: SinkState) -> None:
        self._states[sink] = state
        if sink in self._cursors:
            self._touched.add(sink)

    def _do_reset_failures(self, conn: sqlite3.Connection, sink: str) -> None:
        if sink in self._bits:
            st = self._states.get(sink) or SinkState()
            self._do_state(conn, sink, SinkState(st.retry_seq, st.attempts, st.first_attempt, st.last_attempt,
                                                 st.last_error, 0))

    def _do_history(self, conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
        self._history_rows.append(row)
        sink = row[0]
        self._history_counts[sink] = self._history_counts.get(sink, 0) + 1

    def _prune_history(self, conn: sqlite3.Connection) -> None:
        for sink, count in list(self._history_counts.items()):
            if count > self.history_rows * 1.1 + 10:
                conn.execute("DELETE FROM deliveries WHERE sink=? AND id < (SELECT id FROM deliveries WHERE sink=? "
                             "ORDER BY id DESC LIMIT 1 OFFSET ?)", (sink, sink, self.history_rows - 1))
                self._history_counts[sink] = self.history_rows
        now = self.clock()
        if now - self._history_pruned_at >= 60.0:
            self._history_pruned_at = now
            if conn.execute("DELETE FROM deliveries WHERE time < ?", (now - self.history_max_age_s,)).rowcount:
                self._history_counts = dict(conn.execute("SELECT sink, count(*) FROM deliveries GROUP BY sink").fetchall())

    def _do_requeue(self, conn: sqlite3.Connection, ids: list[int] | None, sink: str | None) -> int:
        self._flush_appends(conn)  # sequence numbers in commit order: earlier appends first
        n, size, self._next_seq = db.requeue(conn, ids, sink, self._bits, self._next_seq)
        self._pending_bytes += size
        return n

    def _do_purge(self, conn: sqlite3.Connection, ids: list[int] | None, sink: str | None) -> int:
        return db.purge(conn, ids, sink)

    def _do_control(self, conn: sqlite3.Connection) -> list[str | None]:
        """Run the CLI's pending requests (replay, purge, enable) inside this transaction."""
        enables: list[str | None] = []
        now = self.clock()
        rows = conn.execute("SELECT id, action, sink, ids FROM control WHERE done IS NULL ORDER BY id").fetchall()
        for rid, action, sink, ids_text in rows:
            ids = [int(x) for x in ids_text.split(",") if x] if ids_text is not None else None
            result, error = 0, None
            if action == "replay":
                result = self._do_requeue(conn, ids, sink)
            elif action == "purge":
                result = self._do_purge(conn, ids, sink)
            elif action == "enable":
                if sink in self._bits:
                    state = self._states.get(sink) or SinkState()
                    self._do_state(conn, sink, SinkState(state.retry_seq, state.attempts, state.first_attempt,
                                                         state.last_attempt, state.last_error, 0))
                    enables.append(sink)
                    result = 1
                else:
                    error = f"no sink named {sink!r} in the running agent"
            else:
                error = f"unknown action {action!r}"
            conn.execute("UPDATE control SET done=?, result=?, error=? WHERE id=?", (now, result, error, rid))
        conn.execute("DELETE FROM control WHERE done IS NOT NULL AND done < ?", (now - 86400,))
        return enables
