"""The file source with batches in flight: checkpoints follow the spool's answers, in submission order.

The intake here answers later, out of order, refuses in the middle of a pipeline, or
not at all; whatever it does, a checkpoint never covers a line that is not committed,
nothing accepted is lost, and a line is submitted twice only when a batch before it
was refused at its commit (at least once, as after a crash).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
from loguru import logger

import plugins.in_tail.source as tail_source
from agent.sdk.source import PendingSubmit, SourceContext, Submitted, SubmitStatus
from plugins.in_tail.checkpoint import Checkpoints
from plugins.in_tail.inflight import Batch, InFlight
from plugins.in_tail.source import TailSource
from tests.conftest import wait_for
from tests.unit.plugins.in_tail.fakes import AsyncCollector

WIDTH = 7  # "000123\n": line i ends at offset (i + 1) * WIDTH


def numbered(start: int, stop: int) -> bytes:
    return "".join(f"{i:06d}\n" for i in range(start, stop)).encode()


@pytest.fixture
def saves(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int]]:
    """Every checkpoint save, as ``key → offset``, in the order they were written."""
    seen: list[dict[str, int]] = []
    original = Checkpoints.save

    def save(self: Checkpoints, durable: bool = False) -> None:
        if self.dirty:
            seen.append({k: int(v["offset"]) for k, v in self.data.items()})
        original(self, durable)

    monkeypatch.setattr(Checkpoints, "save", save)
    return seen


@pytest.fixture
def tail(plugin_set: Any, tmp_path: Path) -> Iterator[Any]:
    made: list[tuple[TailSource, AsyncCollector]] = []

    def make(col: AsyncCollector, **options: Any) -> TailSource:
        cfg = {"paths": [str(tmp_path / "logs" / "*.log")], "exclude": [], "read_from": "beginning", "decoder": "raw",
               "max_line_bytes": 1024, "partial_flush_s": 0, "rotate_wait_s": 0.2, "poll_interval_s": 0.02,
               "batch_lines": 10, "multiline": {}, "max_inflight_batches": 4, **options}
        ctx = SourceContext(name="t", logger=logger, state_dir=tmp_path / "state", submit=col.submit,
                            build_decoder=lambda spec: plugin_set.registry.get("decoder", spec).cls({}),
                            submit_pending=col.submit_async)
        src = TailSource("t", cfg, ctx)
        src.start()
        made.append((src, col))
        return src

    (tmp_path / "logs").mkdir()
    yield make
    for src, col in made:
        src.stop()
        col.close()


def assert_checkpoints_covered_only_committed_lines(saves: list[dict[str, int]], col: AsyncCollector) -> None:
    """Each saved offset covers committed lines only (checked at the end: committed lines never go away)."""
    committed = {int(line) for line in col.lines()}
    last: dict[str, int] = {}
    for snapshot in saves:
        for key, offset in snapshot.items():
            assert offset % WIDTH == 0
            assert set(range(offset // WIDTH)) <= committed, f"checkpoint {offset} covers uncommitted lines"
            assert offset >= last.get(key, 0), "a checkpoint went backwards"
            last[key] = offset


# ----------------------------------------------------------------- the queue alone
def _pending() -> PendingSubmit:
    return PendingSubmit()


ACCEPTED = Submitted(SubmitStatus.ACCEPTED)
FULL = Submitted(SubmitStatus.FULL, retry_after=1)


def test_an_early_answer_waits_for_the_batches_before_it() -> None:
    q = InFlight()
    stop = threading.Event()
    first, second = Batch("a", 10, False, pending=_pending()), Batch("a", 20, False, pending=_pending())
    q.push(first)
    q.push(second)
    second.pending.set_result(ACCEPTED)  # type: ignore[union-attr]
    assert q.take(2, stop, 1.0) == [] and len(q) == 2 and q.holds("a")
    first.pending.set_result(ACCEPTED)  # type: ignore[union-attr]
    assert q.take(2, stop, 1.0) == [first, second] and not q.holds("a")


def test_a_refusal_taints_only_the_later_batches_of_its_file() -> None:
    q = InFlight()
    stop = threading.Event()
    batches = [Batch("a", 10, False, pending=_pending()), Batch("a", 20, False, pending=_pending()),
               Batch("b", 5, False, pending=_pending()), Batch("a", 30, False, pending=_pending()),
               Batch("a", 40, False)]  # nothing to commit: acknowledged in its turn, or not at all
    for b in batches:
        q.push(b)
    for b, answer in zip(batches, [ACCEPTED, FULL, ACCEPTED, ACCEPTED]):
        b.pending.set_result(answer)  # type: ignore[union-attr]
    assert q.take(0, stop, 1.0) == [batches[0], batches[2]]  # a's batches after the refused one: never
    assert q.refused == {"a": FULL}
    assert q.forgive() == ["a"] and not q.refused


def test_a_refused_file_stays_tainted_while_its_batches_are_in_flight() -> None:
    q = InFlight()
    stop = threading.Event()
    refused, later = Batch("a", 10, False, pending=_pending()), Batch("a", 20, False, pending=_pending())
    q.push(refused)
    q.push(later)
    refused.pending.set_result(FULL)  # type: ignore[union-attr]
    assert q.take(1, stop, 1.0) == [] and q.forgive() == [] and "a" in q.refused
    later.pending.set_result(ACCEPTED)  # type: ignore[union-attr]
    assert q.take(0, stop, 1.0) == [] and q.forgive() == ["a"]


def test_once_stopping_a_batch_not_yet_at_the_spool_is_withdrawn() -> None:
    """A batch still being prepared (in a child process) when the stop's wait ends is taken
    back: it must not be spooled after the source gave up on it, or it would be delivered
    now and read again after the restart."""
    q = InFlight()
    stop = threading.Event()
    stop.set()
    first, second = Batch("a", 10, False, pending=_pending()), Batch("a", 20, False, pending=_pending())
    q.push(first)
    q.push(second)
    started = time.monotonic()
    assert q.take(0, stop, 0.3) == []
    assert 0.25 <= time.monotonic() - started < 2
    assert q.refused == {"a": Submitted(SubmitStatus.CLOSED)} and q.forgive() == ["a"]  # rewound: read again later
    for b in (first, second):  # the intake sees the withdrawal and never spools them
        assert b.pending is not None and not b.pending.claim_for_spool()


def test_once_stopping_a_batch_already_at_the_spool_is_waited_for() -> None:
    """A batch the spool has (its commit running) is waited for past the stop's wait and
    acknowledged; only the batches behind it that had not reached the spool are withdrawn."""
    q = InFlight()
    stop = threading.Event()
    stop.set()
    at_spool, behind = Batch("a", 10, False, pending=_pending()), Batch("a", 20, False, pending=_pending())
    assert at_spool.pending is not None and at_spool.pending.claim_for_spool()
    q.push(at_spool)
    q.push(behind)
    threading.Timer(0.45, at_spool.pending.set_result, (ACCEPTED,)).start()  # commits after the 0.3 s wait
    assert q.take(0, stop, 0.3) == [at_spool]
    assert q.refused == {"a": Submitted(SubmitStatus.CLOSED)}
    assert behind.pending is not None and not behind.pending.claim_for_spool()


# ----------------------------------------------------------------- the source
def test_answers_out_of_order_move_the_checkpoint_in_submission_order(tail: Any, tmp_path: Path, saves: list[dict[str, int]]) -> None:
    col = AsyncCollector(delay_s=0.003, newest_first=True)
    log = tmp_path / "logs" / "a.log"
    log.write_bytes(numbered(0, 2000))
    src = tail(col)
    wait_for(lambda: len(col.records) == 2000 and all(f.offset == 2000 * WIDTH for f in src.files.values()), timeout=20,
             what="every line committed and checkpointed")
    assert sorted(int(line) for line in col.lines()) == list(range(2000))  # none lost, none twice
    assert col.max_outstanding >= 2  # batches really were in flight together
    assert_checkpoints_covered_only_committed_lines(saves, col)
    assert src.stats["lines"] == 2000


def test_a_refusal_in_the_middle_of_a_pipeline_loses_nothing_and_sends_nothing_twice(tail: Any, tmp_path: Path,
                                                                                      saves: list[dict[str, int]]) -> None:
    col = AsyncCollector(delay_s=0.01, refuse_now=[3, 4, 9])  # the spool over quota for a moment, twice
    log = tmp_path / "logs" / "a.log"
    log.write_bytes(numbered(0, 300))
    src = tail(col)
    wait_for(lambda: len(col.records) >= 300 and all(f.offset == 300 * WIDTH for f in src.files.values()), timeout=20,
             what="every line, after the refusals")
    time.sleep(0.1)
    assert sorted(int(line) for line in col.lines()) == list(range(300))
    assert col.refused == 3
    assert_checkpoints_covered_only_committed_lines(saves, col)
    assert src.stats["lines"] == 300  # a refused batch is counted once, when it is accepted


def test_a_batch_refused_at_its_commit_is_read_again_with_the_ones_after_it(tail: Any, tmp_path: Path,
                                                                            saves: list[dict[str, int]]) -> None:
    col = AsyncCollector(delay_s=0.01, fail_late=[3])  # a spool write error: #4 may be committed all the same
    log = tmp_path / "logs" / "a.log"
    log.write_bytes(numbered(0, 300))
    src = tail(col)
    wait_for(lambda: set(map(int, col.lines())) == set(range(300)) and all(f.offset == 300 * WIDTH for f in src.files.values()),
             timeout=20, what="every line, after the failed commit")
    assert_checkpoints_covered_only_committed_lines(saves, col)
    twice = {int(line) for line, n in Counter(col.lines()).items() if n > 1}
    # batch #3 holds lines 30-39; at most 3 more batches (max_inflight_batches 4) were in flight behind it,
    # and only those, accepted by the spool but not acknowledged, come again
    assert twice <= set(range(40, 70))
    assert {int(line) for n, lines in col.batches if n > 3 for line in lines} >= set(range(30, 40))  # #3's lines, re-read


def test_several_batches_answered_together_are_checkpointed_in_one_save(tail: Any, tmp_path: Path,
                                                                        saves: list[dict[str, int]]) -> None:
    col = AsyncCollector(delay_s=0.01, group=True)
    col.hold.set()
    log = tmp_path / "logs" / "a.log"
    log.write_bytes(numbered(0, 40))
    src = tail(col, max_inflight_batches=8)
    wait_for(lambda: col.outstanding() == 4, what="four batches in flight")
    assert not saves or all(not snap for snap in saves)
    before = len(saves)
    col.hold.clear()
    wait_for(lambda: all(f.offset == 40 * WIDTH for f in src.files.values()), what="the checkpoint after the group commit")
    assert len(saves) == before + 1 and saves[-1] == {next(iter(src.files)): 40 * WIDTH}


def test_one_batch_in_flight_is_the_synchronous_behaviour(tail: Any, tmp_path: Path) -> None:
    col = AsyncCollector(delay_s=0.005)
    (tmp_path / "logs" / "a.log").write_bytes(numbered(0, 200))
    src = tail(col, max_inflight_batches=1)
    wait_for(lambda: len(col.records) == 200, what="every line")
    assert col.max_outstanding == 1 and col.submitted == 20


def test_a_rotated_file_is_not_let_go_while_its_batches_are_unanswered(tail: Any, tmp_path: Path,
                                                                       saves: list[dict[str, int]]) -> None:
    col = AsyncCollector(delay_s=0.005)
    log = tmp_path / "logs" / "a.log"
    log.write_bytes(numbered(0, 20))
    src = tail(col)
    wait_for(lambda: len(col.records) == 20, what="the first lines")
    key = next(iter(src.files))
    col.hold.set()
    with open(log, "ab") as fh:
        fh.write(numbered(20, 40))
    wait_for(lambda: col.outstanding() == 2, what="the next lines in flight")
    log.rename(tmp_path / "logs" / "a.log.1")  # not matched by *.log: rotated away
    wait_for(lambda: src.stats["rotations"] == 1, what="the rotation")
    time.sleep(0.5)  # well past rotate_wait_s
    assert key in src.files and src.checkpoints is not None and src.checkpoints.get(key) is not None
    assert src.files[key].offset == 20 * WIDTH
    col.hold.clear()
    wait_for(lambda: key not in src.files, what="the rotated file let go once answered")
    assert sorted(map(int, col.lines())) == list(range(40))
    assert_checkpoints_covered_only_committed_lines(saves, col)


def test_stop_waits_for_the_answers_in_flight(tail: Any, tmp_path: Path) -> None:
    col = AsyncCollector(delay_s=0.2)
    log = tmp_path / "logs" / "a.log"
    log.write_bytes(numbered(0, 30))
    src = tail(col, max_inflight_batches=8)
    wait_for(lambda: col.submitted == 3, what="three batches submitted")
    src.stop()
    assert len(col.records) == 30
    assert Checkpoints(tmp_path / "state").data[next(iter(Checkpoints(tmp_path / "state").data))]["offset"] == 30 * WIDTH


def test_stop_is_bounded_when_answers_never_come_and_the_unanswered_lines_are_read_again(
        tail: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tail_source, "STOP_WAIT_S", 0.3)
    col = AsyncCollector(delay_s=0.005)
    log = tmp_path / "logs" / "a.log"
    log.write_bytes(numbered(0, 20))
    src = tail(col)
    wait_for(lambda: len(col.records) == 20, what="the first lines")
    wait_for(lambda: all(f.offset == 20 * WIDTH for f in src.files.values()), what="their checkpoint")
    col.hold.set()
    with open(log, "ab") as fh:
        fh.write(numbered(20, 30))
    wait_for(lambda: col.outstanding() == 1, what="a batch in flight")
    started = time.monotonic()
    src.stop()
    assert time.monotonic() - started < 3
    col2 = AsyncCollector()
    tail(col2)
    wait_for(lambda: len(col2.records) == 10, what="the unanswered batch read again")
    time.sleep(0.1)
    assert col2.lines() == [f"{i:06d}" for i in range(20, 30)]
