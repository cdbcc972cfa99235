"""The token bucket behind a sink's ``rate_limit`` block.

A pure state machine with time injected: it never sleeps. The worker asks it how long
to wait for tokens and waits on an event that shutdown can interrupt.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """``per_second`` tokens a second up to ``burst``; ``per_second == 0`` is unlimited."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = float(per_second)
        self.capacity = float(max(burst, 1))
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()

    @property
    def limited(self) -> bool:
        return self.rate > 0

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens (at most ``burst``) are available (0 if now)."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        n = min(n, self.capacity)
        return 0.0 if self.tokens >= n else (n - self.tokens) / self.rate

    def take(self, n: float = 1.0) -> None:
        if self.rate > 0:
            self._refill()
            self.tokens -= min(n, self.capacity)
