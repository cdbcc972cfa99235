"""Batches the ``file`` source submitted and the spool has not answered yet, acknowledged in order.

The source reads, cuts and submits its next batch while the spool commits the ones
before (:meth:`SourceContext.submit_async`). A checkpoint may only move past a batch
once that batch *and every batch of the same file submitted before it* is committed,
so answers are taken strictly from the front of the queue: an answer that arrives
early waits for the ones ahead of it. A refused batch (spool full, shutting down)
taints its file: the file's later batches are never acknowledged, even if the spool
took them (they are read and submitted again: at least once, as after a crash),
and the source rewinds to the last acknowledged offset.

Kept apart from the reader so the ordering rule has one home and can be tested with
answers that come late, early or not at all.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from agent.sdk.source import PendingSubmit, Submitted, SubmitStatus

__all__ = ["Batch", "InFlight"]

_WAIT_SLICE_S = 0.2  # how often a wait for an answer looks at the stop flag


@dataclass(slots=True, eq=False)
class Batch:
    """One submission of one file: where the file's checkpoint may move once it is committed.

    :ivar key: the file's identity (``dev:ino``).
    :ivar end: the file offset just after the batch's last line.
    :ivar skipping: the offset ``end`` lies inside an over-long line already emitted.
    :ivar lines: records in the batch (counted once it is accepted).
    :ivar size: their bytes.
    :ivar flags: ``truncated`` / ``invalid_utf8`` counts of the batch.
    :ivar pending: the spool's answer to come; ``None`` when there was nothing to
        commit (bytes consumed without a record: empty lines, the rest of an over-long
        line), which is acknowledged as soon as the batches before it are.
    """

    key: str
    end: int
    skipping: bool
    lines: int = 0
    size: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    pending: PendingSubmit | None = None

    def answered(self) -> bool:
        return self.pending is None or self.pending.done()

    def accepted(self) -> bool:
        """Only meaningful once :meth:`answered`."""
        return self.pending is None or self.pending.result(0).status is SubmitStatus.ACCEPTED


class InFlight:
    """The queue of unanswered batches, in submission order (one reader thread uses it)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._queue: deque[Batch] = deque()
        self._count: dict[str, int] = {}  # file key → batches in the queue
        self.refused: dict[str, Submitted] = {}  # file key → the refusal that tainted it
        self.clock = clock

    def __len__(self) -> int:
        return len(self._queue)

    def holds(self, key: str) -> bool:
        """Whether batches of the file ``key`` still wait for their answer."""
        return key in self._count

    def push(self, batch: Batch) -> None:
        self._queue.append(batch)
        self._count[batch.key] = self._count.get(batch.key, 0) + 1

    def take(self, keep: int, stop: threading.Event, stop_wait_s: float, wait_s: float | None = None) -> list[Batch]:
        """Pop the answered batches at the front, waiting while more than ``keep`` are queued.

        Returns the accepted batches to acknowledge, in order, without those of a file
        tainted by a refusal (:attr:`refused` names such files; the caller rewinds them
        and calls :meth:`forgive` once nothing of theirs is in flight).

        Waiting lasts at most ``wait_s`` (None: as long as it takes; the spool answers
        every request it queued, as a synchronous submit would wait for it); once
        ``stop`` is set it lasts at most ``stop_wait_s`` more. What is still unanswered
        then is withdrawn if it has not reached the spool (answered CLOSED: refused, read
        again after the restart, never delivered twice); what has reached it is waited
        for (``stop_wait_s`` more for each) and acknowledged, so a graceful stop sends
        nothing twice. Only a batch whose commit outlasts that stays unacknowledged (at
        least once).
        """
        out: list[Batch] = []
        queue = self._queue
        deadline = None if wait_s is None else self.clock() + wait_s
        stop_deadline: float | None = None
        withdrawn = False
        while queue:
            head = queue[0]
            if not head.answered():
                if len(queue) <= keep:
                    break
                now = self.clock()
                if stop_deadline is None and stop.is_set():
                    stop_deadline = now + stop_wait_s
                if not withdrawn and stop_deadline is not None and now >= stop_deadline:
                    withdrawn = True
                    self._withdraw_unspooled()
                    continue
                if withdrawn:
                    # it reached the spool before the withdrawal: its commit is near, and
                    # leaving it unacknowledged would deliver it again after the restart
                    try:
                        head.pending.result(stop_wait_s)  # type: ignore[union-attr]
                    except TimeoutError:
                        break
                else:
                    limits = [d for d in (deadline, stop_deadline) if d is not None]
                    limit = min(limits) if limits else None
                    if limit is not None and now >= limit:
                        break
                    try:
                        head.pending.result(_WAIT_SLICE_S if limit is None else max(0.0, min(_WAIT_SLICE_S, limit - now)))  # type: ignore[union-attr]
                    except TimeoutError:
                        continue
            queue.popleft()
            left = self._count[head.key] - 1
            if left:
                self._count[head.key] = left
            else:
                del self._count[head.key]
            if head.key in self.refused:
                continue
            if head.accepted():
                out.append(head)
            else:
                assert head.pending is not None
                self.refused[head.key] = head.pending.result(0)
        return out

    def _withdraw_unspooled(self) -> None:
        """Take back every unanswered batch that has not reached the spool, newest first.

        Newest first, because the intake hands batches to the spool in submission order:
        when one cannot be withdrawn (it is being committed), every batch before it is
        too, so what is taken back is always a tail of the queue and nothing behind a
        withdrawn batch is committed (the checkpoint could not move past the gap).
        """
        for batch in reversed(self._queue):
            if batch.pending is not None and not batch.pending.done():
                batch.pending.withdraw()

    def forgive(self) -> list[str]:
        """Forget the refusals of files with nothing left in flight (the caller rewinds them); their keys."""
        done = [key for key in self.refused if key not in self._count]
        for key in done:
            del self.refused[key]
        return done
