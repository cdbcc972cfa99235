"""The last hour, per minute: the in-memory ring the status page draws its charts from.

The admin server's sampler thread calls :meth:`MinuteHistory.record` about once a
second with the current value of every counter (events and bytes per source and
sink, monotonically growing) and gauge (queue depth per sink). Each series keeps one
slot per minute (the last value seen in that minute), for at most ``minutes + 1``
minutes, so memory is bounded by the number of series, whatever the traffic or uptime.
From it come the per-minute rates of the charts and the "last 5 minutes / last hour"
totals. Series of sinks or sources that went away (a reload) age out with their last
sample. The clock is injected (wall seconds), so tests drive minutes by hand.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["MinuteHistory", "Point"]


@dataclass(frozen=True, slots=True)
class Point:
    """One minute of one series: ``minute`` is ``epoch seconds // 60``."""

    minute: int
    value: float


class MinuteHistory:
    """Per-minute samples of named counters and gauges over the last ``minutes`` minutes."""

    def __init__(self, minutes: int = 60, clock: Callable[[], float] = time.time) -> None:
        if minutes < 1:
            raise ValueError("minutes must be at least 1")
        self.minutes = minutes
        self.clock = clock
        self._lock = threading.Lock()
        self._series: dict[str, collections.deque[Point]] = {}
        self._first_seen: dict[str, float] = {}

    def now_minute(self) -> int:
        return int(self.clock() // 60)

    def record(self, values: dict[str, float]) -> None:
        """Note the current value of each series (counters and gauges alike)."""
        now = self.clock()
        minute = int(now // 60)
        with self._lock:
            for key, value in values.items():
                ring = self._series.get(key)
                if ring is None:
                    ring = self._series[key] = collections.deque(maxlen=self.minutes + 1)
                    self._first_seen[key] = now
                if ring and ring[-1].minute == minute:
                    ring[-1] = Point(minute, float(value))
                else:
                    ring.append(Point(minute, float(value)))
            oldest = minute - self.minutes
            for key in [k for k, ring in self._series.items() if ring[-1].minute < oldest]:
                del self._series[key]
                del self._first_seen[key]

    def series_count(self) -> int:
        with self._lock:
            return len(self._series)

    def _points(self, key: str) -> list[Point]:
        with self._lock:
            ring = self._series.get(key)
            return list(ring) if ring else []

    def gauge(self, key: str) -> list[float | None]:
        """One value per minute, oldest first, ``minutes`` long; ``None`` where nothing was sampled."""
        first = self.now_minute() - self.minutes + 1
        out: list[float | None] = [None] * self.minutes
        for p in self._points(key):
            if p.minute >= first:
                out[p.minute - first] = p.value
        return out

    def per_second(self, key: str) -> list[float | None]:
        """A counter's average rate (per second) in each minute, oldest first, ``minutes`` long.

        A minute's rate is its growth since the previous sampled minute, spread over the
        minutes between them; a counter that went down (its sink was rebuilt) counts
        from zero. ``None`` where there is no earlier sample to compare with.
        """
        first = self.now_minute() - self.minutes + 1
        out: list[float | None] = [None] * self.minutes
        points = self._points(key)
        for prev, cur in zip(points, points[1:]):
            if cur.minute < first:
                continue
            grown = cur.value - prev.value if cur.value >= prev.value else cur.value
            out[cur.minute - first] = grown / (60.0 * (cur.minute - prev.minute))
        return out

    def growth(self, key: str, seconds: float, current: float | None = None) -> float:
        """How much a counter grew in about the last ``seconds`` (minute resolution).

        Compared with the last sample taken at least ``seconds`` ago, or with zero when
        the series is younger than that (counters start at zero with the agent).
        ``current`` is the counter's live value: samples are taken every few seconds,
        and a page must not show "0 in 5 min" right after events arrived. A counter that
        went down (its sink was rebuilt) counts again from zero.
        """
        now = self.clock()
        with self._lock:
            ring = self._series.get(key)
            points = list(ring) if ring else []
            first_seen = self._first_seen.get(key, now)
        if current is not None:
            points.append(Point(int(now // 60), float(current)))
        since = int((now - seconds) // 60)
        prev = 0.0
        if first_seen <= now - seconds:  # old enough to have a baseline
            older = [p for p in points if p.minute <= since]
            prev = older[-1].value if older else points[0].value if points else 0.0
            points = [p for p in points if p.minute > since]
        total = 0.0
        for p in points:
            total += p.value - prev if p.value >= prev else p.value
            prev = p.value
        return total
