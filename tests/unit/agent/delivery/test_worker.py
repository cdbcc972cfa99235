"""The delivery worker, driven synchronously with a fake clock: exact delays, dead
letters, poison-event isolation, circuit breaker, re-enable, persisted attempts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from agent.sdk.outcome import Delivery
from agent.sdk.sink import Sink, SinkContext
from agent.spool.store import Spool
from agent.testing import FakeClock, make_event
from agent.delivery.worker import SinkWorker

OK = Delivery.success(code=200)


def E503() -> Delivery:
    return Delivery.retry("HTTP 503: busy", code=503)


class ScriptedSink(Sink):
    """Answers from a script (Delivery, exception, or callable(batch)); then ``default``."""

    type_name = "scripted"

    def __init__(self, name: str, script: list[Any] = (), default: Any = OK) -> None:
        super().__init__(name, {}, SinkContext(name=name, logger=logger, state_dir=Path("/nonexistent")))
        self.script = list(script)
        self.default = default
        self.calls: list[list[str]] = []
        self.delivered: list[str] = []

    def send(self, batch):
        ids = [e.event.id for e in batch]
        self.calls.append(ids)
        step = self.script.pop(0) if self.script else self.default
        if callable(step) and not isinstance(step, Delivery):
            step = step(ids)
        if isinstance(step, BaseException):
            raise step
        if step.ok:
            self.delivered.extend(ids)
        return step


@pytest.fixture
def spool(tmp_path):
    made: list[Spool] = []

    def make(sinks=("a",)) -> Spool:
        sp = Spool(tmp_path / "state")
        sp.open(list(sinks))
        made.append(sp)
        return sp

    yield make
    for sp in made:
        sp.close()


def fill(sp: Spool, n: int, sinks=("a",), prefix: str = "e", **fields) -> list[str]:
    mask = 0
    for s in sinks:
        mask |= 1 << sp.bit_of(s)
    ids = [f"{prefix}{i}" for i in range(n)]
    sp.append([(mask, make_event(id=i, **fields).to_json()) for i in ids])
    return ids


def worker(sp: Spool, sink: Sink, clock: FakeClock, **config) -> SinkWorker:
    config.setdefault("retry", {})
    config["retry"].setdefault("jitter", "none")
    return SinkWorker(sink, sp, config, logger, clock=clock, wall=clock, sleep=clock.sleep)


def test_retries_with_exact_delays_then_delivers_once(spool, fake_clock):
    sp = spool()
    ids = fill(sp, 3)
    sink = ScriptedSink("a", [E503(), E503(), Delivery.retry("HTTP 429", retry_after=7, code=429), OK])
    worker(sp, sink, fake_clock, retry={"initial_backoff_s": 1, "multiplier": 2}).run_until_idle()
    assert fake_clock.sleeps == [1, 2, 7]  # Retry-After replaced the computed 4 s
    assert sink.delivered == ids and len(sink.calls) == 4
    sp.flush()
    history = sp.deliveries("a")
    assert [(h["attempt"], h["code"], h["success"]) for h in reversed(history)] == [(1, 503, 0), (2, 503, 0), (3, 429, 0), (4, 200, 1)]
    assert history[0]["event_ids"] == ",".join(ids) and history[-1]["error"] == "HTTP 503: busy"
    assert sp.queue_depth("a") == 0 and sp.dead_letters() == []


def test_zeropath_policy_exhausts_into_a_dead_letter(spool, fake_clock):
    sp = spool()
    fill(sp, 1)
    sink = ScriptedSink("a", default=E503())
    w = worker(sp, sink, fake_clock, retry={"max_attempts": 6, "initial_backoff_s": 30, "multiplier": 2, "max_backoff_s": 960},
               circuit_breaker={"failure_threshold": 1000})  # as docs/delivery.md's ZeroPath example
    start = fake_clock()
    w.run_until_idle()
    assert fake_clock.sleeps == [30, 60, 120, 240, 480, 960] and len(sink.calls) == 7
    [dead] = sp.dead_letters("a")
    assert dead.reason == "retries exhausted after 7 attempts" and dead.attempts == 7
    assert (dead.first_attempt, dead.last_attempt) == (start, start + 1890) and dead.last_error == "HTTP 503: busy"
    assert dead.event_id == "e0" and sp.queue_depth("a") == 0


def test_zeropath_schedule_under_the_default_circuit_keeps_the_batch_queued(spool, fake_clock):
    """Why the documented ZeroPath example raises failure_threshold: with the default (5)
    the circuit opens before the budget runs out, and an open circuit never dead-letters."""
    sp = spool()
    fill(sp, 1)
    sink = ScriptedSink("a", default=E503())
    w = worker(sp, sink, fake_clock, retry={"max_attempts": 6, "initial_backoff_s": 30, "multiplier": 2, "max_backoff_s": 960})

    def sleep(seconds: float) -> None:
        fake_clock.sleep(seconds)
        if len(fake_clock.sleeps) == 10:
            w.stop(deadline=fake_clock())

    w._sleep = sleep
    w.run_until_idle()
    assert fake_clock.sleeps == [30, 60, 120, 240, 480, 960, 960, 960, 960, 960] and len(sink.calls) == 10
    assert sp.dead_letters("a") == [] and sp.queue_depth("a") == 1 and w.circuit.is_open


def test_permanent_refusal_goes_straight_to_dead_letters(spool, fake_clock):
    sp = spool()
    fill(sp, 1)
    sink = ScriptedSink("a", [Delivery.reject("HTTP 400: bad request", code=400)])
    worker(sp, sink, fake_clock).run_until_idle()
    assert fake_clock.sleeps == [] and len(sink.calls) == 1
    [dead] = sp.dead_letters("a")
    assert dead.reason == "rejected: HTTP 400: bad request" and dead.attempts == 1


def test_one_poison_event_is_isolated_and_order_kept(spool, fake_clock):
    sp = spool()
    ids = fill(sp, 9)

    def refuse_poison(batch: list[str]) -> Delivery:
        return Delivery.reject("HTTP 400: invalid event", code=400) if "e5" in batch else OK

    sink = ScriptedSink("a", default=refuse_poison)
    worker(sp, sink, fake_clock).run_until_idle()
    assert sink.delivered == [i for i in ids if i != "e5"]  # order kept around the hole
    assert [d.event_id for d in sp.dead_letters("a")] == ["e5"]
    assert fake_clock.sleeps == []


def test_peer_named_index_splits_exactly(spool, fake_clock):
    sp = spool()
    fill(sp, 6)
    sink = ScriptedSink("a", [Delivery.reject("invalid event 3", code=400, rejected_index=3), OK, Delivery.reject("bad", code=400), OK])
    worker(sp, sink, fake_clock).run_until_idle()
    assert sink.calls == [["e0", "e1", "e2", "e3", "e4", "e5"], ["e0", "e1", "e2"], ["e3"], ["e4", "e5"]]
    assert [d.event_id for d in sp.dead_letters("a")] == ["e3"]


def test_retry_on_decides_per_sink(spool, fake_clock):
    sp = spool()
    fill(sp, 1)
    sink = ScriptedSink("a", [Delivery.retry("HTTP 429", retry_after=5, code=429)])
    worker(sp, sink, fake_clock, retry={"retry_on": ["5xx", "connection"]}).run_until_idle()
    assert [d.reason for d in sp.dead_letters("a")] == ["rejected: HTTP 429"] and fake_clock.sleeps == []
    sp.flush()
    assert sp.deliveries("a")[0]["status"] == "reject"


def test_open_circuit_keeps_events_queued_instead_of_dead_lettering(spool, fake_clock):
    sp = spool()
    fill(sp, 3)
    sink = ScriptedSink("a", [E503()] * 6)
    w = worker(sp, sink, fake_clock, batch={"max_events": 1}, retry={"max_attempts": 1, "initial_backoff_s": 1},
               circuit_breaker={"failure_threshold": 3, "cooldown_s": 60})
    w.run_until_idle()
    # e0 exhausts its budget while the circuit is closed; e1 trips the circuit and then
    # waits out cool-downs (half-open probes) however many attempts that takes.
    assert [d.event_id for d in sp.dead_letters("a")] == ["e0"]
    assert fake_clock.sleeps == [1, 1, 59, 2, 58, 4, 56, 8, 52]
    assert sink.delivered == ["e1", "e2"] and w.status()["healthy"] and w.circuit.failures == 0


def test_reenable_closes_the_circuit_and_retries_now(spool, fake_clock):
    sp = spool()
    fill(sp, 1)
    sink = ScriptedSink("a", [E503(), E503()])
    w = worker(sp, sink, fake_clock, retry={"initial_backoff_s": 1}, circuit_breaker={"failure_threshold": 2, "cooldown_s": 3600})
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if seconds > 1000:  # the operator re-enables during the hour-long cool-down
            w.reenable()
        else:
            fake_clock.advance(seconds)

    w._sleep = sleep
    w.run_until_idle()
    assert waits == [1, 2, 3598] and len(sink.calls) == 3 and sink.delivered == ["e0"]
    assert w.circuit.failures == 0 and sp.sink_state("a").failures == 0


def test_reenable_is_persisted_even_if_the_agent_stops_before_the_next_attempt(spool, fake_clock):
    sp = spool()
    fill(sp, 1)
    sink = ScriptedSink("a", default=E503())
    w = worker(sp, sink, fake_clock, retry={"initial_backoff_s": 1}, circuit_breaker={"failure_threshold": 2, "cooldown_s": 3600})

    def sleep(seconds: float) -> None:
        if seconds > 1000:  # the admin API re-enables during the cool-down, then the agent is stopped
            w.reenable()
            w.stop(deadline=fake_clock())
        else:
            fake_clock.advance(seconds)

    w._sleep = sleep
    w.run_until_idle()
    assert len(sink.calls) == 2 and sp.queue_depth("a") == 1
    sp.flush()
    assert sp.sink_state("a").failures == 0 and sp.sink_state("a").attempts == 2  # the batch keeps its attempts
    again = worker(sp, ScriptedSink("a", default=E503()), fake_clock, circuit_breaker={"failure_threshold": 2})
    assert again.circuit.failures == 0 and not again.circuit.is_open


def test_attempts_survive_a_restart(spool, fake_clock):
    sp = spool()
    fill(sp, 1)
    first = ScriptedSink("a", default=E503())
    w1 = worker(sp, first, fake_clock, retry={"max_attempts": 2}, circuit_breaker={"failure_threshold": 100})

    def crash_on_second_wait(seconds: float) -> None:
        fake_clock.sleep(seconds)
        if len(fake_clock.sleeps) == 2:
            w1.stop(deadline=fake_clock())  # the agent stops mid-backoff
    w1._sleep = crash_on_second_wait
    w1.run_until_idle()
    assert len(first.calls) == 2 and sp.queue_depth("a") == 1
    sp.flush()
    second = ScriptedSink("a", default=E503())
    worker(sp, second, fake_clock, retry={"max_attempts": 2}, circuit_breaker={"failure_threshold": 100}).run_until_idle()
    assert len(second.calls) == 1  # a fresh budget would have allowed three more
    [dead] = sp.dead_letters("a")
    assert dead.attempts == 3 and dead.first_attempt == 1000.0


def test_fan_out_is_never_resent_to_the_sink_that_succeeded(spool, fake_clock):
    sp = spool(("a", "b"))
    ids = fill(sp, 4, sinks=("a", "b"))
    good = ScriptedSink("b")
    bad = ScriptedSink("a", [E503(), E503(), E503()])
    worker(sp, good, fake_clock).run_until_idle()
    worker(sp, bad, fake_clock).run_until_idle()
    again = ScriptedSink("b")
    worker(sp, again, fake_clock).run_until_idle()  # b after a "restart"
    assert good.delivered == ids and bad.delivered == ids and again.calls == []


def test_a_plugin_that_raises_is_retried_not_fatal(spool, fake_clock):
    sp = spool()
    fill(sp, 2)
    sink = ScriptedSink("a", [RuntimeError("socket exploded"), OK])
    w = worker(sp, sink, fake_clock)
    w.run_until_idle()
    assert sink.delivered == ["e0", "e1"] and w.stats.last_error.startswith("plugin error: RuntimeError")


def test_rate_limit_in_events_sizes_and_spaces_batches(spool, fake_clock):
    sp = spool()
    fill(sp, 12)
    sink = ScriptedSink("a")
    worker(sp, sink, fake_clock, rate_limit={"per_second": 10, "burst": 5, "unit": "events"}).run_until_idle()
    assert [len(c) for c in sink.calls] == [5, 5, 2]
    assert fake_clock.sleeps == pytest.approx([0.5, 0.2])


def test_rate_limit_in_requests(spool, fake_clock):
    sp = spool()
    fill(sp, 6)
    sink = ScriptedSink("a")
    worker(sp, sink, fake_clock, batch={"max_events": 2}, rate_limit={"per_second": 1, "burst": 1}).run_until_idle()
    assert [len(c) for c in sink.calls] == [2, 2, 2] and fake_clock.sleeps == pytest.approx([1.0, 1.0])


def test_flood_control_sends_a_summary_and_keeps_the_cut_as_dead_letters(spool, fake_clock):
    sp = spool()
    sp.append([(1, make_event(id=f"f{i}", scan={"id": "s1"}, finding={"category": "xss" if i % 2 else "sqli"}).to_json())
               for i in range(7)])
    sink = ScriptedSink("a")
    w = worker(sp, sink, fake_clock, flood={"per_scan": 4, "per_finding_type": 3})
    w.run_until_idle()
    delivered = sink.delivered
    assert delivered[:4] == ["f0", "f1", "f2", "f3"] and len(delivered) == 5
    dead = sp.dead_letters("a")
    assert sorted(d.event_id for d in dead) == ["f4", "f5", "f6"]
    assert all(d.reason.startswith("flood control: more than 4 finding messages in scan s1") for d in dead)
    assert w.stats.suppressed == 3 and sp.queue_depth("a") == 0


def test_stop_leaves_the_in_flight_batch_queued(spool):
    sp = spool()
    fill(sp, 3)
    sink = ScriptedSink("a", default=E503())
    w = SinkWorker(sink, sp, {"retry": {"initial_backoff_s": 30, "jitter": "none"}}, logger)
    w.start()
    deadline = time.monotonic() + 10
    while not sink.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    w.stop(time.monotonic() + 0.1)  # cuts the 30 s backoff short
    assert w.join(5)
    assert sp.queue_depth("a") == 3 and sp.cursor("a") == 0 and sp.dead_letters() == []


def test_threaded_worker_delivers_what_arrives_later(spool):
    sp = spool()
    sink = ScriptedSink("a")
    w = SinkWorker(sink, sp, {"batch": {"max_wait_s": 0.01}}, logger)
    w.start()
    try:
        ids = fill(sp, 50)
        deadline = time.monotonic() + 10
        while len(sink.delivered) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        w.stop(time.monotonic() + 2)
        w.join(5)
    assert sink.delivered == ids


def test_a_batch_cut_by_max_bytes_goes_at_once_while_a_backlog_waits(spool):
    """A read that ``batch.max_bytes`` cut short leaves events in the spool: the batch is
    full and goes at once, not after ``max_wait_s`` of waiting for a commit that (with no
    intake running, a backlog draining) never comes. Measured before the fix: a backlog
    drained at one batch per group commit, or per ``max_wait_s`` once intake stopped."""
    sp = spool()
    ids = fill(sp, 41)  # ten batches cut by bytes, then one event that waits for company
    size = len(make_event(id="e10").to_json())
    sink = ScriptedSink("a")
    w = SinkWorker(sink, sp, {"batch": {"max_wait_s": 60, "max_events": 500, "max_bytes": 4 * size + 1}}, logger)
    waited_with: list[int] = []
    real_wait = sp.wait_for_events

    def wait_for_events(timeout: float) -> None:
        waited_with.append(len(sink.delivered))
        real_wait(timeout)

    sp.wait_for_events = wait_for_events  # type: ignore[method-assign]
    w.start()
    try:
        deadline = time.monotonic() + 20  # the old behaviour needed 60 s per batch here
        while len(sink.delivered) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        w.stop(time.monotonic() + 2)
        w.join(5)
    assert sink.delivered[:40] == ids[:40]
    assert [len(c) for c in sink.calls[:10]] == [4] * 10  # cut by bytes, each one full
    assert all(n == 40 for n in waited_with), f"waited for a commit with events still spooled: {waited_with}"
