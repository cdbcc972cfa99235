"""The administrator's handle on a spool (``siemrelay dlq``, ``siemrelay sinks``).

It reads like :class:`~agent.spool.views.SpoolViews` and also changes things (replay,
purge, re-enable): when no agent runs it takes the spool's lock for that one
transaction and writes itself; when an agent runs it queues the request in the
``control`` table and waits for the agent's writer to apply it, because only that
writer knows the sequence numbers and the quota it keeps in memory.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Callable, Sequence

from agent.spool import db as db
from agent.spool.db import SpoolError
from agent.spool.views import DeadLetter, SinkRow, SinkState, SpoolViews

__all__ = ["SpoolAdmin", "SpoolViews", "DeadLetter", "SinkRow", "SinkState"]


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

    def __exit__(self, *exc: object) -> None:
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
