"""The fixed-memory de-duplication window behaves exactly like the plain ordered dict it replaced.

A hypothesis state machine drives both with the same ids, times and capacities;
the reference is the previous implementation (an OrderedDict of id → time, oldest
evicted first). Small capacities make the ring wrap and the hash table's probe runs
collide, so eviction and backward-shift deletion are exercised.
"""

from __future__ import annotations

import collections

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.engine.dedup import DedupWindow


class Reference:
    def __init__(self, window_s: float, max_ids: int, clock) -> None:  # type: ignore[no-untyped-def]
        self.window_s, self.max_ids, self.clock = window_s, max_ids, clock
        self.seen_at: collections.OrderedDict[str, float] = collections.OrderedDict()

    def seen(self, event_id: str) -> bool:
        t = self.seen_at.get(event_id)
        return t is not None and self.clock() - t < self.window_s

    def remember(self, ids: list[str]) -> None:
        now = self.clock()
        for i in ids:
            self.seen_at[i] = now
            self.seen_at.move_to_end(i)
        while self.seen_at and (len(self.seen_at) > self.max_ids or next(iter(self.seen_at.values())) < now - self.window_s):
            self.seen_at.popitem(last=False)


ops = st.lists(st.one_of(
    st.tuples(st.just("remember"), st.lists(st.integers(0, 40).map(lambda n: f"id-{n}"), max_size=6, unique=True)),
    st.tuples(st.just("seen"), st.integers(0, 40).map(lambda n: f"id-{n}")),
    st.tuples(st.just("tick"), st.floats(0, 4)),
), max_size=120)


@settings(max_examples=300, deadline=None)
@given(window=st.floats(0.5, 10), max_ids=st.integers(1, 12), steps=ops)
def test_same_answers_as_the_ordered_dict_it_replaced(window: float, max_ids: int, steps: list) -> None:  # type: ignore[type-arg]
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731
    fast, ref = DedupWindow(window, max_ids, clock), Reference(window, max_ids, clock)
    for op, arg in steps:
        if op == "tick":
            now[0] += arg
        elif op == "remember":
            fresh = [i for i in arg if not ref.seen(i)]  # the intake's contract: only ids not seen
            fast.remember(fresh)
            ref.remember(fresh)
        else:
            assert fast.seen(arg) == ref.seen(arg), (arg, now[0])
    for n in range(41):
        assert fast.seen(f"id-{n}") == ref.seen(f"id-{n}")


def test_disabled_window_remembers_nothing() -> None:
    for window, max_ids in ((0, 10), (10, 0)):
        w = DedupWindow(window, max_ids)
        w.remember(["a"])
        assert not w.seen("a")
        assert len(w) == 0
