"""Group concurrent webhook requests into one spool commit, and give each its own answer.

Handing every request to ``submit`` on its own costs a thread hop, a decode loop and
a spool request each; under load the threads mostly wait for each other (and for
the GIL). Here the event loop queues each request's records; at most ``max_inflight``
batches are in the spool at once, and each takes everything queued meanwhile. While
one batch waits for its commit (fsync), the next one gathers: the group commit the
spool offers, without a thread per request.

The loop pays per batch, not per request: a batch leaves once per loop iteration at
most (the requests of every connection that iteration read travel together), its
commit comes back as one callback on the loop, and that callback answers all of the
batch's requests in one pass. A request is a plain entry with a reply function, not
a future; the response timeout is one timer for all waiting requests, armed for the
oldest one (they all wait the same ``response_timeout``, so arrival order is
deadline order).

Closed-loop senders (each connection posts again as soon as it is answered) would
otherwise settle into alternating batches: one of the requests that came in while
the other batch was in the spool, then one of everyone else, paying the per-commit
costs (thread wake-ups, a transaction, an fsync, a small read and acknowledgement
in each sink worker) twice per round. Measured with wrk at 16 connections, batches
of 1 and 15 alternated. So when a batch's answers go out while requests wait, the
batcher gathers for at most ``GATHER_S`` until most of the connections just
answered are back, then sends everything together (a sixth less CPU per event
there). A lone sequential client never waits: nothing was pending when it was
answered, and its next request leaves at once.

Each request still gets an exact answer: its records keep their indices in the
batch, and :class:`TrackingDecoder` notes on each record how many events it gave and
whether it was partly bad, which ``Submitted`` only reports for the batch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from agent.sdk.decoder import DecodeError, Decoder, PartialDecodeError
from agent.sdk.record import RawRecord
from agent.sdk.source import Submitted, SubmitStatus

__all__ = ["Batcher", "RequestResult", "Refusal", "TrackingDecoder", "GATHER_S"]

GATHER_S = 0.002  # longest wait for the senders just answered to post again (see the module doc)


class TrackingDecoder(Decoder):
    """Delegates to a decoder and records, per record, the events it gave and partial failures."""

    def __init__(self, inner: Decoder) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.type_name = inner.type_name  # type: ignore[misc]  # the intake's reasons name the real decoder

    def decode(self, record: RawRecord) -> list[Any]:
        try:
            events = self.inner.decode(record)
        except PartialDecodeError as exc:
            record.meta["events"] = len(exc.events)
            record.meta["partial"] = True
            raise
        record.meta["events"] = len(events)
        return events


class Refusal(Decoder):
    """A "decoder" that refuses every record with a fixed reason.

    A body the listener refuses on sight (empty, a malformed HEC envelope) still goes
    through ``submit`` with it, so it lands in the dead-letter store with its bytes and
    reason like any record a real decoder refused: a refusal never loses the input.
    """

    type_name = "http"

    def __init__(self, reason: str) -> None:
        super().__init__({})
        self.reason = reason

    def decode(self, record: RawRecord) -> list[Any]:
        raise DecodeError(self.reason)


@dataclass(slots=True)
class RequestResult:
    """One request's share of a batch's :class:`Submitted`."""

    status: SubmitStatus
    events: int = 0  # events decoded from this request (spooled, duplicates or unrouted)
    errors: list[str] = field(default_factory=list)
    failed_all: bool = False  # every record failed and none was partly good
    duplicates: int | None = None  # exact only when known (one request in the batch, or none at all)
    retry_after: float = 0.0


Outcome = Union[RequestResult, Exception, None]
"""What a request's reply gets: its result, the exception ``submit`` raised, or ``None`` (no commit in time)."""
Reply = Callable[[Outcome], None]


class _Waiting:
    """One request's records, waiting for a commit; ``reply`` is ``None`` once it was called."""

    __slots__ = ("records", "reply", "deadline")

    def __init__(self, records: list[RawRecord], reply: Reply, deadline: float) -> None:
        self.records = records
        self.reply: Reply | None = reply
        self.deadline = deadline


