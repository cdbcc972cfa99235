"""Group concurrent webhook requests into one spool commit, and give each its own answer.

Handing every request to ``submit`` on its own costs a thread hop, a decode loop and
a spool request each; under load the threads mostly wait for each other (and for
the GIL). Here the event loop queues each request's records; at most ``max_inflight``
batches are in the spool at once, and each takes everything queued meanwhile. While
one batch waits for its commit (fsync), the next one gathers: the group commit the
spool offers, without a thread per request.

Each request still gets an exact answer: its records keep their indices in the
batch, and :class:`TrackingDecoder` notes on each record how many events it gave and
whether it was partly bad, which ``Submitted`` only reports for the batch.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from agent.sdk.decoder import DecodeError, Decoder, PartialDecodeError
from agent.sdk.record import RawRecord
from agent.sdk.source import Submitted, SubmitStatus

__all__ = ["Batcher", "RequestResult", "Refusal", "TrackingDecoder"]


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


class Batcher:
    """Loop-side queue of requests → batched ``submit`` calls on a thread pool."""

    def __init__(self, submit: Callable[..., Submitted], pool: concurrent.futures.Executor, max_inflight: int,
                 timeout: float) -> None:
        self.submit = submit
        self.pool = pool
        self.max_inflight = max_inflight
        self.timeout = timeout
        self.pending: dict[bool, list[tuple[list[RawRecord], asyncio.Future[RequestResult]]]] = {True: [], False: []}
        self.inflight = 0

    def add(self, records: list[RawRecord], dedup: bool) -> asyncio.Future[RequestResult]:
        fut: asyncio.Future[RequestResult] = asyncio.get_running_loop().create_future()
        self.pending[dedup].append((records, fut))
        self._pump()
        return fut

    def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        for dedup in (True, False):
            while self.pending[dedup] and self.inflight < self.max_inflight:
                items, self.pending[dedup] = self.pending[dedup], []
                self.inflight += 1
                job = loop.run_in_executor(self.pool, self._run, items, dedup)
                job.add_done_callback(functools.partial(self._done, items=items))

    def _run(self, items: list[tuple[list[RawRecord], Any]], dedup: bool) -> Submitted:
        records = [r for recs, _ in items for r in recs]
        return self.submit(records, timeout=self.timeout, dedup=dedup)

    def _done(self, job: asyncio.Future[Submitted], *, items: list[tuple[list[RawRecord], asyncio.Future[RequestResult]]]) -> None:
        self.inflight -= 1
        try:
            result = job.result()
        except BaseException as exc:  # noqa: BLE001 - a failing submit must answer, not hang, its requests
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(exc)
            self._pump()
            return
        by_index: dict[int, str] = dict(result.errors)
        base = 0
        single = len(items) == 1
        for recs, fut in items:
            if fut.done():  # the request timed out meanwhile
                base += len(recs)
                continue
            if result.status is not SubmitStatus.ACCEPTED:
                fut.set_result(RequestResult(result.status, retry_after=result.retry_after))
                base += len(recs)
                continue
            errors = [by_index[base + i] for i in range(len(recs)) if base + i in by_index]
            events = sum(r.meta.get("events", 0) for r in recs)
            failed_all = bool(errors) and len(errors) == len(recs) and not any(r.meta.get("partial") for r in recs)
            dups = result.duplicates if single else (0 if not result.duplicates else None)
            fut.set_result(RequestResult(result.status, events, errors, failed_all, dups))
            base += len(recs)
        self._pump()
