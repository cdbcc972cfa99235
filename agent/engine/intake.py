"""Intake: raw records → decode → route → durably spooled, in one call per batch.

This is the hot path. Sources call :meth:`Intake.submit` with a batch of records; it
decodes them, routes each event once, serialises each event once, and hands the
batch to the spool, which commits it together with whatever other sources submitted
meanwhile (group commit). Only then does ``submit`` return ACCEPTED, and only then may
the source acknowledge its input.

Sources do not hold the intake itself but :class:`GatedSubmit`, which passes the ingest
gate (:class:`SubmitGate`) and then reaches whatever intake is current: a reload that
swaps the spool pauses the gate, so a submission waits for the instant it takes instead
of seeing a refusal.
"""

from __future__ import annotations

import collections
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Callable, Collection, Iterator, Mapping, Protocol, Sequence, cast

import orjson

from agent.sdk.decoder import DecodeError, PartialDecodeError
from agent.engine.dedup import DedupWindow
from agent.sdk.record import RawRecord
from agent.model import Event, format_time
from agent.routing.router import Plan, Router
from agent.sdk.source import PendingSubmit, Submitted, SubmitStatus
from agent.spool.errors import SpoolClosed, SpoolFull

if TYPE_CHECKING:
    from agent.sdk.heads import HeadRenderer, RenderedHeads
    from agent.spool.store import Spool

__all__ = ["Intake", "IntakeLog", "Preparer", "PreparedBatch", "DedupWindow", "IntakeStats", "SubmitGate", "GatedSubmit", "HoldsIntake", "Tap"]

_data = attrgetter("data")
_dumps = orjson.dumps
_NON_STR_KEYS = orjson.OPT_NON_STR_KEYS


def _own_size(data: bytes) -> bytes:
    """``data`` in a bytes object of its own length.

    orjson (3.13) returns every result in a buffer of about 8 KB, whatever its length, and
    a batch keeps each event's native JSON until the batch is handed over: 8 MB for a
    tail's 1,000 events of 700 bytes, where 0.7 MB would do (traced with tracemalloc at the
    preparing child's peak; docs/hot-path.md section 16). The copy costs about 0.15 µs.
    """
    return bytes(memoryview(data))

#: a head renderer, the bits (``1 << bit``) of the sinks it renders for, and per such sink its
#: bit and its list of heads (sinks whose renderers share a key share one rendering)
_Renderer = tuple["HeadRenderer", int, list[tuple[int, list[bytes | None]]]]

#: ``tap(source_name, rows)``: called with each batch once it is durably spooled (``siemrelay tap``)
Tap = Callable[[str, Sequence[tuple[int, bytes]]], None]


