"""Group concurrent webhook requests into one spool commit, and give each its own answer.

The event loop queues each request's records. At most once per loop iteration, the
requests queued meanwhile (from every connection) leave together as one batch:
:meth:`SourceContext.submit_async` decodes, routes and queues them for the spool's
next group commit, and returns at once. The loop goes on reading and gathering the
next batch while the spool commits this one; at most ``max_inflight`` batches are
waiting for a commit at once (the spool groups those into one transaction anyway).
Large batches may be more (``max_inflight_large``, once what is pending holds at least
``large_bytes`` of bodies): the intake prepares such a batch in its child process, on
another core, so the next one is decoded there while the spool commits the one before
(NDJSON of 100 events per POST: 37,491 → 46,873 events/s at 1 → 4, the median of 3
interleaved pairs, B ahead in all; one event per POST was slower at 4 in all 3: more
small batches only split the same requests into smaller commits).
When a commit is done, the :class:`~agent.sdk.source.PendingSubmit`'s callback runs
on the spool's writer thread and only hands the answer back to the loop
(``loop.call_soon_threadsafe``); the loop answers all of the batch's requests in one
pass. So there is no submit thread: no thread hop and no blocked thread per batch,
only one wake-up of the loop per commit.

A 2xx is still written only after the commit holding the request's events, and the
batches' answers come back in the order they were submitted (the spool commits and
calls back in that order).

The loop pays per batch, not per request: a request is a plain entry with a reply
function, not a future; the response timeout is one timer for all waiting requests,
armed for the oldest one (they all wait the same ``response_timeout``, so arrival
order is deadline order).

Closed-loop senders (each connection posts again as soon as it is answered) would
otherwise settle into alternating batches: one of the requests that came in while
the other batch was in the spool, then one of everyone else, paying the per-commit
costs (wake-ups, a transaction, an fsync, a small read and acknowledgement in each
sink worker) twice per round. So when a batch's answers go out while requests wait,
the batcher gathers for at most ``GATHER_S`` until most of the connections just
answered are back, then sends everything together. A lone sequential client never
waits: nothing was pending when it was answered, and its next request leaves at once.

The spool full: the loop must never block, so a batch is submitted with no wait for
space (``timeout=0``). A batch refused FULL goes back to the head of the queue and is
tried again after :data:`FULL_RETRY_S` (doubling), with whatever joined it, until each
request's ``submit_timeout`` is up: those requests are answered FULL (503 with
Retry-After), as a blocking ``submit`` that waited that long would have answered them.

Each request still gets an exact answer: its records keep their indices in the
batch, and the intake's answer says per record how many events its decoder gave and
whether it was partly bad (``Submitted.given``, ``Submitted.partial``), wherever the
batch was decoded (in the agent's process or its preparing child).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, Union

from agent.sdk.decoder import DecodeError, Decoder, PartialDecodeError
from agent.sdk.record import RawRecord
from agent.sdk.source import PendingSubmit, Submitted, SubmitStatus

__all__ = ["Batcher", "RequestResult", "Refusal", "GATHER_S", "FULL_RETRY_S", "SubmitAsync", "LARGE_BATCH_BYTES",
           "LARGE_INFLIGHT"]

GATHER_S = 0.002  # longest wait for the senders just answered to post again (see the module doc)
FULL_RETRY_S = 0.02  # first wait before a batch refused FULL is offered again (then doubling)
FULL_RETRY_MAX_S = 0.5  # longest wait between two offers
#: bodies pending from which a batch counts as large (``max_inflight_large``): the intake's
#: ``child_min_bytes`` default, from which a batch is prepared in the preparing child
LARGE_BATCH_BYTES = 64 * 1024
#: batches in flight while they are large, with ``workers: auto`` (a file tail keeps 4 too)
LARGE_INFLIGHT = 4


class SubmitAsync(Protocol):
    """``SourceContext.submit_async``: decode and queue for the next commit, answer later."""

    def __call__(self, records: Sequence[RawRecord], timeout: float | None = None, *,
                 dedup: bool = False) -> PendingSubmit: ...


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
"""What a request's reply gets: its result, the exception ``submit_async`` raised, or ``None`` (no commit in time)."""
Reply = Callable[[Outcome], None]


