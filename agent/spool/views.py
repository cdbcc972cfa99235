"""Read views of the spool: the questions the live agent and the CLI both ask.

:class:`SpoolViews` answers questions (dead letters, delivery history, queue depths)
on short-lived connections, so it is safe next to a running agent (WAL readers never
block the writer). The live :class:`~agent.spool.store.Spool` inherits them; the
offline administrator that also changes things is :mod:`agent.spool.admin`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from agent.spool import db as db
from agent.spool.db import SpoolError

__all__ = ["DeadLetter", "SinkState", "SinkRow", "SpoolViews"]

#: What a read-only query returns, passed through :meth:`SpoolViews._query` unchanged.
T = TypeVar("T")


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

    def _open_reader(self) -> sqlite3.Connection:
        """The short-lived connection a view reads on (tests interpose a writer between statements)."""
        return db.connect(self.path, self.sync)

    def _query(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run the read ``fn`` in one read transaction on a short-lived connection.

        One transaction, so every statement of a view sees the same instant: a queue's
        backlog is read in two statements (its segments, then the oldest one's event), and
        between two autocommit statements the writer may delete that segment once every
        sink passed it (the same race answered the admin API's ``/api/v1/sinks`` with 500).
        In WAL mode a reader never blocks the writer.
        """
        conn = self._open_reader()
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("ROLLBACK")  # read-only: nothing to keep
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
            return db.backlog(conn, row[0], row[1])[0]
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
                n, size, _ = db.backlog(conn, cursor, bit)
                dead = conn.execute("SELECT count(*) FROM dead_letters WHERE sink=?", (name,)).fetchone()[0]
                out.append(SinkRow(name, cursor, int(n), int(size), int(dead), SinkState(*state)))
            return out
        return list(self._query(q))
