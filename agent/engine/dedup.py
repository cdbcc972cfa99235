"""The intake's de-duplication window, in memory that is allocated once and never grows.

The window remembers the ids spooled in the last ``window_s`` seconds, at most
``max_ids`` of them. Keeping them as Python strings in an ordered dict cost about
350 bytes of RSS per id, so the agent grew by megabytes a minute until the window
was full (tens of megabytes at the default 200,000 ids), which looked like a leak
during every long sink outage. Here each id is reduced to a 64-bit hash kept in
preallocated arrays: a ring buffer in arrival order (with the time each id was
remembered) and an open-addressing hash table (linear probing, backward-shift
deletion) pointing into the ring. Memory is about 60 bytes per ``max_ids`` slot, all
of it taken when the first id is remembered.

Two different ids share a 64-bit hash with probability about n²/2⁶⁵ (one in 10⁹
for a full default window); such an event would be taken for a redelivery.
"""

from __future__ import annotations

import threading
import time
from array import array
from typing import Callable, Sequence

__all__ = ["DedupWindow"]

_MASK64 = (1 << 64) - 1


def _key(event_id: str) -> int:
    """A non-zero 64-bit key for ``event_id`` (0 marks an empty table slot)."""
    return (hash(event_id) & _MASK64) or 1


class DedupWindow:
    """Remembers event ids for ``window_s`` seconds (at most ``max_ids``), thread-safe."""

    def __init__(self, window_s: float, max_ids: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.max_ids = max_ids
        self.clock = clock
        self._lock = threading.Lock()
        self._cap = max(1, max_ids)
        self._mask = 0
        self._table = array("Q")  # key per slot, 0 = empty (allocated by the first remember)
        self._ring_of = array("q")  # slot → index in the ring
        self._keys = array("Q")  # ring, oldest at _head
        self._times = array("d")
        self._head = 0
        self._count = 0

    def _allocate(self) -> None:
        """Take the window's whole memory at once, when the first id arrives (an agent
        whose sources never de-duplicate pays nothing)."""
        cap = self._cap
        size = 1 << max(4, (cap + cap // 2).bit_length())  # load factor at most 2/3
        self._mask = size - 1
        self._table = array("Q", bytes(8 * size))
        self._ring_of = array("q", bytes(8 * size))
        self._keys = array("Q", bytes(8 * cap))
        self._times = array("d", bytes(8 * cap))

    @property
    def enabled(self) -> bool:
        return self.window_s > 0 and self.max_ids > 0

    # ----------------------------------------------------------------- table
    def _find(self, key: int) -> int:
        table, mask = self._table, self._mask
        i = key & mask
        while True:
            k = table[i]
            if k == key:
                return i
            if k == 0:
                return -1
            i = (i + 1) & mask

    def _insert(self, key: int, ring_index: int) -> None:
        table, mask = self._table, self._mask
        i = key & mask
        while table[i] != 0:
            i = (i + 1) & mask
        table[i] = key
        self._ring_of[i] = ring_index

    def _delete(self, slot: int) -> None:
        """Empty ``slot`` and shift later members of its probe run back (no tombstones)."""
        table, ring_of, mask = self._table, self._ring_of, self._mask
        i = slot
        j = slot
        while True:
            j = (j + 1) & mask
            k = table[j]
            if k == 0:
                break
            home = k & mask
            # k may move to i unless its home lies cyclically in (i, j]
            if (i < j and (home <= i or home > j)) or (i > j and home <= i and home > j):
                table[i] = k
                ring_of[i] = ring_of[j]
                i = j
        table[i] = 0

    # ----------------------------------------------------------------- ring
    def _expire(self, now: float, room: int) -> None:
        """Forget ids older than the window, and the oldest until ``room`` slots are free."""
        cutoff = now - self.window_s
        keys, times = self._keys, self._times
        while self._count and (self._count > self._cap - room or times[self._head] < cutoff):
            slot = self._find(keys[self._head])
            if slot >= 0 and self._ring_of[slot] == self._head:
                self._delete(slot)
            self._head = (self._head + 1) % self._cap
            self._count -= 1

    # ----------------------------------------------------------------- API
    def seen(self, event_id: str) -> bool:
        """Whether ``event_id`` was remembered less than ``window_s`` seconds ago."""
        if not self.enabled or not self._table:
            return False
        with self._lock:
            slot = self._find(_key(event_id))
            if slot < 0:
                return False
            return self.clock() - self._times[self._ring_of[slot]] < self.window_s

    def remember(self, ids: Sequence[str]) -> None:
        """Remember ``ids`` as spooled now (the oldest are forgotten to make room).

        The intake remembers only ids it has not :meth:`seen`; an id remembered again
        within the window keeps its old ring slot until that slot expires, so it can
        make the window forget others slightly early, never remember too much.
        """
        if not self.enabled:
            return
        now = self.clock()
        with self._lock:
            if not self._table:
                self._allocate()
            for event_id in ids:
                key = _key(event_id)
                self._expire(now, 1)
                slot = self._find(key)
                if slot >= 0:  # remembered again within the window: the new entry is the youngest
                    self._delete(slot)
                index = (self._head + self._count) % self._cap
                self._keys[index] = key
                self._times[index] = now
                self._count += 1
                self._insert(key, index)
            self._expire(now, 0)

    def __len__(self) -> int:
        """Ids currently remembered (some may be past the window until the next call)."""
        return self._count