class _Waiting:
    """One request's records, waiting for a commit; ``reply`` is ``None`` once it was called."""

    __slots__ = ("records", "reply", "deadline", "submit_by", "size")

    def __init__(self, records: list[RawRecord], reply: Reply, deadline: float, submit_by: float) -> None:
        self.records = records
        self.size = sum(len(r.data) for r in records)  # body bytes: what makes a batch large
        self.reply: Reply | None = reply
        self.deadline = deadline  # loop time by which it is answered, committed or not
        self.submit_by = submit_by  # loop time after which a FULL spool answers it 503


class Batcher:
    """Loop-side queue of requests → batched ``submit_async`` calls, answered from the commit's callback.

    Every method but :meth:`_committed` runs on the event loop's thread.
    """

    def __init__(self, submit_async: SubmitAsync, max_inflight: int, timeout: float, response_timeout: float, *,
                 max_inflight_large: int | None = None, large_bytes: int = LARGE_BATCH_BYTES) -> None:
        """:param max_inflight_large: batches waiting for a commit at once while the next one is
        large (``large_bytes`` of bodies or more); default ``max_inflight``."""
        self.submit_async = submit_async
        self.max_inflight = max_inflight
        self.max_inflight_large = max(max_inflight, max_inflight_large or max_inflight)
        self.large_bytes = large_bytes
        self.timeout = timeout  # how long a request may wait for spool space
        self.response_timeout = response_timeout  # how long a request waits for its reply at most
        self.pending: dict[bool, list[_Waiting]] = {True: [], False: []}
        self.waiting: deque[_Waiting] = deque()  # every request not yet replied to, oldest first
        self.inflight = 0
        # batches handed over and not yet answered: withdrawn when every request of one timed out
        self._flying: dict[int, tuple[list[_Waiting], PendingSubmit]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pump_due = False
        self._timer: asyncio.TimerHandle | None = None
        self._gathering: asyncio.TimerHandle | None = None  # waiting for the senders just answered
        self._gather_target = 0  # pending requests that end the wait early
        self._full_retry: asyncio.TimerHandle | None = None  # the spool was full: the next offer
        self._full_wait = FULL_RETRY_S

    def add(self, records: list[RawRecord], dedup: bool, reply: Reply) -> None:
        """Queue ``records``; ``reply`` is called once, on the loop, within ``response_timeout``."""
        loop = self.loop
        if loop is None:
            loop = self.loop = asyncio.get_running_loop()
        now = loop.time()
        item = _Waiting(records, reply, now + self.response_timeout, now + self.timeout)
        self.pending[dedup].append(item)
        self.waiting.append(item)
        if self._timer is None:
            self._timer = loop.call_at(item.deadline, self._expire)
        if self._full_retry is not None:
            return  # the spool is full: the retry timer offers everything pending
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
        loop = self.loop
        assert loop is not None
        now = loop.time()
        waiting = self.waiting
        expired = False
        while waiting and (waiting[0].reply is None or waiting[0].deadline <= now):
            item = waiting.popleft()
            reply, item.reply = item.reply, None
            if reply is not None:
                reply(None)
                expired = True
        if expired:
            self._withdraw_abandoned()
        if waiting:
            self._timer = loop.call_at(waiting[0].deadline, self._expire)

    def _withdraw_abandoned(self) -> None:
        """Take back the batches all of whose requests were answered 503 while they waited.

        A batch still being prepared (the intake's child process has it) is not in the
        spool yet: withdrawn, it never is, so the 503 its senders got is true and their
        retry is not a duplicate. One already at the spool is committed anyway (at least
        once: the de-duplication window catches the retry). Newest first, as the intake
        spools in submission order.
        """
        for items, pending in reversed(list(self._flying.values())):
            if all(item.reply is None for item in items):
                pending.withdraw()

    def _room_for(self, items: list[_Waiting]) -> bool:
        """Whether ``items`` may leave now: fewer than ``max_inflight`` batches wait, or fewer
        than ``max_inflight_large`` and ``items`` make a large batch."""
        if self.inflight < self.max_inflight:
            return True
        return self.inflight < self.max_inflight_large and sum(item.size for item in items) >= self.large_bytes

    def _pump(self) -> None:
        """Send what is pending, as one batch per ``dedup`` setting, while there is room (:meth:`_room_for`)."""
        self._pump_due = False
        if self._gathering is not None:
            self._gathering.cancel()
            self._gathering = None
        if self._full_retry is not None:
            return
        for dedup in (True, False):
            while self.pending[dedup] and self._room_for(self.pending[dedup]):
                items, self.pending[dedup] = self.pending[dedup], []
                items = [item for item in items if item.reply is not None]  # already answered 503: not spooled
                if items:
                    self._send(items, dedup)

    def _send(self, items: list[_Waiting], dedup: bool) -> None:
        """Decode and queue one batch for the next commit; its answer comes back through :meth:`_committed`."""
        records = items[0].records if len(items) == 1 else [r for item in items for r in item.records]
        try:
            pending = self.submit_async(records, 0, dedup=dedup)  # never wait for space on the loop
        except Exception as exc:  # noqa: BLE001 - a failing submit must answer, not hang, its requests
            for item in items:
                self._reply(item, exc)
            return
        self.inflight += 1
        if pending.done():  # refused at once (full, closed) or answered synchronously: no hop
            self._done(items, dedup, pending.result(0))
            return
        loop = self.loop
        assert loop is not None

        def committed(result: Submitted) -> None:
            # on the spool's writer thread: hand the answer to the loop, nothing more
            try:
                loop.call_soon_threadsafe(self._done, items, dedup, result)
            except RuntimeError:
                pass  # the loop is closed: the source stopped, its connections are gone

        self._flying[id(items)] = (items, pending)
        pending.add_done_callback(committed)

    def _done(self, items: list[_Waiting], dedup: bool, result: Submitted) -> None:
        """The batch's commit (or refusal) is known: answer each of its requests in one pass."""
        self.inflight -= 1
        self._flying.pop(id(items), None)
        if result.status is SubmitStatus.FULL and self._hold_for_space(items, dedup, result.retry_after):
            return
        self._full_wait = FULL_RETRY_S
        accepted = result.status is SubmitStatus.ACCEPTED
        by_index: dict[int, str] = dict(result.errors) if result.errors else {}
        given = result.given
        partial = set(result.partial) if result.partial else None
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
                failed_all = bool(errors) and len(errors) == n and not (partial and any(base + i in partial for i in range(n)))
            else:
                errors, failed_all = [], False
            events = (given[base] if n == 1 else sum(given[base:base + n])) if given else 0
            dups = result.duplicates if single else (0 if not result.duplicates else None)
            self._reply(item, RequestResult(result.status, events, errors, failed_all, dups))
            base += n
        self._settle(len(items))

    def _hold_for_space(self, items: list[_Waiting], dedup: bool, retry_after: float) -> bool:
        """The spool refused ``items`` as FULL (nothing was taken): keep those that may still wait, offer them later.

        :returns: True when some request still waits (a retry is armed); the others were answered.
        """
        loop = self.loop
        assert loop is not None
        now = loop.time()
        keep: list[_Waiting] = []
        for item in items:
            if item.reply is None:
                continue
            if item.submit_by > now:
                keep.append(item)
            else:
                self._reply(item, RequestResult(SubmitStatus.FULL, retry_after=retry_after))
        if not keep:
            return False
        self.pending[dedup][:0] = keep  # ahead of what arrived meanwhile: first come, first spooled
        if self._full_retry is None:
            wait = min(self._full_wait, max(0.0, min(item.submit_by for item in keep) - now))
            self._full_wait = min(self._full_wait * 2, FULL_RETRY_MAX_S)
            self._full_retry = loop.call_later(wait, self._offer_again)
        return True

    def _offer_again(self) -> None:
        self._full_retry = None
        self._pump()

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