class IntakeStats:
    """Counters per source (name → counts) and per route; read by metrics, the status page and ``top``.

    ``bytes`` counts the raw records' bytes as received (what a SIEM licence bills);
    ``last_received`` is the wall time of each source's latest batch (a webhook that
    went quiet shows here first); ``routes`` counts per route name the events it
    matched and the events it queued for its sinks.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_input: dict[str, dict[str, int]] = collections.defaultdict(
            lambda: {"records": 0, "events": 0, "decode_errors": 0, "duplicates": 0, "unrouted": 0, "refused_full": 0,
                     "dropped": 0, "bytes": 0})
        self.last_received: dict[str, float] = {}
        self.routes: dict[str, dict[str, int]] = collections.defaultdict(lambda: {"matched": 0, "queued": 0})

    def add(self, name: str, **counts: int) -> None:
        with self.lock:
            c = self.by_input[name]
            for k, v in counts.items():
                c[k] += v

    def add_routes(self, matched: dict[tuple[str, ...], int], queued: dict[tuple[str, ...], int]) -> None:
        """Fold one batch's per-plan counts (keyed by the matched routes' names) into the per-route totals."""
        with self.lock:
            for names, n in matched.items():
                for route in names:
                    self.routes[route]["matched"] += n
            for names, n in queued.items():
                for route in names:
                    self.routes[route]["queued"] += n

    def received(self, name: str, when: float) -> None:
        with self.lock:
            self.last_received[name] = when


@dataclass(slots=True)
class PreparedBatch:
    """One batch decoded, routed and serialised (:meth:`Intake.prepare`), not yet spooled.

    :ivar name: the source's name (``origin.input`` of the batch's first record).
    :ivar rows: ``(sink mask, native JSON)`` per stored event variant.
    :ivar errors: dead letters of records that did not decode.
    :ivar failed: ``(record index, reason)`` of those records, for the source's answer.
    :ivar size: the raw records' bytes as received.
    :ivar ids: event ids to remember for de-duplication once committed.
    :ivar given: events each record's decoder gave, in record order (0 for a record
        that failed), for a source that answers per record (an HTTP request).
    :ivar partial: indices of the records that decoded in part.
    :ivar heads: per sink with a head renderer (:mod:`agent.sdk.heads`), the renderer's key
        and a head per row (None for a row not for that sink, or one it did not render).
    """

    name: str
    records: int
    size: int
    rows: list[tuple[int, bytes]]
    errors: list[tuple[str, str | None, bytes, str]]
    failed: list[tuple[int, str]]
    ids: list[str]
    spooled: int
    duplicates: int
    unrouted: int
    dropped: int
    matched: dict[tuple[str, ...], int]
    queued: dict[tuple[str, ...], int]
    given: list[int] = field(default_factory=list)
    partial: list[int] = field(default_factory=list)
    heads: dict[str, tuple[str, list[bytes | None]]] = field(default_factory=dict)


class IntakeLog(Protocol):
    """What the intake writes its log lines with: the agent's loguru logger, or the
    preparing child's :class:`~agent.engine.prepare_child.LineLog` (which sends its lines
    to the agent with the batch, and spares the child loguru's imports)."""

    def warning(self, message: str, /, *args: object) -> None: ...

    def error(self, message: str, /, *args: object) -> None: ...

    def log(self, level: str, message: str, /, *args: object) -> None: ...

    def opt(self, *, exception: BaseException) -> "IntakeLog": ...


class Preparer(Protocol):
    """Prepares an intake's batches elsewhere (:class:`agent.engine.prepare_pool.PreparePool`).

    :meth:`submit` takes an admitted batch and answers at once; it must hand every batch
    to :meth:`Intake.spool_prepared` in the order it was submitted, prepared exactly as
    :meth:`Intake.prepare` would have prepared it.
    """

    def submit(self, intake: "Intake", records: Sequence[RawRecord], dedup: bool) -> PendingSubmit: ...


