"""The per-minute history behind the status page's charts and 5-minute/1-hour totals (clock injected)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.admin.history import MinuteHistory
from agent.testing import FakeClock

MINUTE = 60.0


def test_a_minute_rate_is_its_growth_over_sixty_seconds() -> None:
    clock = FakeClock(600 * MINUTE)  # on a minute boundary
    h = MinuteHistory(minutes=60, clock=clock)
    h.record({"sink:a:events": 0})
    clock.advance(30)
    h.record({"sink:a:events": 100})  # same minute: replaces the slot's value
    clock.advance(30)  # the next minute
    h.record({"sink:a:events": 700})
    rates = h.per_second("sink:a:events")
    assert len(rates) == 60
    assert rates[-1] == (700 - 100) / 60 and rates[:-1] == [None] * 59  # the first minute has nothing before it


def test_gaps_stay_gaps_and_a_counter_reset_counts_from_zero() -> None:
    clock = FakeClock(600 * MINUTE)
    h = MinuteHistory(minutes=10, clock=clock)
    h.record({"c": 100, "q": 5})
    clock.advance(3 * MINUTE)  # nothing sampled for two minutes
    h.record({"c": 460, "q": 9})
    assert h.per_second("c")[-1] == 360 / (3 * MINUTE)
    assert h.gauge("q")[-4:] == [5.0, None, None, 9.0]
    clock.advance(MINUTE)
    h.record({"c": 30})  # the sink was rebuilt: its counter starts again
    assert h.per_second("c")[-1] == 30 / MINUTE


def test_memory_is_bounded_and_departed_series_age_out() -> None:
    clock = FakeClock(0.0)
    h = MinuteHistory(minutes=60, clock=clock)
    for minute in range(500):
        h.record({"sink:kept:events": minute, **({"sink:gone:events": minute} if minute < 100 else {})})
        clock.advance(MINUTE)
    assert h.series_count() == 1  # "gone" left the configuration 400 minutes ago
    assert len(h._points("sink:kept:events")) == 61


def test_growth_over_a_window_uses_the_sample_before_it() -> None:
    clock = FakeClock(0.0)
    h = MinuteHistory(clock=clock)
    for minute in range(20):  # 10 events a minute for 20 minutes
        h.record({"c": minute * 10})
        clock.advance(MINUTE)
    # from the sample 5 minutes ago (minute 15: 150) to the live value
    assert h.growth("c", 300, current=200) == 50
    assert h.growth("c", 3600, current=200) == 200  # younger than an hour: everything since it started
    assert h.growth("missing", 300, current=7) == 7
    assert h.growth("missing", 300) == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(1, 400), st.integers(0, 1000)), min_size=1, max_size=60))
def test_a_young_series_grows_by_exactly_its_counter(steps: list[tuple[float, int]]) -> None:
    clock = FakeClock(0.0)
    h = MinuteHistory(minutes=60, clock=clock)
    total = 0
    for dt, n in steps:
        clock.advance(dt)
        total += n
        h.record({"c": total})
        assert len(h._points("c")) <= 61
    window = clock() + 1  # every sample is inside the window: the series is young
    assert h.growth("c", window, current=total) == total
    assert all(r is None or r >= 0 for r in h.per_second("c"))
