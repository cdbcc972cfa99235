"""SubmitPipeline: batches handed to the spool in order, a bounded number awaiting their commit,
refusals offered again (backpressure), a failed commit offered again, a bounded wait at stop."""

from __future__ import annotations

import threading
import time
from typing import Sequence

import pytest

from agent.sdk.record import RawRecord
from agent.sdk.source import PendingSubmit, Submitted, SubmitStatus
from plugins.in_syslog.pipeline import SubmitPipeline


class FakeSpool:
    """``submit_async`` whose commits the test completes by hand; can refuse (full) or close."""

    def __init__(self) -> None:
        self.queued: list[tuple[Sequence[RawRecord], PendingSubmit]] = []
        self.refuse = 0  # refuse this many offers at once (FULL)
        self.closed = False
        self.offers = 0
        self.lock = threading.Lock()

    def submit_async(self, records: Sequence[RawRecord], timeout: float) -> PendingSubmit:
        with self.lock:
            self.offers += 1
            if self.closed:
                return PendingSubmit.completed(Submitted(SubmitStatus.CLOSED))
            if self.refuse:
                self.refuse -= 1
                return PendingSubmit.completed(Submitted(SubmitStatus.FULL, retry_after=1))
            pending = PendingSubmit()
            self.queued.append((records, pending))
            return pending

    def commit(self, index: int, status: SubmitStatus = SubmitStatus.ACCEPTED) -> None:
        self.queued[index][1].set_result(Submitted(status))

    def batches(self) -> list[Sequence[RawRecord]]:
        return [records for records, _ in self.queued]


def batch(tag: str) -> list[RawRecord]:
    return [RawRecord(tag.encode(), None, {"input": "t"}, None)]  # type: ignore[arg-type]  # the pipeline never decodes


class Calls:
    def __init__(self) -> None:
        self.refused = 0
        self.accepted = 0

    def on_refused(self) -> None:
        self.refused += 1

    def on_accepted(self) -> None:
        self.accepted += 1


def make(spool: FakeSpool, limit: int, stopping: threading.Event | None = None) -> tuple[SubmitPipeline, Calls]:
    calls = Calls()
    return SubmitPipeline(spool.submit_async, limit, stopping or threading.Event(), calls.on_refused,
                          calls.on_accepted), calls


def test_batches_go_in_order_and_at_most_limit_wait_for_their_commit() -> None:
    spool = FakeSpool()
    pipe, _ = make(spool, limit=2)
    assert pipe.submit(batch("a")) and pipe.submit(batch("b"))
    assert pipe.in_flight == 2  # neither committed yet, and submit did not wait

    third_done = threading.Event()

    def third() -> None:
        pipe.submit(batch("c"))
        third_done.set()

    t = threading.Thread(target=third)
    t.start()
    time.sleep(0.2)
    assert not third_done.is_set()  # a third in flight would exceed the window: it waits for the oldest
    assert [b[0].data for b in spool.batches()] == [b"a", b"b"]  # not even offered yet
    spool.commit(0)
    assert third_done.wait(5)
    t.join(5)
    assert [b[0].data for b in spool.batches()] == [b"a", b"b", b"c"]  # handed over, in order
    assert pipe.in_flight == 2 and pipe.batches == 1
    spool.commit(1)
    spool.commit(2)
    assert pipe.drain(1.0) and pipe.in_flight == 0 and pipe.batches == 3


def test_a_refused_batch_is_offered_again_before_the_next_one_and_nothing_is_read_meanwhile() -> None:
    spool = FakeSpool()
    pipe, calls = make(spool, limit=4)
    assert pipe.submit(batch("a"))
    spool.refuse = 3  # the spool is full for the next three offers
    assert pipe.submit(batch("b"))  # returns only once taken: the reader is held meanwhile
    assert calls.refused == 3 and calls.accepted == 1 and spool.offers == 5
    assert pipe.submit(batch("c"))
    assert [b[0].data for b in spool.batches()] == [b"a", b"b", b"c"]


def test_a_batch_whose_commit_failed_is_offered_again() -> None:
    spool = FakeSpool()
    pipe, calls = make(spool, limit=2)
    assert pipe.submit(batch("a"))
    spool.commit(0, SubmitStatus.FULL)  # queued, but the write failed (a disk error)
    assert pipe.drain(0.5) is False  # offered again; that second commit is not done yet
    assert [b[0].data for b in spool.batches()] == [b"a", b"a"] and calls.refused == 1
    assert pipe.unconfirmed == 1


def test_closed_spool_stops_the_reader() -> None:
    spool = FakeSpool()
    pipe, _ = make(spool, limit=2)
    spool.closed = True
    assert pipe.submit(batch("a")) is False


def test_refused_while_stopping_gives_up_after_one_offer() -> None:
    spool = FakeSpool()
    stopping = threading.Event()
    stopping.set()
    pipe, calls = make(spool, limit=2, stopping=stopping)
    spool.refuse = 10
    assert pipe.submit(batch("a")) is False
    assert spool.offers == 1 and calls.refused == 0


def test_drain_is_bounded_when_a_commit_never_answers() -> None:
    spool = FakeSpool()
    pipe, _ = make(spool, limit=3)
    pipe.submit(batch("a"))
    pipe.submit(batch("b"))
    spool.commit(0)
    started = time.monotonic()
    assert pipe.drain(0.3) is False
    assert time.monotonic() - started < 2.0
    assert pipe.batches == 1 and pipe.unconfirmed == 1 and pipe.in_flight == 0


def test_synchronous_answers_work_too() -> None:
    """A context without submit_pending answers submit_async at once: the window never fills."""
    answered: list[bytes] = []

    def submit(records: Sequence[RawRecord], timeout: float) -> PendingSubmit:
        answered.append(records[0].data)
        return PendingSubmit.completed(Submitted(SubmitStatus.ACCEPTED))

    pipe = SubmitPipeline(submit, 1, threading.Event(), lambda: None, lambda: None)
    for tag in "abc":
        assert pipe.submit(batch(tag))
    assert answered == [b"a", b"b", b"c"] and pipe.in_flight == 0 and pipe.batches == 3


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        SubmitPipeline(FakeSpool().submit_async, 0, threading.Event(), lambda: None, lambda: None)