class Intake:
    """Decode, route and spool batches of raw records for every source."""

    def __init__(self, spool: "Spool", router: Router, logger: IntakeLog, dedup: DedupWindow | None = None,
                 stats: IntakeStats | None = None, retry_after_s: float = 5.0,
                 wall: Callable[[], float] = time.time) -> None:
        self.spool = spool
        self.router = router
        self.log = logger
        self.dedup = dedup
        self.stats = stats or IntakeStats()
        self.retry_after_s = retry_after_s
        self.wall = wall
        self._bits = {name: 1 << bit for name, bit in spool.sinks.items()}
        self._masks: dict[tuple[str, ...], int] = {}  # sinks of a branch → spool mask
        self._unrouted_warned: set[str] = set()
        #: ``callback(source_name, rows)`` hooks called after a batch is durably spooled
        #: (``siemrelay tap``); empty unless someone is watching, so it costs nothing.
        self.taps: list[Tap] = []
        #: prepares batches outside this thread (child processes: ``agent.intake.processes``);
        #: None: :meth:`prepare` runs on the submitting thread, as it always did
        self.preparer: Preparer | None = None
        #: sinks whose heads :meth:`prepare` renders (:mod:`agent.sdk.heads`), and where the
        #: heads of a committed batch go (the agent's intake only; a child has no sinks)
        self.renderers: dict[str, HeadRenderer] = {}
        self.head_memos: dict[str, RenderedHeads] = {}

    def set_heads(self, renderers: Mapping[str, "HeadRenderer"], memos: Mapping[str, "RenderedHeads"]) -> None:
        """Which sinks get heads rendered ahead (at start and on reload)."""
        self.renderers = dict(renderers)
        self.head_memos = dict(memos)

    def heads_wanted(self, count: int) -> frozenset[str]:
        """The sinks with a head renderer that would keep ``count`` more heads now (a sink
        whose memo is full, one draining a backlog, gets none: :meth:`RenderedHeads.room
        <agent.sdk.heads.RenderedHeads.room>`). A sink without a memo here (in a preparing
        child, which sends its heads back with the batch) is wanted."""
        memos = self.head_memos
        return frozenset(n for n in self.renderers if (memo := memos.get(n)) is None or memo.room(count))

    def set_router(self, router: Router) -> None:
        """Swap the routing rules (reload); in-flight submits finish with the old ones."""
        self.router = router

    def submit(self, records: Sequence[RawRecord], timeout: float | None = None, *, dedup: bool = False) -> Submitted:
        """Decode, route and durably spool ``records``; see :class:`~agent.sdk.source.Submitted`.

        :param timeout: how long to wait for spool capacity when it is full (``None``
            or 0: answer FULL at once).
        :param dedup: skip events whose id was spooled within the de-duplication window.
        """
        return self.submit_async(records, timeout, dedup=dedup).result()

    def submit_async(self, records: Sequence[RawRecord], timeout: float | None = None, *,
                     dedup: bool = False) -> PendingSubmit:
        """Decode and route ``records`` now, queue them for the next group commit and return.

        The answer is the same :meth:`submit` gives; it arrives on the returned handle
        once the commit is done (completed on the spool's writer thread), so the caller
        can prepare its next batch meanwhile.
        """
        refused = self._admit(records, timeout)
        if refused is not None:
            return PendingSubmit.completed(refused)
        if self.preparer is not None:
            return self.preparer.submit(self, records, dedup)
        pending = PendingSubmit()
        self.spool_prepared(self.prepare(records, dedup=dedup), pending)
        return pending

    def spool_prepared(self, batch: "PreparedBatch", pending: PendingSubmit) -> None:
        """Queue a prepared batch for the next group commit; ``pending`` is answered after it.

        The second half of :meth:`submit_async`; a :class:`Preparer` calls it for the
        batches it prepared elsewhere, in the order they were submitted. A submission its
        source withdrew meanwhile (:meth:`PendingSubmit.withdraw`) is not spooled.
        """
        if not pending.claim_for_spool():
            return

        def done(_written: int, error: BaseException | None) -> None:
            if error is None:
                pending.set_result(self._committed(batch))
            elif isinstance(error, SpoolClosed):
                pending.set_result(Submitted(SubmitStatus.CLOSED))
            else:
                self.log.error("spool write failed, input not acknowledged: {}", error)
                pending.set_result(Submitted(SubmitStatus.FULL, retry_after=self.retry_after_s))

        stored = None
        if batch.heads and self.head_memos:
            def stored(first_seq: int) -> None:
                memos = self.head_memos
                for name, (key, heads) in batch.heads.items():
                    memo = memos.get(name)
                    if memo is not None:
                        memo.put(key, first_seq, heads)

        try:
            self.spool.append_nowait(batch.rows, batch.errors, on_done=done, on_stored=stored)
        except SpoolFull:
            pending.set_result(Submitted(SubmitStatus.FULL, retry_after=self.retry_after_s))
        except SpoolClosed:
            pending.set_result(Submitted(SubmitStatus.CLOSED))

    def _admit(self, records: Sequence[RawRecord], timeout: float | None) -> Submitted | None:
        """The refusal when the spool is closed, or full for longer than ``timeout``; None to go on."""
        if self.spool.closed:
            return Submitted(SubmitStatus.CLOSED)
        if self.spool.is_full:
            if not timeout or not self.spool.wait_for_space(timeout):
                name = records[0].origin.get("input", "?") if records else "?"
                self.stats.add(name, refused_full=len(records))
                return Submitted(SubmitStatus.CLOSED if self.spool.closed else SubmitStatus.FULL,
                                 retry_after=self.retry_after_s)
        return None

    def prepare(self, records: Sequence[RawRecord], *, dedup: bool = False, shared_only: bool = False,
                heads_for: Collection[str] | None = None) -> "PreparedBatch":
        """Decode, route and serialise ``records``: the spool rows and dead letters of one batch, nothing written.

        Heads (:mod:`agent.sdk.heads`) are rendered for the sinks in ``heads_for`` that have a renderer.

        :param shared_only: only those whose rendering several sinks share (each such head
            saves the sinks more than one rendering; a head of one sink only moves its work).
        :param heads_for: default :meth:`heads_wanted`, the sinks whose memo has room (a
            preparing child, which has no memos, is told by the agent); empty: no heads.
        """
        if heads_for is None:
            heads_for = self.heads_wanted(len(records))
        rows: list[tuple[int, bytes]] = []
        errors: list[tuple[str, str | None, bytes, str]] = []
        failed: list[tuple[int, str]] = []
        ids: list[str] = []
        given: list[int] = []
        partial: list[int] = []
        duplicates = unrouted = 0
        check_dup = dedup and self.dedup is not None and self.dedup.enabled
        router = self.router  # one router per batch: a reload never splits a batch
        plan_of = router.plan
        constant = router.constant
        shapes: dict[int, tuple[Plan, int]] = {}
        spooled = dropped = 0
        batch_ids: set[str] = set()
        # Counts per plan, kept as a run of equal plans (consecutive events nearly always
        # share one) and folded into these dicts when the plan changes, then once per batch.
        matched: dict[tuple[str, ...], int] = {}
        queued: dict[tuple[str, ...], int] = {}
        plan: Plan | None = None
        run_matched = run_queued = 0
        direct = 0  # the current plan's one sink mask when its events go as they are; 0: the general path
        received: datetime | None = None  # the last event's receiving time, and its text
        received_text = ""  # set together with received, before its first use
        append = rows.append
        # heads rendered ahead, per sink that has a renderer: one entry per row
        bits = self._bits
        named = [(n, bits[n], r) for n, r in self.renderers.items() if n in bits and n in heads_for]
        if shared_only:
            sharing = collections.Counter(r.key for _, _, r in named)
            named = [entry for entry in named if sharing[entry[2].key] > 1]
        head_lists: list[list[bytes | None]] = [[] for _ in named]
        renderers = _renderer_groups(named, head_lists)
        # Decoders that can give their events' native form directly skip the Event
        # (Decoder.decode_native) where nothing on the way needs one: every event goes, as it
        # is, to the same sinks (constant routing), or the rules read only the events' features
        # and transform nothing (Router.native_ok), which the native dict answers as well
        constant_mask = self._direct_mask(constant) if constant is not None else 0
        by_rules = constant is None and router.native_ok
        native = by_rules or constant_mask != 0
        if constant is not None and constant_mask:
            plan, direct = constant, constant_mask
            shapes[id(constant)] = (constant, constant_mask)
        plan_native = router.plan_native
        plans: list[Plan | None] = []
        for index, rec in enumerate(records):
            docs: list[dict[str, object]] | None = None
            if native:
                if rec.received_at is not received:
                    received, received_text = rec.received_at, format_time(rec.received_at)
                try:
                    docs = rec.decoder.decode_native(rec, received_text)
                except Exception:  # a plugin's bug in its shortcut: decode() below decides, and reports
                    docs = None
                if docs is not None and by_rules:
                    plans = [plan_native(d) for d in docs]
                    if any(p is None for p in plans):
                        docs = None  # a value no rule expects: the Event path decides, as it always did
            items: Sequence[Event | dict[str, object]]
            if docs is not None:
                items = docs
            else:
                try:
                    items = rec.decoder.decode(rec)
                except PartialDecodeError as exc:
                    reason = f"{rec.decoder.type_name}: {exc}"
                    failed.append((index, reason))
                    errors.append((rec.origin.get("input", ""), None, rec.data, reason))
                    items = exc.events
                    partial.append(index)
                except DecodeError as exc:
                    reason = f"{rec.decoder.type_name}: {exc}"
                    failed.append((index, reason))
                    errors.append((rec.origin.get("input", ""), None, rec.data, reason))
                    given.append(0)
                    continue
                except Exception as exc:  # a decoder bug must not lose the record or crash the source
                    reason = f"{rec.decoder.type_name} decoder failed: {type(exc).__name__}: {exc}"
                    self.log.opt(exception=exc).error("decoder {} raised on a record from {}; the record went to "
                                                      "dead letters", rec.decoder.type_name, rec.origin.get("input"))
                    failed.append((index, reason))
                    errors.append((rec.origin.get("input", ""), None, rec.data, reason))
                    given.append(0)
                    continue
            given.append(len(items))
            origin = rec.origin
            for n, item in enumerate(items):
                # an event's native dict (the decoder's shortcut) or its Event
                if docs is None:
                    ev = cast(Event, item)
                    if ev.origin is None:
                        ev.origin = origin
                    eid = ev.id
                else:
                    eid = cast(str, cast("dict[str, object]", item)["id"])
                if check_dup:
                    if eid in batch_ids or self.dedup.seen(eid):  # type: ignore[union-attr]
                        duplicates += 1
                        continue
                    batch_ids.add(eid)
                    ids.append(eid)
                # Route once; serialise once per variant (one, unless a route's transforms
                # change what its own sinks receive). Each sink is in exactly one variant.
                if constant is not None:
                    routed = constant
                else:
                    routed = plan_of(ev) if docs is None else cast(Plan, plans[n])
                if routed is not plan:
                    if plan is not None:
                        _fold(matched, queued, plan.routes, run_matched, run_queued)
                    plan, run_matched, run_queued = routed, 0, 0
                    direct = self._shape_mask(shapes, plan)
                if direct:
                    run_matched += 1
                    try:
                        # Event.to_json() in two steps, so that a head renderer can read the dict
                        if docs is not None:
                            doc: dict[str, object] | None = cast("dict[str, object]", item)
                        elif type(ev) is Event:
                            if ev.received_at is not received:  # a batch's events share one receiving time
                                received, received_text = ev.received_at, format_time(ev.received_at)
                            doc = ev.to_dict(received_text)
                        else:
                            doc = None
                        append((direct, _own_size(ev.to_json() if doc is None else _dumps(doc, option=_NON_STR_KEYS))))
                        if renderers:
                            _render_heads(doc, direct, renderers)
                    except (TypeError, ValueError) as exc:  # e.g. a plugin decoder put a set in raw
                        self._unstorable(rec, eid, index, exc, failed, errors)
                        continue
                    run_queued += 1
                    spooled += 1
                    continue
                if docs is not None:  # no transforms here: no rule took it, or its sinks are not in the spool
                    if plan.routes:
                        run_matched += 1
                        dropped += 1
                    else:
                        unrouted += 1
                    continue
                if not plan.routes:
                    unrouted += 1
                    continue
                run_matched += 1
                n_rows = len(rows)
                unstorable = False
                for transform, sinks in plan.branches:
                    mask = self._mask_of(sinks)
                    if not mask:
                        continue
                    variant = ev if transform is None else transform(ev)
                    if variant is None:
                        continue
                    try:
                        variant_doc = variant.to_dict() if type(variant) is Event else None
                        data = _own_size(variant.to_json() if variant_doc is None
                                         else _dumps(variant_doc, option=_NON_STR_KEYS))
                    except (TypeError, ValueError) as exc:  # e.g. a plugin decoder put a set in raw
                        self._unstorable(rec, ev.id, index, exc, failed, errors)
                        unstorable = True
                        continue
                    append((mask, data))
                    if renderers:
                        _render_heads(variant_doc, mask, renderers)
                if len(rows) > n_rows:
                    spooled += 1
                    run_queued += 1
                elif not unstorable:
                    dropped += 1  # every route that matched consumed it (no `to:`, or a drop transform)
        if plan is not None:
            _fold(matched, queued, plan.routes, run_matched, run_queued)
        name = records[0].origin.get("input", "?") if records else "?"
        rendered = {n: (r.key, hl) for (n, _, r), hl in zip(named, head_lists) if hl.count(None) < len(hl)}
        return PreparedBatch(name, len(records), sum(map(len, map(_data, records))), rows, errors, failed, ids,
                             spooled, duplicates, unrouted, dropped, matched, queued, given, partial, rendered)

    def _committed(self, batch: "PreparedBatch") -> Submitted:
        """Count a committed batch, remember its ids, feed the taps; the answer to its source."""
        name = batch.name
        if batch.ids:
            self.dedup.remember(batch.ids)  # type: ignore[union-attr]
        self.stats.add(name, records=batch.records, events=batch.spooled, decode_errors=len(batch.failed),
                       duplicates=batch.duplicates, unrouted=batch.unrouted, dropped=batch.dropped, bytes=batch.size)
        if batch.records:
            self.stats.received(name, self.wall())
        if batch.matched:
            self.stats.add_routes(batch.matched, batch.queued)
        if self.taps and batch.rows:
            for tap in tuple(self.taps):
                tap(name, batch.rows)
        if batch.unrouted and name not in self._unrouted_warned:
            self._unrouted_warned.add(name)
            self.log.warning("events from {} matched no route and no 'default' route; they are counted as unrouted "
                             "(add a route named 'default' to keep them)", name)
        return Submitted(SubmitStatus.ACCEPTED, events=batch.spooled, errors=batch.failed, duplicates=batch.duplicates,
                         given=batch.given, partial=batch.partial)

    def _mask_of(self, sinks: tuple[str, ...]) -> int:
        """The spool mask of ``sinks`` (sinks the spool does not know, e.g. disabled ones, add nothing)."""
        mask = self._masks.get(sinks)
        if mask is None:
            mask = self._masks[sinks] = sum(self._bits.get(s, 0) for s in set(sinks))
        return mask

    def _shape_mask(self, shapes: dict[int, tuple[Plan, int]], plan: Plan) -> int:
        """:meth:`_direct_mask` of ``plan``, worked out once per batch (``shapes``, by the plan's
        id; the plan is kept with it, so its id stays its own while the batch lasts)."""
        shape = shapes.get(id(plan))
        if shape is None:
            shape = shapes[id(plan)] = (plan, self._direct_mask(plan))
        return shape[1]

    def _direct_mask(self, plan: Plan) -> int:
        """The one mask ``plan``'s events are stored under as they are (a single branch without a
        transform, to at least one known sink), or 0 when they need the general path."""
        if len(plan.branches) != 1 or not plan.routes:
            return 0
        transform, sinks = plan.branches[0]
        return 0 if transform is not None else self._mask_of(sinks)

    @staticmethod
    def _unstorable(rec: RawRecord, event_id: str, index: int, exc: Exception, failed: list[tuple[int, str]],
                    errors: list[tuple[str, str | None, bytes, str]]) -> None:
        """Dead-letter the record of an event that cannot be stored as JSON (once per record)."""
        reason = f"{rec.decoder.type_name}: event {event_id!r} cannot be stored as JSON: {exc}"
        if not failed or failed[-1][0] != index:
            failed.append((index, reason))
            errors.append((rec.origin.get("input", ""), event_id, rec.data, reason))