class Batcher:
    """Loop-side queue of requests → batched ``submit`` calls on a thread pool.

    Every method runs on the event loop's thread.
    """

    def __init__(self, submit: Callable[..., Submitted], pool: concurrent.futures.Executor, max_inflight: int,
                 timeout: float, response_timeout: float) -> None:
        self.submit = submit
        self.pool = pool
        self.max_inflight = max_inflight
        self.timeout = timeout  # how long submit waits for spool space
        self.response_timeout = response_timeout  # how long a request waits for its reply at most
        self.pending: dict[bool, list[_Waiting]] = {True: [], False: []}
        self.waiting: deque[_Waiting] = deque()  # every request not yet replied to, oldest first
        self.inflight = 0
        self._pump_due = False
        self._timer: asyncio.TimerHandle | None = None
        self._gathering: asyncio.TimerHandle | None = None  # waiting for the senders just answered
        self._gather_target = 0  # pending requests that end the wait early

    def add(self, records: list[RawRecord], dedup: bool, reply: Reply) -> None:
        """Queue ``records``; ``reply`` is called once, on the loop, within ``response_timeout``."""
        loop = asyncio.get_running_loop()
        item = _Waiting(records, reply, loop.time() + self.response_timeout)
        self.pending[dedup].append(item)
        self.waiting.append(item)
        if self._timer is None:
            self._timer = loop.call_at(item.deadline, self._expire)
        if self._gathering is not None:
            if self._pending_count() < self._gather_target:
                return
            self._gathering.cancel()
            self._gathering = None
        if not self._pump_due:  # the other requests read in this loop iteration join the same batch
            self._pump_due = True
            loop.call_soon(self._pump)

    def _pending_count(self) -> int:
        return len(self.pending[True]) + len(self.pending[False])

    def _expire(self) -> None:
        """Reply ``None`` to every request past its deadline; re-arm for the oldest left."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        waiting = self.waiting
        while waiting and (waiting[0].reply is None or waiting[0].deadline <= now):
            item = waiting.popleft()
            reply, item.reply = item.reply, None
            if reply is not None:
                reply(None)
        if waiting:
            self._timer = loop.call_at(waiting[0].deadline, self._expire)

    def _pump(self) -> None:
        self._pump_due = False
        if self._gathering is not None:
            self._gathering.cancel()
            self._gathering = None
        loop = asyncio.get_running_loop()
        for dedup in (True, False):
            while self.pending[dedup] and self.inflight < self.max_inflight:
                items, self.pending[dedup] = self.pending[dedup], []
                items = [item for item in items if item.reply is not None]  # already answered 503: not spooled
                if not items:
                    continue
                self.inflight += 1
                job = loop.run_in_executor(self.pool, self._run, [item.records for item in items], dedup)
                job.add_done_callback(functools.partial(self._done, items=items))

    def _run(self, batches: list[list[RawRecord]], dedup: bool) -> Submitted:
        """On the submit thread: decode, route and spool the batch (the intake does the decoding)."""
        records = [r for recs in batches for r in recs]
        return self.submit(records, timeout=self.timeout, dedup=dedup)

    def _done(self, job: asyncio.Future[Submitted], *, items: list[_Waiting]) -> None:
        """The batch's commit (or failure) is known: answer each of its requests in one pass."""
        self.inflight -= 1
        try:
            result = job.result()
        except BaseException as exc:  # noqa: BLE001 - a failing submit must answer, not hang, its requests
            error = exc if isinstance(exc, Exception) else RuntimeError(f"submit ended: {exc!r}")
            for item in items:
                self._reply(item, error)
            self._settle(0)
            return
        accepted = result.status is SubmitStatus.ACCEPTED
        by_index: dict[int, str] = dict(result.errors) if result.errors else {}
        base = 0
        single = len(items) == 1
        for item in items:
            recs = item.records
            n = len(recs)
            if item.reply is None:  # the request timed out meanwhile
                base += n
                continue
            if not accepted:
                self._reply(item, RequestResult(result.status, retry_after=result.retry_after))
                base += n
                continue
            if by_index:
                errors = [by_index[base + i] for i in range(n) if base + i in by_index]
                failed_all = bool(errors) and len(errors) == n and not any(r.meta.get("partial") for r in recs)
            else:
                errors, failed_all = [], False
            events = recs[0].meta.get("events", 0) if n == 1 else sum(r.meta.get("events", 0) for r in recs)
            dups = result.duplicates if single else (0 if not result.duplicates else None)
            self._reply(item, RequestResult(result.status, events, errors, failed_all, dups))
            base += n
        self._settle(len(items))

    @staticmethod
    def _reply(item: _Waiting, outcome: Outcome) -> None:
        reply, item.reply = item.reply, None
        item.records = []  # the bodies are spooled (or refused): do not hold them until the deadline
        if reply is not None:
            reply(outcome)

    def _settle(self, answered: int) -> None:
        """Forget the replied requests at the head of the queue; send what waits, or gather a moment first.

        ``answered`` requests just got their answers: most of those senders are likely
        to post again within a moment, and one batch for them and the requests that
        wait costs one commit instead of two (see the module doc).
        """
        waiting = self.waiting
        while waiting and waiting[0].reply is None:
            waiting.popleft()
        pending = self._pending_count()
        if pending and answered >= 2 and self.inflight < self.max_inflight and self._gathering is None:
            self._gather_target = pending + answered * 3 // 4
            self._gathering = asyncio.get_running_loop().call_later(GATHER_S, self._pump)
            return
        self._pump()
