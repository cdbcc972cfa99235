"""Message heads rendered ahead: the per-event part of a sink's encoding done where the event is built.

A sink that sends the stored native JSON as its message (the ``syslog`` sink's default)
still reads a few fields of every event for its header (the RFC 5424 header and
structured data). Done in the sink worker, that means parsing the stored JSON again and
rendering the header on the agent's interpreter, the busier of the two processes on the
file path (about 13 µs of the worker's 21 per event; docs/hot-path.md). The intake,
often in the preparing child, holds the event as a dict right before it serialises it,
so it can render the head there for the cost of the rendering alone.

The contract, for a sink that offers it (:meth:`agent.sdk.sink.Sink.head_renderer`):

- a :class:`HeadRenderer` is pure and picklable (it crosses to the preparing child) and
  its :attr:`~HeadRenderer.key` names everything the head depends on: two renderers with
  one key render every event alike;
- it renders from :meth:`agent.model.Event.to_dict`'s dict exactly what the sink renders
  from the stored JSON parsed back, or returns ``None`` (a value whose JSON round trip
  could change its text): the sink then renders that event itself;
- heads travel beside the spool, never in it (:class:`RenderedHeads`, in memory, bounded):
  a head that is missing (a restart, a backlog beyond the bound, a retry, a reload) only
  means the sink renders it from the stored bytes as it always did. What is stored, and so
  what a sink sends, is the same either way.
"""

from __future__ import annotations

import threading
from typing import Mapping, Protocol, Sequence, runtime_checkable

__all__ = ["HeadRenderer", "RenderedHeads", "MAX_HEADS"]

#: heads kept per sink at most: a head is only worth keeping for a sink that reads the
#: batch soon after its commit (a sink batch is up to 2,000 events, a file tail has 4
#: batches of 1,000 in flight). A syslog head is 60-200 bytes, about 300 with the dict's
#: entry: at most about 5 MB per sink, reached within seconds of an outage and then flat;
#: a sink that falls behind further renders the rest itself
MAX_HEADS = 16384


@runtime_checkable
class HeadRenderer(Protocol):
    """Renders one sink's per-event head from an event's native dict (see the module doc)."""

    @property
    def key(self) -> str:
        """What the head depends on (the sink's type and every setting the rendering reads)."""
        ...

    def __call__(self, doc: Mapping[str, object]) -> bytes | None:
        """The head of the event whose native form is ``doc``, or None: the sink renders it."""
        ...


class Numbered(Protocol):
    """What :meth:`RenderedHeads.take` reads of a :class:`~agent.sdk.sink.SpooledEvent`."""

    @property
    def seq(self) -> int: ...


class RenderedHeads:
    """One sink's heads rendered ahead, by spool sequence number (the agent's side).

    The spool's writer puts a committed batch's heads (:meth:`put`, right after the
    commit, before the sink workers are woken); the sink's worker takes a batch's
    (:meth:`take`). Heads of a renderer whose key is not this sink's current one are
    refused, so a batch prepared before a reload that changed the sink never lends its
    heads to the new configuration. Bounded by ``limit``: beyond it heads are dropped.
    """

    def __init__(self, key: str, limit: int = MAX_HEADS) -> None:
        self.key = key
        self.limit = limit
        self._heads: dict[int, bytes] = {}
        self._lock = threading.Lock()
        #: events whose head came from here, and events a batch had to render itself
        self.used = 0
        self.missed = 0

    def __len__(self) -> int:
        return len(self._heads)

    def room(self, count: int) -> bool:
        """Whether ``count`` more heads would be kept now. A sink far behind (a backlog
        draining) keeps its memo full of heads for events it reaches much later and takes
        no new ones: the intake then renders none for it (rendering them is wasted work)."""
        return len(self._heads) + count <= self.limit

    def put(self, key: str, first_seq: int, heads: Sequence[bytes | None]) -> bool:
        """Keep ``heads[i]`` for sequence number ``first_seq + i`` (None: none for that event).

        :returns: whether they were kept (not when ``key`` is another configuration's, or
            the bound would be passed).
        """
        if key != self.key:
            return False
        with self._lock:
            if len(self._heads) + len(heads) > self.limit:
                return False
            if None in heads:
                self._heads.update((first_seq + i, h) for i, h in enumerate(heads) if h is not None)
            else:
                self._heads.update(zip(range(first_seq, first_seq + len(heads)), heads))  # type: ignore[arg-type]
        return True

    def take(self, batch: Sequence[Numbered]) -> list[bytes | None] | None:
        """The heads of ``batch``'s events (None where there is none), removed from here;
        None when there is none at all. Heads of earlier events, which the sink has
        passed without taking (purged, dead-lettered elsewhere), are dropped."""
        if not batch:
            return None
        if not self._heads:
            self.missed += len(batch)
            return None
        first = batch[0].seq
        with self._lock:
            heads = self._heads
            pop = heads.pop
            got = [pop(item.seq, None) for item in batch]
            while heads:
                oldest = next(iter(heads))
                if oldest >= first:
                    break
                del heads[oldest]
        missing = got.count(None)
        self.used += len(got) - missing
        self.missed += missing
        return got if missing < len(got) else None