def _renderer_groups(named: list[tuple[str, int, "HeadRenderer"]], head_lists: list[list[bytes | None]]
                     ) -> list[_Renderer]:
    """The renderers of ``named`` sinks grouped by key: sinks with the same settings (a
    fan-out to two collectors alike) share one rendering per event."""
    groups: dict[str, _Renderer] = {}
    for (_, bit, renderer), heads in zip(named, head_lists):
        _, bits, sinks = groups.get(renderer.key, (renderer, 0, []))
        groups[renderer.key] = (renderer, bits | bit, [*sinks, (bit, heads)])
    return list(groups.values())


def _render_heads(doc: dict[str, object] | None, mask: int, renderers: list[_Renderer]) -> None:
    """One row's head per sink: rendered from ``doc`` for a sink in ``mask``, else None
    (also for no ``doc``, and when a renderer fails: the sink then renders that head itself)."""
    for render, bits, sinks in renderers:
        head = None
        if doc is not None and mask & bits:
            try:
                head = render(doc)
            except Exception:  # a renderer's bug costs only this head, never the event
                head = None
        for bit, heads in sinks:
            heads.append(head if mask & bit else None)


def _fold(matched: dict[tuple[str, ...], int], queued: dict[tuple[str, ...], int], routes: tuple[str, ...],
          n_matched: int, n_queued: int) -> None:
    """Add a run of events with one plan to the batch's per-plan counts."""
    if n_matched:
        matched[routes] = matched.get(routes, 0) + n_matched
    if n_queued:
        queued[routes] = queued.get(routes, 0) + n_queued


