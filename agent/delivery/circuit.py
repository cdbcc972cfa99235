"""The circuit breaker of a sink's delivery worker.

A pure state machine with time injected: it never sleeps. The worker asks it how long
to wait and waits on an event that shutdown and re-enabling can interrupt.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Closed → (N consecutive failures) → open → (cool-down) → half-open → closed or open.

    While open, no delivery is attempted: events keep spooling. After the cool-down
    one probe is let through (half-open); its success closes the circuit, its failure
    opens it for another cool-down.
    """

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, failure_threshold: int, cooldown_s: float, clock: Callable[[], float], failures: int = 0) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.failures = failures
        self.opened_at: float | None = None
        self.opened_count = 0
        self._state = self.CLOSED

    @property
    def state(self) -> str:
        if self._state == self.OPEN and self.opened_at is not None and self.clock() - self.opened_at >= self.cooldown_s:
            return self.HALF_OPEN
        return self._state

    @property
    def is_open(self) -> bool:
        """Open or half-open: the sink is unhealthy."""
        return self._state == self.OPEN

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
        if force_open or self._state == self.OPEN or self.failures >= self.failure_threshold:
            self._state = self.OPEN
            self.opened_at = self.clock()
            self.opened_count += 1
            return True
        return False

    def reset(self) -> None:
        """Re-enable: close the circuit and forget the failure count."""
        self.record_success()
