"""The durable spool: queues, exact garbage collection, quota, dead letters, history,
persisted retry state, control requests, corrupt files and crash safety."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agent.sdk.sink import SpooledEvent
from agent.spool.store import SinkState, Spool, SpoolError, SpoolFull
from agent.spool.admin import SpoolAdmin
from agent.testing import FakeClock, make_event

ROOT = Path(__file__).resolve().parents[4]


def _ev(i: int, pad: int = 0) -> bytes:
    return make_event(id=f"e{i}", title=f"event {i}", raw={"n": i}, description="x" * pad).to_json()


@pytest.fixture
def spool(tmp_path):
    made: list[Spool] = []

    def make(sinks=("a", "b"), **kw) -> Spool:
        sp = Spool(tmp_path / "state", **kw)
        sp.open(list(sinks))
        made.append(sp)
        return sp

    yield make
    for sp in made:
        sp.close()


def _all_rows(sp: Spool) -> list[tuple[int, int]]:
    """``(seq, mask)`` of every stored event (segments expanded)."""
    conn = sqlite3.connect(str(sp.path))
    try:
        segments = conn.execute("SELECT base, last, mask FROM segments ORDER BY base").fetchall()
        return [(seq, mask) for base, last, mask in segments for seq in range(base, last + 1)]
    finally:
        conn.close()


def _stored_bytes(sp: Spool) -> int:
    conn = sqlite3.connect(str(sp.path))
    try:
        return int(conn.execute("SELECT coalesce(sum(size), 0) FROM segments").fetchone()[0])
    finally:
        conn.close()


def test_fan_out_event_is_stored_once_and_read_by_each_sink(spool):
    sp = spool()
    a, b = 1 << sp.bit_of("a"), 1 << sp.bit_of("b")
    sp.append([(a | b, _ev(1)), (a, _ev(2)), (b, _ev(3))])
    assert len(_all_rows(sp)) == 3
    reader = sp.reader()
    got_a, end_a = reader.read("a", sp.cursor("a"), 10, 1 << 20)
    got_b, _ = reader.read("b", sp.cursor("b"), 10, 1 << 20)
    reader.close()
    assert [e.seq for e in got_a] == [1, 2] and [e.seq for e in got_b] == [1, 3]
    assert end_a == 3  # acknowledging covers event 3, which was not for a


def test_read_respects_count_and_byte_limits(spool):
    sp = spool(sinks=("a",))
    sp.append([(1, _ev(i, 100)) for i in range(10)])
    reader = sp.reader()
    by_count, end = reader.read("a", 0, 4, 1 << 20)
    size = len(by_count[0].data)
    by_bytes, _ = reader.read("a", 0, 100, size * 3 - 1)
    reader.close()
    assert len(by_count) == 4 and end == 4 and len(by_bytes) == 2


def test_a_down_sink_holds_only_its_own_rows(spool):
    sp = spool()
    a, b = 1 << sp.bit_of("a"), 1 << sp.bit_of("b")
    sp.append([(a, _ev(i)) for i in range(50)] + [(a | b, _ev(100 + i)) for i in range(10)] + [(a, _ev(200 + i)) for i in range(50)])
    sp.ack("a", 110)  # b is down: it has acknowledged nothing
    rows = _all_rows(sp)
    assert [seq for seq, _ in rows] == list(range(51, 61))  # only the fan-out rows b still needs
    assert sp.pending_bytes == _stored_bytes(sp)
    sp.ack("b", 110)
    assert _all_rows(sp) == [] and sp.pending_bytes == 0


def test_pending_bytes_follow_acks_in_any_order(spool):
    sp = spool(sinks=("a", "b", "c"))
    bits = {n: 1 << sp.bit_of(n) for n in "abc"}
    masks = [bits["a"] | bits["b"], bits["c"], bits["a"] | bits["c"], bits["b"], bits["a"] | bits["b"] | bits["c"]] * 20
    sp.append([(m, _ev(i, i % 7 * 10)) for i, m in enumerate(masks)])
    for sink, pos in [("c", 40), ("a", 17), ("b", 90), ("a", 100), ("c", 73), ("b", 100), ("c", 100)]:
        sp.ack(sink, pos)
        assert sp.pending_bytes == _stored_bytes(sp)
    assert _all_rows(sp) == []


def test_quota_pauses_at_high_mark_and_resumes_at_low_mark(spool):
    sp = spool(sinks=("a",), max_bytes=20_000, resume_ratio=0.5)
    data = _ev(0, 900)
    n = 0
    with pytest.raises(SpoolFull):
        while True:
            sp.append([(1, data)])
            n += 1
    assert sp.is_full and sp.pending_bytes >= 20_000
    sp.ack("a", n // 4)  # still above the low water mark
    assert sp.is_full and not sp.wait_for_space(0.01)
    sp.ack("a", n * 3 // 4)
    assert not sp.is_full and sp.wait_for_space(0.01)
    sp.append([(1, data)])


def test_decode_errors_and_dead_letters_keep_their_details(spool):
    sp = spool(sinks=("a",))
    sp.append([(1, _ev(1)), (1, _ev(2))], errors=[("web", None, b"{bad", "json: unexpected end")])
    batch = [SpooledEvent(1, _ev(1))]
    sp.dead_letter("a", batch, 1, "retries exhausted after 4 attempts", 4, 100.0, 160.0, "HTTP 503")
    dead = sp.dead_letters()
    assert len(dead) == 2
    mine = next(d for d in dead if d.sink == "a")
    assert (mine.event_id, mine.attempts, mine.first_attempt, mine.last_attempt, mine.last_error) == ("e1", 4, 100.0, 160.0, "HTTP 503")
    decode = next(d for d in dead if d.sink is None)
    assert decode.input == "web" and decode.data == b"{bad"
    assert sp.cursor("a") == 1


def test_replay_puts_dead_letters_back_on_that_sinks_queue_only(spool):
    sp = spool()
    a, b = 1 << sp.bit_of("a"), 1 << sp.bit_of("b")
    sp.append([(a | b, _ev(1))])
    sp.dead_letter("a", [SpooledEvent(1, _ev(1))], 1, "rejected: HTTP 400", 1, 1.0, 1.0, "HTTP 400")
    assert sp.requeue_dead_letters(None, "a") == 1
    reader = sp.reader()
    got_a, _ = reader.read("a", sp.cursor("a"), 10, 1 << 20)
    got_b, _ = reader.read("b", sp.cursor("b"), 10, 1 << 20)
    reader.close()
    assert [e.data for e in got_a] == [_ev(1)] and got_a[0].seq == 2
    assert [e.seq for e in got_b] == [1]  # b still has the original, not the replayed copy
    assert sp.dead_letters() == []
    assert sp.pending_bytes == _stored_bytes(sp)


def test_purge_by_sink_and_ids(spool):
    sp = spool()
    sp.append([(1 << sp.bit_of("a"), _ev(i)) for i in range(3)])
    sp.dead_letter("a", [SpooledEvent(i + 1, _ev(i)) for i in range(3)], 3, "r", 1, 1.0, 1.0, "e")
    ids = [d.id for d in sp.dead_letters("a")]
    assert sp.purge_dead_letters(ids[:1], None) == 1
    assert sp.purge_dead_letters(None, "b") == 0
    assert sp.purge_dead_letters(None, "a") == 2


def test_history_is_kept_by_count_per_sink_and_by_age(tmp_path):
    clock = FakeClock(start=1_000_000.0)
    sp = Spool(tmp_path, history_rows=20, history_max_age_s=3600, clock=clock)
    sp.open(["a", "b"])
    try:
        for i in range(40):
            sp.record_delivery("a", clock() - 10, [f"e{i}"], "ok", 200, True, 1, 1.0, None)
        for i in range(5):
            sp.record_delivery("b", clock() - 7200, [f"b{i}"], "retry", 503, False, i + 1, 2.0, "HTTP 503")
        sp.flush()
        # pruning by age runs at most once a minute: the writer may have committed the
        # rows above in several transactions, the first of which pruned before any "b" row
        clock.advance(61)
        sp.flush()
        a_rows = sp.deliveries("a", 100)
        assert len(a_rows) == 20 and a_rows[0]["event_ids"] == "e39"  # newest kept
        assert sp.deliveries("b", 100) == []  # older than history_max_age_s
    finally:
        sp.close()


def test_history_row_has_every_field(spool):
    sp = spool(sinks=("a",))
    ids = [f"id{i}" for i in range(60)]
    now = time.time()
    sp.record_delivery("a", now, ids, "retry", 429, False, 3, 12.5, "HTTP 429")
    sp.flush()
    row = sp.deliveries("a")[0]
    assert {k: row[k] for k in ("sink", "time", "batch_size", "status", "code", "success", "attempt", "latency_ms", "error")} == \
        {"sink": "a", "time": now, "batch_size": 60, "status": "retry", "code": 429, "success": 0, "attempt": 3,
         "latency_ms": 12.5, "error": "HTTP 429"}
    assert row["event_ids"].startswith("id0,id1,") and row["event_ids"].endswith(",…")


def test_retry_state_survives_a_restart(tmp_path):
    sp = Spool(tmp_path)
    sp.open(["a"])
    sp.append([(1, _ev(1))])
    sp.save_sink_state("a", SinkState(1, 3, 10.0, 20.0, "HTTP 503", 7))
    sp.close()
    sp = Spool(tmp_path)
    sp.open(["a"])
    try:
        assert sp.sink_state("a") == SinkState(1, 3, 10.0, 20.0, "HTTP 503", 7)
        sp.ack("a", 1)
        assert sp.sink_state("a") == SinkState()
    finally:
        sp.close()


def test_removed_sink_moves_its_backlog_to_dead_letters(tmp_path):
    sp = Spool(tmp_path)
    sp.open(["a", "b"])
    a, b = 1 << sp.bit_of("a"), 1 << sp.bit_of("b")
    sp.append([(a | b, _ev(1)), (b, _ev(2))])
    sp.close()
    sp = Spool(tmp_path)
    notes = sp.open(["a"])
    try:
        assert any("'b'" in n and "2 undelivered" in n for n in notes)
        assert {d.event_id for d in sp.dead_letters("b")} == {"e1", "e2"}
        assert [seq for seq, _ in _all_rows(sp)] == [1]  # only a's copy remains
        assert sp.pending_bytes == _stored_bytes(sp)
    finally:
        sp.close()


def test_a_second_agent_on_the_same_spool_is_refused(tmp_path):
    first = Spool(tmp_path)
    first.open(["a"])
    try:
        with pytest.raises(SpoolError, match="another siemrelay process"):
            Spool(tmp_path, lock_wait_s=0).open(["a"])
    finally:
        first.close()
    again = Spool(tmp_path)
    again.open(["a"])
    again.close()


def test_corrupt_spool_is_refused_then_kept_aside_with_reset(tmp_path):
    junk = b"this is not a database, just bytes\n" * 200
    (tmp_path / "spool.db").write_bytes(junk)
    with pytest.raises(SpoolError) as err:
        Spool(tmp_path).open(["a"])
    assert "cannot be read" in str(err.value) and "--reset-spool" in str(err.value)
    assert (tmp_path / "spool.db").read_bytes() == junk  # untouched
    sp = Spool(tmp_path)
    notes = sp.open(["a"], reset=True)
    try:
        aside = [p for p in tmp_path.iterdir() if p.name.startswith("spool.db.corrupt-")]
        assert len(aside) == 1 and aside[0].read_bytes() == junk  # kept, never deleted
        assert any(str(aside[0]) in n for n in notes)
        sp.append([(1, _ev(1))])
    finally:
        sp.close()


def test_version_1_spool_is_migrated(tmp_path):
    conn = sqlite3.connect(str(tmp_path / "spool.db"))
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE sinks (name TEXT PRIMARY KEY, bit INTEGER NOT NULL UNIQUE, cursor INTEGER NOT NULL);
        CREATE TABLE events (seq INTEGER PRIMARY KEY, mask INTEGER NOT NULL, size INTEGER NOT NULL, data BLOB NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        INSERT INTO sinks VALUES ('a', 0, 0);
    """)
    conn.execute("INSERT INTO events VALUES (1, 1, ?, ?)", (len(_ev(1)), _ev(1)))
    conn.commit()
    conn.close()
    sp = Spool(tmp_path)
    sp.open(["a"])
    try:
        reader = sp.reader()
        got, _ = reader.read("a", 0, 10, 1 << 20)
        reader.close()
        assert [e.data for e in got] == [_ev(1)] and sp.sink_state("a") == SinkState()
    finally:
        sp.close()


