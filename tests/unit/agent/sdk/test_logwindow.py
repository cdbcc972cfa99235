"""The shared log rate limit: a few lines per window, the rest counted and reported, none lost."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.sdk import LogWindow
from agent.testing import FakeClock


def test_a_burst_logs_the_limit_then_reports_the_rest_when_the_next_window_opens() -> None:
    clock = FakeClock(0.0)
    window = LogWindow(3, 1.0, clock)
    seen = [window.admit() for _ in range(10)]
    assert [a.log for a in seen] == [True] * 3 + [False] * 7
    assert all(a.suppressed == 0 for a in seen)
    clock.advance(1.5)
    nxt = window.admit()
    assert nxt.log and nxt.suppressed == 7 and nxt.closed_after_s == 1.5
    assert window.reset() == 0


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 5), st.lists(st.floats(0, 3), min_size=1, max_size=200))
def test_every_occurrence_is_logged_or_counted_exactly_once(limit: int, gaps: list[float]) -> None:
    clock = FakeClock(0.0)
    window = LogWindow(limit, 1.0, clock)
    logged = reported = 0
    for gap in gaps:
        clock.advance(gap)
        a = window.admit()
        logged += a.log
        reported += a.suppressed
    assert logged + reported + window.reset() == len(gaps)
