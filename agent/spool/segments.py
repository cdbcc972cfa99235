"""Segments: how the spool stores events, many to a row.

A segment is a run of events with consecutive sequence numbers (``base`` to
``last``) that go to the same sinks (one ``mask``), stored as one row: the events'
native JSON concatenated (``data``) and the end offset of each (``ends``). One group
commit of a file source's 2,000 lines is one row, not 2,000; every event still has its
own sequence number, so a sink's cursor, a dead letter and a replay still name single
events, and a cursor may point inside a segment.

Events of one commit that go to different sinks are cut into several runs (a new
segment wherever the mask changes), so a segment is only ever owed to the sinks of its
mask: a sink that is down holds back its own segments on disk, never anyone else's.

Pure functions over bytes; the SQL lives in :mod:`agent.spool.db`.
"""

from __future__ import annotations

from array import array
from itertools import accumulate
from operator import itemgetter
from typing import Iterator, Sequence

__all__ = ["Run", "runs", "pack_ends", "unpack_ends", "event_at", "events_after"]

#: ``ends`` are unsigned 32-bit offsets in the machine's byte order (a spool file is
#: never moved between machines of different byte order while an agent uses it; a
#: segment is far below 4 GiB: a group commit is at most ``max_batch_events`` events).
_ENDS_TYPE = "I"
_mask = itemgetter(0)
_data = itemgetter(1)


class Run:
    """Events of one commit with the same mask, in order (what becomes one segment)."""

    __slots__ = ("mask", "datas")

    def __init__(self, mask: int) -> None:
        self.mask = mask
        self.datas: list[bytes] = []


def runs(events: Sequence[tuple[int, bytes]], tail: Run | None = None) -> list[Run]:
    """Cut ``(mask, data)`` pairs into runs of equal masks, continuing ``tail`` if the
    first event has its mask (so several appends of one commit share a segment).

    An append whose events all have one mask (a file tail's batch for one route: the
    usual case) is taken whole, without a Python loop turn per event.
    """
    if len(set(map(_mask, events))) == 1:
        mask = events[0][0]
        datas = list(map(_data, events))
        if tail is not None and tail.mask == mask:
            tail.datas.extend(datas)
            return []
        run = Run(mask)
        run.datas = datas
        return [run]
    out: list[Run] = []
    current = tail
    for mask, data in events:
        if current is None or current.mask != mask:
            current = Run(mask)
            out.append(current)
        current.datas.append(data)
    return out


def pack_ends(datas: Sequence[bytes]) -> bytes:
    """The ``ends`` column of a segment holding ``datas``."""
    return array(_ENDS_TYPE, accumulate(map(len, datas))).tobytes()


def unpack_ends(blob: bytes) -> array[int]:
    ends = array(_ENDS_TYPE)
    ends.frombytes(blob)
    return ends


def event_at(ends: Sequence[int], data: bytes, index: int) -> bytes:
    """The native JSON of the ``index``-th event of a segment."""
    return data[ends[index - 1] if index else 0:ends[index]]


def events_after(base: int, ends: Sequence[int], data: bytes, after: int) -> Iterator[tuple[int, bytes]]:
    """``(seq, data)`` of the segment's events with ``seq > after``, in order."""
    start = max(0, after + 1 - base)
    if start >= len(ends):
        return
    prev = ends[start - 1] if start else 0
    for index in range(start, len(ends)):
        end = ends[index]
        yield base + index, data[prev:end]
        prev = end
