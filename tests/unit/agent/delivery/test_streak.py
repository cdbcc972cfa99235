"""A failing sink's retry warnings: one per failure streak, then one summary per interval (clock injected)."""

from __future__ import annotations

from typing import Any

from agent.delivery.streak import FailureStreakLog
from agent.testing import FakeClock


class Lines:
    """Stands in for the worker's loguru logger: keeps (level, formatted message)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def warning(self, fmt: str, *args: Any) -> None:
        self.lines.append(("warning", fmt.format(*args)))

    def info(self, fmt: str, *args: Any) -> None:
        self.lines.append(("info", fmt.format(*args)))


REFUSED = ("ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /*** "
           "(Caused by NewConnectionError('...: [Errno 111] Connection refused'))")


def test_a_streak_logs_once_then_a_summary_a_minute_then_its_end() -> None:
    clock, log = FakeClock(0.0), Lines()
    streak = FailureStreakLog("siem", log, interval_s=60, clock=clock)  # type: ignore[arg-type]
    for _ in range(120):  # two minutes of failures every second
        streak.failed(5, REFUSED, 1, 1.0)
        clock.advance(1)
    warnings = [m for level, m in log.lines if level == "warning"]
    assert len(warnings) == 2  # the first failure, one summary (the second minute is not over yet)
    assert warnings[0].startswith("sink siem: delivery of 5 events failed: connection refused by 127.0.0.1:1; ")
    assert warnings[1] == ("sink siem: 60 more retries failed in the last 60 s, last error: connection refused by "
                           "127.0.0.1:1; retrying in 1.00 s")
    streak.succeeded()
    assert log.lines[-1] == ("info", "sink siem delivers again after 120 failed attempts in 120 s")
    streak.succeeded()  # no streak: nothing to say
    streak.failed(1, "HTTP 503", 1, 12.0)  # a new streak is logged in full again
    assert log.lines[-1][1].startswith("sink siem: delivery of 1 events failed: the peer is unavailable (HTTP 503")
    assert "retrying in 12 s" in log.lines[-1][1]
    assert len(log.lines) == 4
