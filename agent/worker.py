"""The delivery worker: one thread per sink, from its spool queue to its destination.

Loop: read a batch (by count, bytes and age) → ``sink.send`` → classify:

- OK: acknowledge (the spool advances the sink's cursor).
- RETRY: wait (backoff, or the peer's ``Retry-After``) and try the same batch again,
  until the policy is exhausted; then dead-letter it with the last error.
- REJECT: a batch of several events is split in halves and each half is sent on its
  own, so one poison event is isolated and the rest delivered; a single rejected
  event is dead-lettered with the reason.

Order is kept: the worker never moves past a batch until it is acknowledged or
dead-lettered. The circuit breaker and the rate limit gate every attempt. A plugin
that raises is treated as a retryable failure and logged (the sink is "failing"),
never as a reason to drop events or stop the agent.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from agent.delivery import Delivery, Status
from agent.retry import CircuitBreaker, RetryPolicy, TokenBucket
from agent.sinks import Sink, SpooledEvent
from agent.spool import Spool, SpoolClosed, SpoolError

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["SinkWorker", "WorkerStats"]


@dataclass(slots=True)
class WorkerStats:
    """Counters the admin API and metrics read (written by the worker thread only)."""

    events_sent: int = 0
    batches_sent: int = 0
    retries: int = 0
    dead_lettered: int = 0
    failures: int = 0
    last_error: str = ""
    last_success: float = 0.0
    latency_ms: list[float] = field(default_factory=list)


class SinkWorker:
    """Delivers one sink's queue. ``start()`` runs the thread; ``stop(deadline)`` ends it."""

    def __init__(self, sink: Sink, spool: Spool, config: dict[str, Any], logger: "Logger", *,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.sink = sink
        self.name = sink.name
        self.spool = spool
        self.log = logger
        self.clock = clock
        self.wall = wall
        self.rng = rng or random.Random()
        batch = config.get("batch", {})
        self.max_events = int(batch.get("max_events", 500))
        self.max_bytes = int(batch.get("max_bytes", 1 << 20))
        self.max_wait_s = float(batch.get("max_wait_s", 0.2))
        self.policy = RetryPolicy.from_config(config.get("retry", {}))
        cb = config.get("circuit_breaker", {})
        self.circuit = CircuitBreaker(int(cb.get("failure_threshold", 5)), float(cb.get("cooldown_s", 30.0)), clock)
        rl = config.get("rate_limit", {})
        self.bucket = TokenBucket(float(rl.get("per_second", 0)), int(rl.get("burst", 1)), clock)
        self.stats = WorkerStats()
        self._wake = threading.Event()  # set to interrupt a wait (stop, re-enable)
        self._stop = threading.Event()
        self._deadline: float | None = None  # monotonic time by which a draining worker must end
        self._thread: threading.Thread | None = None
        self._cursor = spool._cursors.get(self.name, 0)

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.name}")
        self._thread.start()

    def stop(self, deadline: float) -> None:
        """Ask the worker to drain what is queued until ``deadline`` (monotonic), then end."""
        self._deadline = deadline
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def reenable(self) -> None:
        """Close the circuit and reset its failure counter; wake the worker."""
        self.circuit.reset()
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ----------------------------------------------------------------- loop
    def _past_deadline(self) -> bool:
        return self._stop.is_set() and (self._deadline is None or self.clock() >= self._deadline)

    def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; return False if the worker must end now."""
        if self._stop.is_set() and self._deadline is not None:
            seconds = min(seconds, max(0.0, self._deadline - self.clock()))
        if seconds > 0:
            self._wake.wait(seconds)
        self._wake.clear()
        return not self._past_deadline()

    def _run(self) -> None:
        reader = self.spool.reader()
        position = self._cursor
        idle_position_acked = position
        try:
            while not self._past_deadline():
                try:
                    batch, end = self._collect(reader, position)
                except SpoolError as exc:
                    self.log.error("cannot read the spool: {}", exc)
                    if not self._wait(1.0):
                        break
                    continue
                if not batch:
                    if self._stop.is_set():
                        break  # drained
                    if end > idle_position_acked + 10000:
                        self.spool.ack(self.name, end)  # let GC pass events that were not for us
                        idle_position_acked = end
                    position = end
                    continue
                if not self._deliver(batch, end):
                    break  # deadline reached with the batch still unacknowledged: it stays spooled
                position = end
                idle_position_acked = end
        except SpoolClosed:
            pass
        except Exception:  # a bug in the worker itself: log loudly, the batch stays spooled
            self.log.exception("delivery worker crashed; undelivered events stay in the spool")
        finally:
            reader.close()

    def _collect(self, reader: Any, position: int) -> tuple[list[SpooledEvent], int]:
        """Read up to a full batch, waiting at most ``max_wait_s`` for a partial one to fill."""
        batch, end = reader.read(self.name, position, self.max_events, self.max_bytes)
        if not batch:
            if not self._stop.is_set():
                self.spool.wait_for_events(0.5)
            return batch, end
        started = self.clock()
        size = sum(len(e.data) for e in batch)
        while len(batch) < self.max_events and size < self.max_bytes and not self._stop.is_set():
            remaining = self.max_wait_s - (self.clock() - started)
            if remaining <= 0:
                break
            self.spool.wait_for_events(remaining)
            more, end = reader.read(self.name, end, self.max_events - len(batch), self.max_bytes - size)
            batch.extend(more)
            size += sum(len(e.data) for e in more)
        return batch, end

    def _deliver(self, batch: list[SpooledEvent], end: int) -> bool:
        """Deliver ``batch`` (covering positions up to ``end``); False if stopped first."""
        work: list[tuple[list[SpooledEvent], int]] = [(batch, end)]
        while work:
            part, part_end = work.pop(0)
            result = self._attempt_until_done(part, part_end)
            if result is None:
                return False
            if isinstance(result, list):  # split after a REJECT
                work[:0] = result
        return True

    def _attempt_until_done(self, batch: list[SpooledEvent], end: int) -> Any:
        attempts = 0
        first_attempt: float | None = None
        while True:
            gate = max(self.circuit.wait_time(), self.bucket.wait_time())
            if gate > 0:
                if not self._wait(gate):
                    return None
                continue
            if self._past_deadline():
                return None
            self.bucket.take()
            attempts += 1
            now = self.wall()
            first_attempt = first_attempt or now
            started = self.clock()
            outcome = self._send(batch)
            latency_ms = (self.clock() - started) * 1000.0
            self._record(batch, outcome, attempts, now, latency_ms)
            if outcome.status is Status.OK:
                self.circuit.record_success()
                self.spool.ack(self.name, end)
                self.stats.events_sent += len(batch)
                self.stats.batches_sent += 1
                self.stats.last_success = now
                return True
            self.stats.failures += 1
            self.stats.last_error = outcome.reason
            if outcome.status is Status.REJECT:
                if outcome.open_circuit:
                    self.circuit.record_failure(force_open=True)
                    self.log.error("sink {} refused our credentials or configuration ({}); circuit opened, events stay queued",
                                   self.name, outcome.reason)
                    if not self._wait(0):
                        return None
                    continue
                if len(batch) > 1:
                    return self._split(batch, end, outcome)
                self._dead_letter(batch, end, f"rejected: {outcome.reason}", attempts, first_attempt, now, outcome.reason)
                return True
            # RETRY
            if self.circuit.record_failure():
                self.log.warning("sink {}: {} consecutive failures, circuit open for {:.0f}s (last: {})",
                                 self.name, self.circuit.failures, self.circuit.cooldown_s, outcome.reason)
            if self.policy.exhausted(attempts):
                self._dead_letter(batch, end, f"retries exhausted after {attempts} attempts", attempts, first_attempt, now, outcome.reason)
                return True
            delay = self.policy.delay(attempts, self.rng, outcome.retry_after)
            self.stats.retries += 1
            self.log.warning("sink {}: delivery of {} events failed ({}); attempt {} , retrying in {:.2f}s",
                             self.name, len(batch), outcome.reason, attempts, delay)
            if not self._wait(delay):
                return None

    def _split(self, batch: list[SpooledEvent], end: int, outcome: Delivery) -> list[tuple[list[SpooledEvent], int]]:
        idx = outcome.rejected_index
        if idx is not None and 0 <= idx < len(batch):
            parts = [batch[:idx], batch[idx:idx + 1], batch[idx + 1:]]
        else:
            mid = len(batch) // 2
            parts = [batch[:mid], batch[mid:]]
        parts = [p for p in parts if p]
        out = []
        for i, p in enumerate(parts):
            out.append((p, end if i == len(parts) - 1 else p[-1].seq))
        self.log.info("sink {} rejected a batch of {} ({}); splitting it to isolate the bad event", self.name, len(batch), outcome.reason)
        return out

    def _send(self, batch: list[SpooledEvent]) -> Delivery:
        try:
            outcome = self.sink.send(batch)
            if not isinstance(outcome, Delivery):
                raise TypeError(f"send() returned {type(outcome).__name__}, not Delivery")
            return outcome
        except Exception as exc:
            self.log.opt(exception=exc).error("sink {} ({}) raised instead of returning an outcome; treating it as retryable",
                                              self.name, self.sink.type_name)
            return Delivery.retry(f"plugin error: {type(exc).__name__}: {self.sink.ctx.redact(str(exc))}")

    def _record(self, batch: list[SpooledEvent], outcome: Delivery, attempt: int, when: float, latency_ms: float) -> None:
        lat = self.stats.latency_ms
        lat.append(latency_ms)
        if len(lat) > 1000:
            del lat[:500]
        ids = []
        for e in batch[:50]:
            data = e.data
            i = data.find(b'"id":"')
            if i >= 0:
                j = data.find(b'"', i + 6)
                ids.append(data[i + 6:j].decode("utf-8", "replace"))
        try:
            self.spool.record_delivery(self.name, when, ids + (["…"] * max(0, len(batch) - 50)), outcome.status.value,
                                       outcome.code, outcome.ok, attempt, latency_ms, None if outcome.ok else outcome.reason)
        except SpoolClosed:
            pass

    def _dead_letter(self, batch: list[SpooledEvent], end: int, reason: str, attempts: int,
                     first: float | None, last: float | None, last_error: str) -> None:
        self.spool.dead_letter(self.name, batch, end, reason, attempts, first, last, last_error)
        self.stats.dead_lettered += len(batch)
        self.log.error("sink {}: {} events moved to dead letters ({}); see `siemrelay dlq list --sink {}`",
                       self.name, len(batch), reason, self.name)
