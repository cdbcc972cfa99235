"""Rate-limited log lines: a few per window, then one line that counts the rest.

A peer hammering a listener with bad requests, or a sink whose destination is down,
would otherwise write one line per occurrence and bury everything else in the
journal. :class:`LogWindow` lets ``limit`` lines through per window of ``window_s``
seconds (the window opens with its first line) and counts the others; the caller
reports that count when the next window opens, so nothing is silently dropped and
the log grows at a bounded rate. Used by the HTTP source's refusals and the delivery
workers' retry warnings. The clock is injected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["LogWindow", "Admission"]


@dataclass(frozen=True, slots=True)
class Admission:
    """Whether to log this occurrence, and what to report about the window that just closed.

    :ivar log: write this occurrence's line.
    :ivar suppressed: occurrences the closed window did not log (0: nothing to report).
    :ivar closed_after_s: how long that window lasted, for "in the last N s".
    """

    log: bool
    suppressed: int = 0
    closed_after_s: float = 0.0


class LogWindow:
    """At most ``limit`` lines per ``window_s`` seconds; the others are counted."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be at least 1 and window_s positive")
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._start: float | None = None
        self._logged = 0
        self._suppressed = 0

    def admit(self) -> Admission:
        """Count one occurrence; say whether to log it and what the previous window suppressed."""
        now = self.clock()
        report = Admission(False)
        if self._start is None or now - self._start >= self.window_s:
            if self._start is not None and self._suppressed:
                report = Admission(False, self._suppressed, now - self._start)
            self._start, self._logged, self._suppressed = now, 0, 0
        if self._logged < self.limit:
            self._logged += 1
            return Admission(True, report.suppressed, report.closed_after_s)
        self._suppressed += 1
        return report

    def reset(self) -> int:
        """Close the window now (the condition ended); return what it had suppressed and not reported."""
        suppressed, self._start, self._logged, self._suppressed = self._suppressed, None, 0, 0
        return suppressed
