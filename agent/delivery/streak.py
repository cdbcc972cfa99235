"""Retry warnings of a failing sink, one per failure streak plus a periodic summary.

A sink whose peer is down fails every few seconds for as long as the outage lasts;
one warning per attempt buries everything else in the journal. As the HTTP source
does with its refusals (a few lines, then a count of the rest), a streak logs:

- its first failure, in full, as a warning;
- then at most one summary per ``interval_s``: ``sink X: 57 more retries failed in the
  last 60 s, last error: ...``, so a long outage stays visible at a bounded rate;
- its end, as one info line: ``sink X delivers again after 58 failed attempts in 61 s``.

The clock is injected (monotonic seconds); the logger is the worker's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from agent.delivery.plain_errors import plain_error

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["FailureStreakLog"]


class FailureStreakLog:
    """Rate-limits the retry warnings of one sink's worker."""

    def __init__(self, sink: str, log: "Logger", *, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self.log = log
        self.interval_s = interval_s
        self.clock = clock
        self.started: float | None = None  # start of the current streak
        self.total = 0  # failed attempts in the streak
        self.unreported = 0  # failed attempts since the last line
        self.window_start = 0.0
        self.last_error = ""

    @property
    def in_streak(self) -> bool:
        return self.started is not None

    def failed(self, events: int, reason: str, attempt: int, delay: float) -> None:
        """A delivery attempt failed and will be retried in ``delay`` seconds."""
        now = self.clock()
        self.total += 1
        self.last_error = reason
        if self.started is None:
            self.started = self.window_start = now
            self.log.warning("sink {}: delivery of {} events failed: {}; attempt {}, retrying in {}; "
                             "further failures are summarised every {:g} s until it delivers again",
                             self.sink, events, plain_error(reason), attempt, _seconds(delay), self.interval_s)
            return
        self.unreported += 1
        if now - self.window_start >= self.interval_s:
            self.log.warning("sink {}: {} more retries failed in the last {:.0f} s, last error: {}; retrying in {}",
                             self.sink, self.unreported, now - self.window_start, plain_error(reason), _seconds(delay))
            self.unreported = 0
            self.window_start = now

    def succeeded(self) -> None:
        """A delivery succeeded: end the streak (and say so, if there was one)."""
        if self.started is None:
            return
        self.log.info("sink {} delivers again after {} failed attempts in {:.0f} s", self.sink, self.total,
                      self.clock() - self.started)
        self.started = None
        self.total = self.unreported = 0


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.0f} s"