class SubmitGate:
    """Counts submissions in flight; ``paused()`` waits for them to finish and holds new ones."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._paused = False

    def enter(self, timeout: float) -> bool:
        with self._cond:
            if self._paused and not self._cond.wait_for(lambda: not self._paused, timeout):
                return False
            self._active += 1
            return True

    def exit(self) -> None:
        with self._cond:
            self._active -= 1
            if self._active == 0:
                self._cond.notify_all()

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self._cond:
            self._paused = True
            self._cond.wait_for(lambda: self._active == 0)
        try:
            yield
        finally:
            with self._cond:
                self._paused = False
                self._cond.notify_all()


class HoldsIntake(Protocol):
    """Whoever owns the current intake (the supervisor: a reload replaces it)."""

    @property
    def intake(self) -> Intake | None: ...


class GatedSubmit:
    """The ``submit`` sources hold: it always reaches the supervisor's *current* intake.

    :param hold_s: how long a submission may wait while a reload swaps the spool
        before the source is told to push back (FULL).
    """

    def __init__(self, supervisor: HoldsIntake, gate: SubmitGate, hold_s: float = 60.0) -> None:
        self.sup = supervisor
        self.gate = gate
        self.hold_s = hold_s

    def __call__(self, records: Sequence[RawRecord], timeout: float | None = None, *, dedup: bool = False) -> Submitted:
        if not self.gate.enter(self.hold_s):
            return Submitted(SubmitStatus.FULL, retry_after=5.0)
        try:
            intake = self.sup.intake
            if intake is None:  # not started yet, or already gone: nothing can take the records
                return Submitted(SubmitStatus.CLOSED)
            return intake.submit(records, timeout, dedup=dedup)
        finally:
            self.gate.exit()

    def submit_async(self, records: Sequence[RawRecord], timeout: float | None = None, *,
                     dedup: bool = False) -> PendingSubmit:
        """:meth:`Intake.submit_async` through the gate; the submission counts as in flight until answered."""
        if not self.gate.enter(self.hold_s):
            return PendingSubmit.completed(Submitted(SubmitStatus.FULL, retry_after=5.0))
        try:
            intake = self.sup.intake
            if intake is None:
                self.gate.exit()
                return PendingSubmit.completed(Submitted(SubmitStatus.CLOSED))
            pending = intake.submit_async(records, timeout, dedup=dedup)
        except BaseException:
            self.gate.exit()
            raise
        pending.add_done_callback(lambda _result: self.gate.exit())
        return pending