def test_admin_changes_go_through_the_running_agent(tmp_path):
    sp = Spool(tmp_path, control_poll_s=0.05)
    sp.open(["a"])
    enabled: list = []
    sp.set_control_handler(lambda action, sink: enabled.append((action, sink)) or True)
    try:
        sp.append([(1, _ev(1))])
        sp.dead_letter("a", [SpooledEvent(1, _ev(1))], 1, "r", 1, 1.0, 1.0, "e")
        with SpoolAdmin(tmp_path, wait_s=5) as admin:
            assert admin.agent_running
            assert admin.replay(None, "a") == 1
            assert admin.enable("a") == 1
            with pytest.raises(SpoolError, match="no sink named 'zz'"):
                admin.enable("zz")
        assert enabled == [("enable", "a")]
        assert sp.pending_bytes == _stored_bytes(sp) > 0  # the agent's own accounting saw the replay
    finally:
        sp.close()


def test_admin_changes_directly_when_no_agent_runs(tmp_path):
    sp = Spool(tmp_path)
    sp.open(["a"])
    sp.append([(1, _ev(1))])
    sp.dead_letter("a", [SpooledEvent(1, _ev(1))], 1, "r", 1, 1.0, 1.0, "e")
    sp.save_sink_state("a", SinkState(None, 0, None, None, None, 9))
    sp.close()
    with SpoolAdmin(tmp_path) as admin:
        assert not admin.agent_running
        assert admin.replay(None, None) == 1
        assert admin.enable("a") == 1
        rows = admin.sink_rows()
        assert rows[0].name == "a" and rows[0].queued == 1 and rows[0].state.failures == 0
    sp = Spool(tmp_path)
    sp.open(["a"])
    try:
        assert sp.queue_depth("a") == 1 and sp.pending_bytes == _stored_bytes(sp)
    finally:
        sp.close()


