"""The spool's own views (``sinks``, ``queue_depth``) read one instant, whatever the writer does.

A queue's backlog is two statements: the segments still owed to the sink, then the
oldest one's event. A segment deleted between them (every sink passed it) made the
second statement find no row; the admin API's snapshot had that race and answered
500, and these views, which the CLI's ``sinks`` and the status reads use, had it too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable, Iterator

import pytest

from agent.spool import db
from agent.spool.store import Spool
from agent.testing import make_event

OLDEST_EVENT_QUERY = "SELECT ends, data FROM segments WHERE base=?"


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    sp = Spool(tmp_path / "state")
    sp.open(["archive"])
    yield sp
    sp.close()


def _fill(sp: Spool, n: int) -> int:
    mask = 1 << sp.bit_of("archive")
    sp.append([(mask, make_event(id=f"e{i}").to_json()) for i in range(n)])
    events, position = sp.reader().read("archive", 0, n, 10**9)
    assert len(events) == n
    return position


def _interpose(sp: Spool, monkeypatch: pytest.MonkeyPatch, act: Callable[[], None]) -> list[bool]:
    """Make ``sp``'s views run ``act`` (a writer's commit) right before the backlog's second statement."""
    acted: list[bool] = []

    class Interposed(sqlite3.Connection):
        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
            if sql == OLDEST_EVENT_QUERY and not acted:
                acted.append(True)
                act()
            return super().execute(sql, *args)  # type: ignore[arg-type]

    def open_reader() -> sqlite3.Connection:
        conn = sqlite3.connect(str(sp.path), isolation_level=None, timeout=30.0, factory=Interposed)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    monkeypatch.setattr(sp, "_open_reader", open_reader)
    return acted


def test_queue_depth_survives_a_segment_deleted_between_its_statements(spool: Spool,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    position = _fill(spool, 3)
    # the backlog's first statement sees the segment; the sink then delivers it all and
    # the writer deletes it before the second statement
    acted = _interpose(spool, monkeypatch, lambda: spool.ack("archive", position))
    rows = {row.name: row for row in spool.sink_rows()}
    assert acted
    assert rows["archive"].queued == 3  # the instant the read began
    monkeypatch.undo()
    assert spool.queue_depth("archive") == 0  # the next read sees the delivery


def test_backlog_of_a_deleted_segment_raised_without_one_transaction(spool: Spool) -> None:
    """The failure the transaction prevents, shown on autocommit statements: the test above is not vacuous."""
    position = _fill(spool, 2)
    conn = db.connect(spool.path)
    try:
        segments = conn.execute("SELECT base, last, ends FROM segments").fetchall()
        assert segments
        spool.ack("archive", position)  # the writer deletes the segment between two autocommit reads
        assert conn.execute(OLDEST_EVENT_QUERY, (segments[0][0],)).fetchone() is None
    finally:
        conn.close()
