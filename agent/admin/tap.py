"""Live event taps (``siemrelay tap``): a copy of what the intake just spooled, for a person to watch.

The hub hooks into the intake only while someone is watching, so the hot path pays
nothing otherwise. A tap never slows the pipeline: each subscriber has a bounded
buffer, and when a reader falls behind the newest events are dropped *for that
reader only* and counted (vector's tap does the same). Spooling is never affected.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable, Sequence

__all__ = ["TapHub", "Subscription"]


class Subscription:
    """One watcher: a filter and a bounded buffer of native-JSON event lines."""

    def __init__(self, source: str | None, sink_bit: int | None, maxsize: int) -> None:
        self.source = source
        self.sink_bit = sink_bit
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._buf: collections.deque[bytes] = collections.deque()
        self._cond = threading.Condition()

    def offer(self, name: str, rows: Sequence[tuple[int, bytes]]) -> None:
        if self.source is not None and name != self.source:
            return
        bit = self.sink_bit
        with self._cond:
            for mask, data in rows:
                if bit is not None and not (mask >> bit) & 1:
                    continue
                if len(self._buf) >= self.maxsize:
                    self.dropped += 1
                    continue
                self._buf.append(data)
            if self._buf:
                self._cond.notify()

    def get(self, timeout: float) -> list[bytes]:
        """Wait up to ``timeout`` for events; return what is buffered (possibly nothing)."""
        with self._cond:
            if not self._buf and not self.closed:
                self._cond.wait(timeout)
            out = list(self._buf)
            self._buf.clear()
            return out

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class TapHub:
    """Fans spooled batches out to subscribers; attaches to the intake's tap list on demand.

    :param taps: the intake's list of ``callback(source_name, rows)`` hooks (shared
        across reloads, so a tap survives a configuration reload).
    :param bits: returns the spool's current ``sink name → bit`` map.
    """

    def __init__(self, taps: list[Callable[[str, Sequence[tuple[int, bytes]]], None]],
                 bits: Callable[[], dict[str, int]]) -> None:
        self.taps = taps
        self.bits = bits
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._closed = False

    def __call__(self, name: str, rows: Sequence[tuple[int, bytes]]) -> None:
        for sub in self._subs:  # copy-on-write list: no lock on the hot path
            sub.offer(name, rows)

    def subscribe(self, source: str | None = None, sink: str | None = None, maxsize: int = 10000) -> Subscription:
        """Start watching; ``sink`` selects events routed to that sink.

        :raises KeyError: ``sink`` is not a running sink.
        """
        bit = None
        if sink is not None:
            bit = self.bits()[sink]
        sub = Subscription(source, bit, maxsize)
        with self._lock:
            if self._closed:
                sub.close()
                return sub
            self._subs = [*self._subs, sub]
            if self not in self.taps:
                self.taps.append(self)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        with self._lock:
            self._subs = [s for s in self._subs if s is not sub]
            if not self._subs and self in self.taps:
                self.taps.remove(self)

    @property
    def watchers(self) -> int:
        return len(self._subs)

    def close(self) -> None:
        """End every tap (agent stopping)."""
        with self._lock:
            self._closed = True
            subs, self._subs = self._subs, []
            if self in self.taps:
                self.taps.remove(self)
        for s in subs:
            s.close()
