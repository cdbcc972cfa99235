"""Read views of the spool, and the administrator's handle on it (CLI, admin API).

:class:`SpoolViews` answers questions (dead letters, delivery history, queue depths)
on short-lived connections, so it is safe next to a running agent (WAL readers never
block the writer). :class:`SpoolAdmin` also changes things (replay, purge, re-enable):
when no agent runs it takes the spool's lock for that one transaction and writes itself; when an agent runs it
queues the request in the ``control`` table and waits for the agent's writer to apply
it, because only that writer knows the sequence numbers and the quota it keeps in
memory.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from agent.spool import db as db
from agent.spool.db import SpoolError

__all__ = ["DeadLetter", "SinkState", "SinkRow", "SpoolViews", "SpoolAdmin"]


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


@dataclass(frozen=True, slots=True)
class SinkState:
    """A sink's persisted retry state: the batch at the head of its queue and the circuit.

    :ivar retry_seq: seq of the first event of the batch being retried (None: none).
    :ivar attempts: sends of that batch so far.
    :ivar failures: consecutive failed deliveries (the circuit breaker's counter).
    """

    retry_seq: int | None = None
    attempts: int = 0
    first_attempt: float | None = None
    last_attempt: float | None = None
    last_error: str | None = None
    failures: int = 0


@dataclass(frozen=True, slots=True)
class SinkRow:
    """One line of ``siemrelay sinks list``."""

    name: str
    cursor: int
    queued: int
    queued_bytes: int
    dead_letters: int
    state: SinkState


_DEAD_COLS = "id, sink, input, event_id, data, reason, attempts, first_attempt, last_attempt, last_error, created"


class SpoolViews:
    """Read-only queries on short-lived connections."""

    def __init__(self, state_dir: Path, sync: str = "full") -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / "spool.db"
        self.sync = sync

    def _check_dir(self) -> None:
        try:
            db.make_private_dir(self.dir)
        except OSError as exc:
            raise SpoolError(f"cannot create state directory {self.dir}: {exc.strerror}") from None
        if not os.access(self.dir, os.W_OK | os.X_OK):
            raise SpoolError(f"state directory {self.dir} is not writable by this user")

    def _query(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        conn = db.connect(self.path, self.sync)
        try:
            return fn(conn)
        finally:
            conn.close()

    def _ro_conn(self) -> "contextlib.closing[sqlite3.Connection]":
        """A short-lived connection for ad-hoc queries (tests, tools), closed on exit."""
        return contextlib.closing(db.connect(self.path, self.sync))

    def queue_depth(self, sink: str) -> int:
        """Events waiting for ``sink``."""
        def q(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT cursor, bit FROM sinks WHERE name=?", (sink,)).fetchone()
            if row is None:
                return 0
            return int(conn.execute("SELECT count(*) FROM events WHERE seq > ? AND (mask >> ?) & 1", row).fetchone()[0])
        return int(self._query(q))

    def dead_letters(self, sink: str | None = None, limit: int = 100, ids: Sequence[int] | None = None) -> list[DeadLetter]:
        """Dead letters, newest first, optionally only ``sink``'s or those ``ids``."""
        clause, params = db.select_dead(list(ids) if ids is not None else None, sink)
        rows = self._query(lambda c: c.execute(f"SELECT {_DEAD_COLS} FROM dead_letters{clause} ORDER BY id DESC LIMIT ?",
                                               [*params, limit]).fetchall())
        return [DeadLetter(*r) for r in rows]

    def dead_letter_count(self, sink: str | None = None) -> int:
        clause, params = db.select_dead(None, sink)
        return int(self._query(lambda c: c.execute(f"SELECT count(*) FROM dead_letters{clause}", params).fetchone()[0]))

    def deliveries(self, sink: str, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent delivery attempts of ``sink``, newest first."""
        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            cur = conn.execute("SELECT * FROM deliveries WHERE sink=? ORDER BY id DESC LIMIT ?", (sink, limit))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
        return list(self._query(q))

    def sink_rows(self) -> list[SinkRow]:
        """Every sink the spool knows, with its queue and retry state."""
        def q(conn: sqlite3.Connection) -> list[SinkRow]:
            out = []
            for name, bit, cursor, *state in conn.execute(
                    "SELECT name, bit, cursor, retry_seq, attempts, first_attempt, last_attempt, last_error, failures "
                    "FROM sinks ORDER BY name").fetchall():
                n, size = conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM events WHERE seq > ? AND (mask >> ?) & 1",
                                       (cursor, bit)).fetchone()
                dead = conn.execute("SELECT count(*) FROM dead_letters WHERE sink=?", (name,)).fetchone()[0]
                out.append(SinkRow(name, cursor, int(n), int(size), int(dead), SinkState(*state)))
            return out
        return list(self._query(q))


class SpoolAdmin(SpoolViews):
    """The CLI's handle: reads directly, changes directly or through the running agent."""

    def __init__(self, state_dir: Path | str, *, wait_s: float = 15.0, clock: Callable[[], float] = time.time) -> None:
        super().__init__(Path(state_dir))
        self.wait_s = wait_s
        self.clock = clock
        self._lock = db.SpoolLock(self.dir)
        self._owner = False
        self._ran_by_agent: bool | None = None
        self._conn: sqlite3.Connection | None = None

    def open(self) -> "SpoolAdmin":
        """Check the database is readable.

        The spool's lock is not taken here: reads need none, and a CLI that held it
        for its whole run (``siemrelay sinks list`` from a monitoring job) would make
        an agent starting at that moment wait for it. :meth:`replay`, :meth:`purge`
        and :meth:`enable` take it only for their own transaction when no agent runs.

        :raises SpoolError: unreadable or corrupt (the file is left untouched).
        """
        self._check_dir()
        try:
            self._conn = db.open_checked(self.path, self.sync)
        except BaseException:
            self.close()
            raise
        return self

    @property
    def agent_running(self) -> bool:
        """Whether an agent held the spool at the last change (or, before any, now)."""
        if self._ran_by_agent is None:
            if self._lock.acquire():
                self._lock.release()
                return False
            return True
        return self._ran_by_agent

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._owner:
            self._lock.release()
            self._owner = False

    def __enter__(self) -> "SpoolAdmin":
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def sinks(self) -> dict[str, int]:
        return dict(self._query(lambda c: c.execute("SELECT name, bit FROM sinks").fetchall()))

    def replay(self, ids: Sequence[int] | None, sink: str | None) -> int:
        """Put dead letters back at the end of their sink's queue; returns how many."""
        return self._change("replay", sink, ids)

    def purge(self, ids: Sequence[int] | None, sink: str | None) -> int:
        return self._change("purge", sink, ids)

    def enable(self, sink: str) -> int:
        """Re-enable ``sink``: close its circuit and reset its failure counter."""
        return self._change("enable", sink, None)

    def _change(self, action: str, sink: str | None, ids: Sequence[int] | None) -> int:
        conn = self._conn
        assert conn is not None, "open() first"
        self._owner = self._lock.acquire()
        self._ran_by_agent = not self._owner
        if self._owner:
            try:
                return self._apply_offline(conn, action, sink, ids)
            finally:
                self._lock.release()
                self._owner = False
        ids_text = None if ids is None else ",".join(str(int(i)) for i in ids)
        rid = conn.execute("INSERT INTO control (action, sink, ids, created) VALUES (?, ?, ?, ?)",
                           (action, sink, ids_text, self.clock())).lastrowid
        deadline = time.monotonic() + self.wait_s
        while time.monotonic() < deadline:
            row = conn.execute("SELECT done, result, error FROM control WHERE id=?", (rid,)).fetchone()
            if row is not None and row[0] is not None:
                if row[2]:
                    raise SpoolError(row[2])
                return int(row[1] or 0)
            time.sleep(0.05)
        raise SpoolError(f"the running agent did not take the request within {self.wait_s:.0f}s; "
                         "it stays queued and is applied when the agent next polls")

    def _apply_offline(self, conn: sqlite3.Connection, action: str, sink: str | None, ids: Sequence[int] | None) -> int:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if action == "replay":
                bits = dict(conn.execute("SELECT name, bit FROM sinks").fetchall())
                n, _, _ = db.requeue(conn, ids, sink, bits, db.next_seq(conn))
            elif action == "purge":
                n = db.purge(conn, ids, sink)
            elif action == "enable":
                n = conn.execute("UPDATE sinks SET failures=0 WHERE name=?", (sink,)).rowcount
                if not n:
                    raise SpoolError(f"no sink named {sink!r} in the spool")
            else:
                raise SpoolError(f"unknown action {action!r}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(n)
