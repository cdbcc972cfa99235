"""The admin API's view of the spool is one consistent instant, whatever the writer does meanwhile.

Right after start-up, sinks deliver fast and the spool deletes each segment as soon
as every sink has passed it. A queue's backlog is read in two statements (its
segments, then the oldest one's event); a delete committed between them once made
``/api/v1/sinks`` answer 500. These tests put the writer's delete exactly there.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from agent.admin.state import spool_snapshot
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
    """Spool ``n`` events for the one sink; returns the position of the last."""
    mask = 1 << sp.bit_of("archive")
    sp.append([(mask, make_event(id=f"e{i}", title=f"event {i}").to_json()) for i in range(n)])
    events, position = sp.reader().read("archive", 0, n, 10**9)
    assert len(events) == n
    return position


def _writer_between_statements(before_query: str, act: Callable[[], None]) -> Callable[[Path], sqlite3.Connection]:
    """A ``connect`` for :func:`spool_snapshot` whose connection lets the writer ``act`` right
    before the statement ``before_query`` runs, once."""

    class Interposed(sqlite3.Connection):
        acted = False

        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
            if sql == before_query and not Interposed.acted:
                Interposed.acted = True
                act()
            return super().execute(sql, *args)

    def connect(path: Path) -> sqlite3.Connection:
        return sqlite3.connect(str(path), timeout=5.0, isolation_level=None, factory=Interposed)

    connect.interposed = Interposed  # type: ignore[attr-defined]
    return connect


def test_a_segment_deleted_between_the_backlog_statements_does_not_break_the_snapshot(spool: Spool) -> None:
    position = _fill(spool, 3)
    # the sink delivers everything: the writer deletes the segment, between the reader's two statements
    connect = _writer_between_statements(OLDEST_EVENT_QUERY, lambda: spool.ack("archive", position))
    snap = spool_snapshot(spool.path, connect=connect)
    assert connect.interposed.acted  # type: ignore[attr-defined]
    assert snap.depth == {"archive": 3}  # the instant the snapshot began: three queued
    assert snap.oldest_age_s["archive"] >= 0.0
    assert spool_snapshot(spool.path).depth == {"archive": 0}  # and the next one sees the delivery


def test_the_snapshot_reads_every_table_at_one_instant(spool: Spool) -> None:
    position = _fill(spool, 2)
    # a dead letter committed between the queue query and the dead-letter query is not half-seen
    dead = spool.reader().read("archive", 0, 2, 10**9)[0]
    connect = _writer_between_statements(
        "SELECT sink, input, count(*) FROM dead_letters GROUP BY sink, input",
        lambda: spool.ack("archive", position, dead=[(e, "flood") for e in dead]))
    snap = spool_snapshot(spool.path, connect=connect)
    assert snap.depth == {"archive": 2}
    assert snap.dead_by_sink == {}
    later = spool_snapshot(spool.path)
    assert later.depth == {"archive": 0}
    assert later.dead_by_sink == {"archive": 2}
