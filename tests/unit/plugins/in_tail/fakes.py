"""Stand-ins for the intake a ``file`` source submits to: synchronous, and pipelined with late answers."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Sequence

from agent.sdk.record import RawRecord
from agent.sdk.source import PendingSubmit, Submitted, SubmitStatus


class Collector:
    """``submit`` that answers at once: every record taken, or FULL while :attr:`full`."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.full = False
        self.refused = 0
        self.lock = threading.Lock()

    def submit(self, records: Sequence[RawRecord], timeout: float | None = None, dedup: bool = False) -> Submitted:
        if self.full:
            self.refused += 1
            time.sleep(0.01)
            return Submitted(SubmitStatus.FULL, retry_after=1)
        with self.lock:
            self.records.extend(records)
        return Submitted(SubmitStatus.ACCEPTED, events=len(records))

    def lines(self) -> list[str]:
        with self.lock:
            return [r.data.decode() for r in self.records]


class AsyncCollector(Collector):
    """``submit_async`` answered later by a committer thread of its own, like the spool's writer.

    :param delay_s: how long each answer takes after the one before.
    :param refuse_now: submission numbers (0-based) refused at once (FULL), as the
        intake does when the spool is over quota.
    :param fail_late: submission numbers refused at their commit (a spool write error):
        submissions made after them may already be queued and be accepted.
    :param newest_first: answer the most recent outstanding submission first (answers
        out of order: the source must still acknowledge in submission order).
    :param group: answer every outstanding submission at once (the spool's group commit).
    :ivar hold: while set, nothing is answered.
    """

    def __init__(self, delay_s: float = 0.005, refuse_now: Sequence[int] = (), fail_late: Sequence[int] = (),
                 newest_first: bool = False, group: bool = False) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.refuse_now = set(refuse_now)
        self.fail_late = set(fail_late)
        self.newest_first = newest_first
        self.group = group
        self.hold = threading.Event()
        self.submitted = 0
        self.max_outstanding = 0
        self.batches: list[tuple[int, list[str]]] = []  # accepted, in commit order: (submission number, lines)
        self._queue: deque[tuple[int, list[Any], PendingSubmit]] = deque()
        self._cond = threading.Condition(self.lock)
        self._closed = False
        self._thread = threading.Thread(target=self._commit, name="fake-spool", daemon=True)
        self._thread.start()

    def submit_async(self, records: Sequence[RawRecord], timeout: float | None = None, *,
                     dedup: bool = False) -> PendingSubmit:
        with self._cond:
            n = self.submitted
            self.submitted += 1
            if self.full or n in self.refuse_now:
                self.refused += 1
                return PendingSubmit.completed(Submitted(SubmitStatus.FULL, retry_after=1))
            pending = PendingSubmit()
            pending.claim_for_spool()  # queued for its commit at once, as the in-process intake does
            self._queue.append((n, list(records), pending))
            self.max_outstanding = max(self.max_outstanding, len(self._queue))
            self._cond.notify()
            return pending

    def outstanding(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)

    def _commit(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait(0.1)
                if self._closed:
                    return
            time.sleep(self.delay_s)
            if self.hold.is_set():
                continue
            answers: list[tuple[PendingSubmit, Submitted]] = []
            with self._cond:
                while self._queue:
                    n, records, pending = self._queue.pop() if self.newest_first else self._queue.popleft()
                    if n in self.fail_late:
                        answers.append((pending, Submitted(SubmitStatus.FULL, retry_after=1)))
                    else:
                        self.records.extend(records)
                        self.batches.append((n, [r.data.decode() for r in records]))
                        answers.append((pending, Submitted(SubmitStatus.ACCEPTED, events=len(records))))
                    if not self.group:
                        break
            for pending, result in answers:
                pending.set_result(result)