def test_a_cli_reading_the_spool_does_not_keep_the_agent_from_starting(tmp_path):
    first = Spool(tmp_path)
    first.open(["a"])
    first.close()
    with SpoolAdmin(tmp_path) as admin:  # e.g. `siemrelay sinks list` from a monitoring job
        assert admin.sink_rows()[0].name == "a"
        sp = Spool(tmp_path, lock_wait_s=0)
        sp.open(["a"])  # refused before: the CLI held the lock for its whole run
        try:
            assert admin.agent_running
        finally:
            sp.close()


def test_an_agent_starting_during_an_offline_cli_change_waits_for_it(tmp_path):
    sp = Spool(tmp_path)
    sp.open(["a"])
    sp.append([(1, _ev(1))])
    sp.dead_letter("a", [SpooledEvent(1, _ev(1))], 1, "r", 1, 1.0, 1.0, "e")
    sp.close()
    with SpoolAdmin(tmp_path) as admin:
        admin._lock.acquire()  # the CLI is inside its transaction
        opened: list[Spool] = []
        agent = Spool(tmp_path, lock_wait_s=30)
        starter = threading.Thread(target=lambda: (agent.open(["a"]), opened.append(agent)))
        starter.start()
        assert opened == []
        assert admin._apply_offline(admin._conn, "replay", "a", None) == 1
        admin._lock.release()
        starter.join(30)
    try:
        assert opened == [agent] and agent.queue_depth("a") == 1 and agent.pending_bytes == _stored_bytes(agent)
    finally:
        agent.close()


