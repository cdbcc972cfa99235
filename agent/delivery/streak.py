"""Retry warnings of a failing sink, one per failure streak plus a periodic summary.

A sink whose peer is down fails every few seconds for as long as the outage lasts;
one warning per attempt buries everything else in the journal. With the same
:class:`~agent.sdk.logwindow.LogWindow` as the HTTP source's refusals (a few lines,
then a count of the rest), a streak logs:

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
from agent.sdk.logwindow import LogWindow

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["FailureStreakLog"]


class FailureStreakLog:
    """Rate-limits the retry warnings of one sink's worker (one :class:`~agent.sdk.logwindow.LogWindow` line per interval)."""

    def __init__(self, sink: str, log: "Logger", *, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sink = sink
        self.log = log
        self.interval_s = interval_s
        self.clock = clock
        self.window = LogWindow(1, interval_s, clock)
        self.started: float | None = None  # start of the current streak
        self.last_line = 0.0  # when the streak last logged
        self.total = 0  # failed attempts in the streak

    @property
    def in_streak(self) -> bool:
        return self.started is not None

    def failed(self, events: int, reason: str, attempt: int, delay: float) -> None:
        """A delivery attempt failed and will be retried in ``delay`` seconds."""
        now = self.clock()
        self.total += 1
        admitted = self.window.admit()
        if self.started is None:
            self.started = self.last_line = now
            self.log.warning("sink {}: delivery of {} events failed: {}; attempt {}, retrying in {}; "
                             "further failures are summarised every {:g} s until it delivers again",
                             self.sink, events, plain_error(reason), attempt, _seconds(delay), self.interval_s)
            return
        if admitted.log:  # a new interval: this failure and the ones the last interval held back
            self.log.warning("sink {}: {} more retries failed in the last {:.0f} s, last error: {}; retrying in {}",
                             self.sink, admitted.suppressed + 1, now - self.last_line, plain_error(reason), _seconds(delay))
            self.last_line = now

    def succeeded(self) -> None:
        """A delivery succeeded: end the streak (and say so, if there was one)."""
        if self.started is None:
            return
        self.window.reset()
        self.log.info("sink {} delivers again after {} failed attempts in {:.0f} s", self.sink, self.total,
                      self.clock() - self.started)
        self.started = None
        self.total = 0


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.0f} s"
