"""Retry schedule, circuit breaker and token bucket: pure state machines, time injected.

None of these sleep; the delivery worker asks them how long to wait and waits on an
event that shutdown can interrupt. Tests drive them with a fake clock and
``jitter: none`` and assert exact delays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["RetryPolicy", "CircuitBreaker", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts of one batch."""

    max_attempts: int = 0  # 0 = forever
    initial_backoff_s: float = 1.0
    multiplier: float = 2.0
    max_backoff_s: float = 300.0
    jitter: str = "full"
    timeout_s: float = 10.0
    schedule_s: tuple[float, ...] = ()

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> "RetryPolicy":
        return cls(max_attempts=int(cfg.get("max_attempts", 0)), initial_backoff_s=float(cfg.get("initial_backoff_s", 1.0)),
                   multiplier=float(cfg.get("multiplier", 2.0)), max_backoff_s=float(cfg.get("max_backoff_s", 300.0)),
                   jitter=str(cfg.get("jitter", "full")), timeout_s=float(cfg.get("timeout_s", 10.0)),
                   schedule_s=tuple(float(x) for x in cfg.get("schedule_s") or ()))

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` attempts were made and no more are allowed."""
        if self.schedule_s and not self.max_attempts:
            return attempts > len(self.schedule_s)
        return bool(self.max_attempts) and attempts >= self.max_attempts

    def delay(self, attempts: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt (1-based).

        A peer's ``Retry-After`` wins over the computed delay (capped at ``max_backoff_s``
        so a hostile peer cannot park a sink for a day).
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), max(self.max_backoff_s, 1.0))
        if self.schedule_s:
            base = self.schedule_s[min(attempts, len(self.schedule_s)) - 1]
        else:
            base = min(self.initial_backoff_s * (self.multiplier ** (attempts - 1)), self.max_backoff_s)
        if self.jitter == "full":
            return rng.uniform(0.0, base)
        return base


class CircuitBreaker:
    """Closed → (N consecutive failures) → open → (cool-down) → half-open → closed or open."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, failure_threshold: int, cooldown_s: float, clock: Callable[[], float]) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._state = self.CLOSED

    @property
    def state(self) -> str:
        if self._state == self.OPEN and self.opened_at is not None and self.clock() - self.opened_at >= self.cooldown_s:
            return self.HALF_OPEN
        return self._state

    def wait_time(self) -> float:
        """Seconds until a delivery may be attempted (0 when closed or half-open)."""
        if self._state != self.OPEN or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown_s - self.clock())

    def record_success(self) -> None:
        self.failures = 0
        self._state = self.CLOSED
        self.opened_at = None

    def record_failure(self, *, force_open: bool = False) -> bool:
        """Count a failure; return True when this one opened (or re-opened) the circuit."""
        self.failures += 1
        half_open = self.state == self.HALF_OPEN
        if force_open or half_open or self.failures >= self.failure_threshold:
            was_open = self._state == self.OPEN and not half_open
            self._state = self.OPEN
            self.opened_at = self.clock()
            return not was_open
        return False

    def reset(self) -> None:
        """Re-enable: close the circuit and forget the failure count."""
        self.record_success()


class TokenBucket:
    """``per_second`` tokens a second up to ``burst``; ``per_second == 0`` is unlimited."""

    def __init__(self, per_second: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = float(per_second)
        self.capacity = float(max(burst, 1))
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()

    def wait_time(self) -> float:
        """Seconds until one token is available (0 if now)."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        if self.rate > 0:
            self.wait_time()
            self.tokens -= 1.0