def test_replay_while_the_agent_appends_keeps_sequence_numbers_unique_and_ordered(tmp_path):
    sp = Spool(tmp_path, control_poll_s=0.01, sync="normal")
    sp.open(["a", "b"])
    try:
        sp.append([(0b11, _ev(i)) for i in range(200)])
        sp.dead_letter("a", [SpooledEvent(i + 1, _ev(i)) for i in range(200)], 200, "r", 1, 1.0, 1.0, "e")
        stop = threading.Event()
        errors: list[BaseException] = []

        def producer() -> None:
            n = 1000
            while not stop.is_set():
                try:
                    sp.append([(0b10, _ev(n + i)) for i in range(20)])
                except BaseException as exc:  # a seq collision fails the group commit
                    errors.append(exc)
                    return
                n += 20
                time.sleep(0.001)

        t = threading.Thread(target=producer)
        t.start()
        try:
            replayed = 0
            with SpoolAdmin(tmp_path, wait_s=10) as admin:  # the CLI, as `siemrelay dlq replay` runs it
                dead = [d.id for d in admin.dead_letters("a", 1000)]
                for chunk in (dead[:50], dead[50:120], dead[120:]):
                    replayed += admin.replay(chunk, None)
                assert admin.agent_running
        finally:
            stop.set()
            t.join(10)
        assert errors == [] and replayed == 200
        sp.flush()
        reader = sp.reader()
        got_a, _ = reader.read("a", sp.cursor("a"), 10_000, 1 << 30)
        got_b, _ = reader.read("b", sp.cursor("b"), 100_000, 1 << 30)
        reader.close()
        seqs = [e.seq for e in got_a]
        assert sorted(seqs) == seqs and len(set(seqs)) == 200 and min(seqs) > 200  # new positions at the end
        assert sorted(e.data for e in got_a) == sorted(_ev(i) for i in range(200))
        assert all(e.seq not in set(seqs) for e in got_b if e.data not in {_ev(i) for i in range(200)})
        assert sp.pending_bytes == _stored_bytes(sp)
    finally:
        sp.close()


_WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from agent.spool.store import Spool
    from agent.testing import make_event
    sp = Spool({state!r}, sync="full")
    sp.open(["a"])
    n = 0
    while True:
        sp.append([(1, make_event(id=f"c{{n + i}}").to_json()) for i in range(50)])
        n += 50
        if n % 500 == 0:
            sp.ack("a", n - 250)   # a sink acknowledging part of it meanwhile
        sys.stdout.write(f"{{n}}\\n")
        sys.stdout.flush()
""")


def test_kill_9_while_writing_loses_nothing_committed(tmp_path):
    script = tmp_path / "writer.py"
    state = tmp_path / "state"
    script.write_text(_WRITER.format(root=str(ROOT), state=str(state)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    last = 0
    try:
        deadline = time.monotonic() + 30
        while last < 3000 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            last = int(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert last >= 3000, "the writer did not get going"
    sp = Spool(state)
    sp.open(["a"])
    try:
        cursor = sp.cursor("a")
        reader = sp.reader()
        rows, _ = reader.read("a", cursor, 10_000_000, 1 << 40)
        reader.close()
        ids = [int(e.data.split(b'"id":"c', 1)[1].split(b'"', 1)[0]) for e in rows]
        # everything acknowledged to the writer is either delivered (at or below the cursor) or still queued, in order
        assert ids == list(range(cursor, cursor + len(ids)))
        assert cursor + len(ids) >= last
    finally:
        sp.close()


def test_dlq_show_of_an_unknown_id_says_so_and_fails(tmp_path, capsys):
    import argparse

    from agent.cli.delivery import cmd_dlq

    sp = Spool(tmp_path)
    sp.open(["a"])
    sp.append([(1, _ev(1))])
    sp.dead_letter("a", [SpooledEvent(1, _ev(1))], 1, "r", 1, 1.0, 1.0, "e")
    sp.close()
    with SpoolAdmin(tmp_path) as admin:
        [dead] = admin.dead_letters()

    def run(*ids: int) -> int:
        ns = argparse.Namespace(action="show", ids=list(ids), sink=None, all=False, limit=50, json=False)
        return cmd_dlq(ns, lambda text: text, tmp_path)

    assert run(dead.id + 1) == 1
    assert f"no dead letter with id {dead.id + 1}" in capsys.readouterr().err
    assert run(dead.id, dead.id + 1) == 0  # the known one is shown, the unknown one named
    out = capsys.readouterr()
    assert f"dead letter {dead.id}:" in out.out and f"no dead letter with id {dead.id + 1}" in out.err

