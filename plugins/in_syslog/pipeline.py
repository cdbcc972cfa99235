"""A bounded window of batches whose spool commit is still running, for one reader.

A syslog connection has no acknowledgement to give (RFC 6587 has none), so what a
reader may do is keep reading only while the spool takes its batches. Waiting for
each commit before reading the next batch leaves the decoder idle during every
group commit; :class:`SubmitPipeline` hands a batch over with
``SourceContext.submit_async`` and lets the reader frame and decode the next one
meanwhile, with at most ``limit`` batches committing at once. Backpressure is the
same as with a synchronous submit: a batch the spool refuses (full) is offered
again until it is taken, and nothing is read meanwhile.

Order: batches are queued for the spool in the order they are submitted, and the
spool commits its queue in order, so a connection's messages are stored in the
order they arrived. The one exception is a batch whose commit *fails* after it was
queued (a disk error): it is offered again, after batches queued behind it that did
commit.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Sequence

from agent.sdk.record import RawRecord
from agent.sdk.source import PendingSubmit, SubmitStatus

__all__ = ["SubmitPipeline", "SubmitAsync"]

#: ``submit_async(records, timeout)``: ``SourceContext.submit_async`` (timeout bounds the wait for room)
SubmitAsync = Callable[[Sequence[RawRecord], float], PendingSubmit]

RETRY_WAIT_S = 1.0  # how long one offer waits for room in a full spool before it is counted as refused
POLL_S = 0.5  # how often a wait for a commit looks at the stop flag
STOP_WAIT_S = 5.0  # once the source stops, how long a wait for one commit may still last


class SubmitPipeline:
    """Hand batches to the spool in order, at most ``limit`` of them awaiting their commit.

    :param submit: ``SourceContext.submit_async``, or anything with its signature.
    :param limit: most batches in flight; the oldest is waited for before one more is added.
    :param stopping: once set, a refused batch is not offered again (it was offered once).
    :param on_refused: called each time the spool refuses a batch (full): count it, warn once.
    :param on_accepted: called when a batch is taken after refusals (the spool has room again).
    :param clock: monotonic seconds, for the bounded waits of :meth:`drain`.
    """

    def __init__(self, submit: SubmitAsync, limit: int, stopping: threading.Event,
                 on_refused: Callable[[], None], on_accepted: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._submit = submit
        self.limit = limit
        self._stopping = stopping
        self._on_refused = on_refused
        self._on_accepted = on_accepted
        self._clock = clock
        self._flight: deque[tuple[PendingSubmit, Sequence[RawRecord]]] = deque()
        self.batches = 0  # batches the spool took (for the average batch size)
        self.unconfirmed = 0  # records given up on at stop, their commit not confirmed in time

    @property
    def in_flight(self) -> int:
        """Batches handed over whose commit has not been seen yet."""
        return len(self._flight)

    def submit(self, records: Sequence[RawRecord]) -> bool:
        """Queue ``records`` for the spool once fewer than ``limit`` batches are in flight.

        Blocks while ``limit`` batches await their commit (the oldest is waited for) and
        while the spool refuses them (full); returns once they are queued.
        :returns: False when the agent is stopping and the spool did not take them (or
            closed): the caller stops reading.
        """
        while self._flight and (len(self._flight) >= self.limit or self._flight[0][0].done()):
            if not self._settle_oldest(None):
                return False
        pending = self._offer(records)
        if pending is None:
            return False
        self._flight.append((pending, records))
        while self._flight and self._flight[0][0].done():  # answered already (at once, or a fast commit)
            if not self._settle_oldest(None):
                return False
        return True

    def drain(self, timeout: float) -> bool:
        """Wait for every batch in flight to be committed, at most ``timeout`` seconds.

        :returns: False when some were not confirmed in time (counted in ``unconfirmed``)
            or the spool closed under them.
        """
        deadline = self._clock() + timeout
        ok = True
        while self._flight:
            if not self._settle_oldest(deadline):
                ok = False
                break
        if self._flight:
            self.unconfirmed += sum(len(records) for _, records in self._flight)
            self._flight.clear()
        return ok

    def _offer(self, records: Sequence[RawRecord]) -> PendingSubmit | None:
        """``submit`` until the spool queues the batch (or takes it at once); None when it will not."""
        refused = False
        while True:
            pending = self._submit(records, RETRY_WAIT_S)
            if pending.done():
                status = pending.result().status
                if status is SubmitStatus.CLOSED:
                    return None
                if status is not SubmitStatus.ACCEPTED:
                    if self._stopping.is_set():
                        return None
                    refused = True
                    self._on_refused()
                    continue
            if refused:
                self._on_accepted()
            return pending

    def _settle_oldest(self, deadline: float | None) -> bool:
        """Wait for the oldest batch's commit; offer it again if the commit failed.

        :param deadline: give up at this clock time (None: wait as long as the agent runs).
        """
        pending, records = self._flight[0]
        while True:
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - self._clock()))
            try:
                result = pending.result(wait)
                break
            except TimeoutError:
                if deadline is None and self._stopping.is_set():
                    deadline = self._clock() + STOP_WAIT_S
                if deadline is not None and self._clock() >= deadline:
                    return False
        self._flight.popleft()
        if result.status is SubmitStatus.ACCEPTED:
            self.batches += 1
            return True
        if result.status is SubmitStatus.CLOSED:
            return False
        # the spool queued the batch but its commit failed: offer it again (see the module's note on order)
        self._on_refused()
        again = self._offer(records)
        if again is None:
            return False
        self._flight.appendleft((again, records))
        return True
