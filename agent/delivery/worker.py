"""The delivery worker: one thread per sink, from its spool queue to its destination.

Loop: read a batch (by count, bytes and age) → flood control → ``sink.send`` →
classify the outcome under the sink's ``retry.retry_on``:

- OK: acknowledge (the spool advances the sink's cursor; nothing is re-sent to a sink
  that acknowledged, whatever other sinks of a fan-out do).
- RETRY: wait (backoff, or the peer's ``Retry-After``) and send the same batch again,
  until the policy is exhausted; then dead-letter it with the last error. While the
  circuit is open the sink is down, not the batch: events stay queued and the batch
  waits for a half-open probe instead of burning through dead letters.
- DEAD: a batch of several events is split (at the index the peer named, else in
  halves) so one poison event is isolated and the rest delivered; a single refused
  event is dead-lettered with the reason.

Order is kept: the worker never moves past a batch until it is acknowledged or
dead-lettered. The head batch's attempt count and the circuit's failure count are
persisted in the spool, so a restart resumes them. A plugin that raises is treated as
a retryable failure and logged, never as a reason to drop events or stop the agent.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from agent.sdk.outcome import Delivery
from agent.delivery.flood import FloodControl
from agent.delivery.offload import ChildEncoder, EncodeFailed, offload_wanted
from agent.delivery.circuit import CircuitBreaker
from agent.delivery.ratelimit import TokenBucket
from agent.delivery.retry import RetryPolicy, Verdict, classify
from agent.delivery.streak import FailureStreakLog
from agent.sdk.sink import Sink, SpooledEvent
from agent.spool.store import SinkState, Spool, SpoolClosed, SpoolError, SpoolReader
from agent.spool.db import event_id_of

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["SinkWorker", "WorkerStats"]

Work = list[tuple[list[SpooledEvent], int]]


@dataclass(slots=True)
class WorkerStats:
    """Counters the admin API and metrics read (written by the worker thread only)."""

    events_sent: int = 0
    batches_sent: int = 0
    retries: int = 0
    dead_lettered: int = 0
    suppressed: int = 0
    failures: int = 0
    last_error: str = ""
    last_success: float = 0.0
    last_latency_ms: float = 0.0
    next_attempt_in_s: float = 0.0
    #: monotonic time of the next attempt while the worker waits (0: not waiting)
    next_attempt_at: float = 0.0
    #: bytes of the events the sink acknowledged (as spooled: the normalised event JSON)
    bytes_sent: int = 0
    #: wall time the circuit opened in the current outage (0: closed)
    circuit_opened_at: float = 0.0


class SinkWorker:
    """Delivers one sink's queue. ``start()`` runs the thread; ``stop(deadline)`` ends it."""

    def __init__(self, sink: Sink, spool: Spool, config: dict[str, Any], logger: "Logger", *,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 rng: random.Random | None = None, sleep: Callable[[float], None] | None = None,
                 offload_options: dict[str, float] | None = None) -> None:
        """:param sleep: replaces the interruptible wait (tests pass a fake clock's ``sleep``).
        :param offload_options: :class:`ChildEncoder` timeouts (tests shorten them)."""
        self.sink = sink
        self.name = sink.name
        self.spool = spool
        self.log = logger
        self.clock = clock
        self.wall = wall
        self.rng = rng or random.Random()
        self._sleep = sleep
        batch = config.get("batch", {})
        self.policy = RetryPolicy.from_config(config.get("retry", {}))
        rl = config.get("rate_limit", {})
        self.bucket = TokenBucket(float(rl.get("per_second", 0)), int(rl.get("burst", 1)), clock)
        self.rate_events = rl.get("unit", "requests") == "events" and self.bucket.limited
        self.max_events = int(batch.get("max_events", 500))
        if self.rate_events:
            self.max_events = min(self.max_events, int(self.bucket.capacity))
        self.max_bytes = int(batch.get("max_bytes", 1 << 20))
        self.max_wait_s = float(batch.get("max_wait_s", 0.2))
        self.flood = FloodControl(config.get("flood", {}), self.name, wall=wall, monotonic=clock)
        state = spool.sink_state(self.name)
        cb = config.get("circuit_breaker", {})
        self.circuit = CircuitBreaker(int(cb.get("failure_threshold", 5)), float(cb.get("cooldown_s", 30.0)), clock,
                                      failures=state.failures)
        self._resume = state if state.retry_seq is not None else None
        self.stats = WorkerStats()
        self.streak = FailureStreakLog(self.name, logger, clock=clock)
        self._wake = threading.Event()  # set to interrupt a wait (stop, re-enable)
        self._stop = threading.Event()
        self._reenable = threading.Event()
        self._reenabled = threading.Event()  # set by the worker thread once a re-enable is applied
        self._drain_only = False
        self._suppressed: list[tuple[SpooledEvent, str]] = []
        self._ack_pending: Callable[[], None] | None = None
        self._deadline: float | None = None  # monotonic time by which a draining worker must end
        self._thread: threading.Thread | None = None
        #: the sink's encoder in a child process (``encode_in``), started and ended by the worker thread
        self.encoder: ChildEncoder | None = None
        encode_in = str(config.get("encode_in", "main"))
        if offload_wanted(sink, encode_in):
            self.encoder = ChildEncoder(sink, logger, **(offload_options or {}))
        elif encode_in == "child":
            logger.warning("sink {}: encode_in is child, but sink type {} has no pure encoder to run there; "
                           "it encodes in the main process", self.name, sink.type_name)

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"sink-{self.name}")
        self._thread.start()

    def stop(self, deadline: float | None) -> None:
        """Deliver what is queued until ``deadline`` (monotonic), then end; the batch in
        flight then stays in the spool, unacknowledged, and is sent after the restart."""
        self._deadline = deadline
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def reenable(self) -> None:
        """Close the circuit, reset its failure counter, and retry the head batch now.

        Safe from any thread (CLI control requests, the admin API): the worker thread
        applies it at its next step. The reset failure counter is persisted at once, so
        a restart before that step does not bring back the old count (an open circuit).
        """
        self._reenabled.clear()
        self._reenable.set()
        self._wake.set()
        try:
            self.spool.reset_failures(self.name)
        except SpoolClosed:
            pass
        # answer with the state the caller asked for: wait (briefly: the worker may be in
        # the middle of a send) until the worker thread has applied it
        if self.alive:
            self._reenabled.wait(2.0)

    def run_until_idle(self) -> None:
        """Deliver everything queued in the calling thread, then return (tests, tools)."""
        self._drain_only = True
        self._run()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """A snapshot for the admin API and ``siemrelay top``."""
        s = self.stats
        return {"name": self.name, "type": self.sink.type_name, "circuit": self.circuit.state,
                "healthy": not self.circuit.is_open, "consecutive_failures": self.circuit.failures,
                "events_sent": s.events_sent, "batches_sent": s.batches_sent, "retries": s.retries,
                "dead_lettered": s.dead_lettered, "suppressed": s.suppressed, "last_error": s.last_error,
                "last_success": s.last_success, "last_latency_ms": s.last_latency_ms,
                "next_attempt_in_s": s.next_attempt_in_s, "alive": self.alive}

    # ----------------------------------------------------------------- loop
    def _past_deadline(self) -> bool:
        return self._stop.is_set() and self._deadline is not None and self.clock() >= self._deadline

    def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; return False if the worker must end now."""
        if self._stop.is_set() and self._deadline is not None:
            seconds = min(seconds, max(0.0, self._deadline - self.clock()))
        self.stats.next_attempt_in_s = seconds
        self.stats.next_attempt_at = self.clock() + seconds
        if seconds > 0:
            if self._sleep is not None:
                self._sleep(seconds)
            else:
                self._wake.wait(seconds)
        self._wake.clear()
        self.stats.next_attempt_in_s = 0.0
        self.stats.next_attempt_at = 0.0
        return not self._past_deadline()

    def _apply_reenable(self) -> None:
        if self._reenable.is_set():
            self._reenable.clear()
            self.circuit.reset()
            self.stats.circuit_opened_at = 0.0
            self._reenabled.set()
            self.log.info("sink {} re-enabled: circuit closed, failure counter reset", self.name)

    def _run(self) -> None:
        reader = self.spool.reader()
        position = self.spool.cursor(self.name)
        acked = position
        if self.encoder is not None:
            self.encoder.start()  # builds its sink while the first batch is read
        try:
            while not self._past_deadline():
                self._apply_reenable()
                try:
                    batch, end = self._collect(reader, position)
                except SpoolError as exc:
                    self.log.error("cannot read the spool: {}", exc)
                    if not self._wait(1.0):
                        break
                    continue
                if not batch:
                    if self._stop.is_set() or self._drain_only:
                        if end > acked:
                            self.spool.ack(self.name, end, failures=None)
                        break  # drained
                    if end > acked + 10000:
                        self.spool.ack(self.name, end, failures=None)  # move past events that were not for us
                        acked = end
                    position = end
                    continue
                if not self._deliver(batch, end):
                    break  # stopped with the batch unacknowledged: it stays spooled
                position = acked = end
            self._settle_ack()
        except SpoolClosed:
            pass
        except Exception:  # a bug in the worker itself: log loudly, the batch stays spooled
            self.log.exception("delivery worker crashed; undelivered events stay in the spool")
        finally:
            reader.close()
            if self.encoder is not None:
                self.encoder.close()  # no child outlives its worker (stop, reload)

    def _settle_ack(self) -> None:
        """Wait for the previous acknowledgement's commit (one in flight at a time)."""
        pending, self._ack_pending = self._ack_pending, None
        if pending is not None:
            pending()

    def _collect(self, reader: SpoolReader, position: int) -> tuple[list[SpooledEvent], int]:
        """Read up to a full batch, waiting at most ``max_wait_s`` for a partial one to fill."""
        batch, end, full = reader.read_batch(self.name, position, self.max_events, self.max_bytes)
        if not batch:
            if not self._stop.is_set() and not self._drain_only:
                self.spool.wait_for_events(0.5)
            return batch, end
        started = self.clock()
        size = sum(len(e.data) for e in batch)
        # a read that a limit stopped leaves events in the spool: the batch is full, send it now
        while (not full and len(batch) < self.max_events and size < self.max_bytes and not self._stop.is_set()
               and not self._drain_only):
            remaining = self.max_wait_s - (self.clock() - started)
            if remaining <= 0:
                break
            # in slices: stop() does not wake the spool's condition, and a batch that fills by age
            # (an object sink's roll, minutes long) must be sent at shutdown, not sat out
            self.spool.wait_for_events(min(remaining, 0.25))
            more, end, full = reader.read_batch(self.name, end, self.max_events - len(batch), self.max_bytes - size)
            batch.extend(more)
            size += sum(len(e.data) for e in more)
        return batch, end

    def _deliver(self, batch: list[SpooledEvent], end: int) -> bool:
        """Deliver ``batch`` (covering positions up to ``end``); False if stopped first."""
        flood = self.flood.apply(batch)
        dead = flood.suppressed
        self.stats.suppressed += len(dead)
        if flood.summaries:
            self.log.warning("sink {}: flood control cut {} events and sent {} summary event(s) instead",
                             self.name, len(flood.suppressed), flood.summaries)
        if not flood.batch:
            self.spool.ack(self.name, end, dead=dead, failures=None)
            return True
        self._suppressed = dead
        work: Work = [(flood.batch, end)]
        while work:
            part, part_end = work.pop(0)
            result = self._attempt_until_done(part, part_end)
            if result is None:
                return False
            if isinstance(result, list):  # split after a refusal
                work[:0] = result
        return True

    def _take_suppressed(self, position: int) -> list[tuple[SpooledEvent, str]]:
        """Flood-control cuts up to ``position``: dead-lettered with the ack that covers them."""
        mine = [d for d in self._suppressed if d[0].seq <= position]
        if mine:
            self._suppressed = [d for d in self._suppressed if d[0].seq > position]
        return mine

    def _attempt_until_done(self, batch: list[SpooledEvent], end: int) -> bool | Work | None:
        attempts, first_attempt = 0, None
        if self._resume is not None and batch[0].seq == self._resume.retry_seq:
            attempts, first_attempt = self._resume.attempts, self._resume.first_attempt
            self.log.info("sink {}: resuming the retries of a batch after {} attempts", self.name, attempts)
        self._resume = None
        while True:
            self._apply_reenable()
            need = float(len(batch)) if self.rate_events else 1.0
            gate = max(self.circuit.wait_time(), self.bucket.wait_time(need))
            if gate > 0:
                if not self._wait(gate):
                    return None
                continue
            if self._past_deadline():
                return None
            self.bucket.take(need)
            attempts += 1
            now = self.wall()
            first_attempt = first_attempt or now
            started = self.clock()
            outcome = self._send(batch)
            latency_ms = (self.clock() - started) * 1000.0
            verdict = classify(outcome, self.policy.retry_on)
            self._record(batch, outcome, verdict, attempts, now, latency_ms)
            if verdict == Verdict.OK:
                self.circuit.record_success()
                self._settle_ack()
                # the commit overlaps the next batch's send; a crash before it re-sends this batch (at-least-once)
                self._ack_pending = self.spool.ack(self.name, end, dead=self._take_suppressed(end), failures=0, wait=False)
                self.stats.events_sent += len(batch)
                self.stats.batches_sent += 1
                self.stats.bytes_sent += sum(len(e.data) for e in batch)
                self.stats.last_success = now
                self.stats.circuit_opened_at = 0.0
                self.streak.succeeded()
                return True
            self.stats.failures += 1
            self.stats.last_error = outcome.reason
            if outcome.open_circuit:
                self.circuit.record_failure(force_open=True)
                self.stats.circuit_opened_at = self.stats.circuit_opened_at or now
                self.log.error("sink {} refused our credentials or configuration ({}); circuit opened, events stay queued",
                               self.name, outcome.reason)
                self._save(batch, attempts, first_attempt, now, outcome.reason)
                continue
            if verdict == Verdict.DEAD:
                if len(batch) > 1:
                    return self._split(batch, end, outcome)
                self._dead_letter(batch, end, f"rejected: {outcome.reason}", attempts, first_attempt, now, outcome.reason)
                return True
            was_open = self.circuit.is_open
            if self.circuit.record_failure() and not was_open:
                self.stats.circuit_opened_at = self.stats.circuit_opened_at or now
                self.log.warning("sink {} is unhealthy: {} consecutive failures, circuit open for {:.0f}s (last: {}); "
                                 "events keep spooling", self.name, self.circuit.failures, self.circuit.cooldown_s, outcome.reason)
            if self.policy.exhausted(attempts) and not self.circuit.is_open:
                self._dead_letter(batch, end, f"retries exhausted after {attempts} attempts", attempts, first_attempt, now,
                                  outcome.reason)
                return True
            delay = self.policy.delay(attempts, self.rng, outcome.retry_after)
            self.stats.retries += 1
            self._save(batch, attempts, first_attempt, now, outcome.reason)
            self.streak.failed(len(batch), outcome.reason, attempts, delay)
            if not self._wait(delay):
                return None

    def _save(self, batch: list[SpooledEvent], attempts: int, first: float | None, last: float, error: str) -> None:
        self.spool.save_sink_state(self.name, SinkState(batch[0].seq, attempts, first, last, error, self.circuit.failures))

    def _split(self, batch: list[SpooledEvent], end: int, outcome: Delivery) -> Work:
        idx = outcome.rejected_index
        if idx is not None and 0 <= idx < len(batch):
            parts = [batch[:idx], batch[idx:idx + 1], batch[idx + 1:]]
        else:
            mid = len(batch) // 2
            parts = [batch[:mid], batch[mid:]]
        parts = [p for p in parts if p]
        self.log.info("sink {} refused a batch of {} ({}); splitting it to isolate the bad event",
                      self.name, len(batch), outcome.reason)
        return [(p, end if i == len(parts) - 1 else p[-1].seq) for i, p in enumerate(parts)]

    def _send(self, batch: list[SpooledEvent]) -> Delivery:
        try:
            if self.encoder is not None:
                outcome = self.sink.send_encoded(self.encoder.encode(batch))
            else:
                outcome = self.sink.send(batch)
            if not isinstance(outcome, Delivery):
                raise TypeError(f"send() returned {type(outcome).__name__}, not Delivery")
            return outcome
        except EncodeFailed as exc:  # attributed as the same exception raised in-process would be
            self.log.error("sink {} ({}) raised instead of returning an outcome; treating it as retryable\n{}",
                           self.name, self.sink.type_name, self.sink.ctx.redact(exc.trace))
            return Delivery.retry(f"plugin error: {exc.type_name}: {self.sink.ctx.redact(exc.message)}")
        except Exception as exc:
            self.log.opt(exception=exc).error("sink {} ({}) raised instead of returning an outcome; treating it as retryable",
                                              self.name, self.sink.type_name)
            return Delivery.retry(f"plugin error: {type(exc).__name__}: {self.sink.ctx.redact(str(exc))}")

    def _record(self, batch: list[SpooledEvent], outcome: Delivery, verdict: str, attempt: int, when: float,
                latency_ms: float) -> None:
        self.stats.last_latency_ms = latency_ms
        ids = [event_id_of(e.data) for e in batch[:50]]
        status = "reject" if verdict == Verdict.DEAD else outcome.status.value
        try:
            self.spool.record_delivery(self.name, when, ids, status, outcome.http_status, outcome.ok, attempt, latency_ms,
                                       None if outcome.ok else _history_reason(outcome), batch_size=len(batch))
        except SpoolClosed:
            pass

    def _dead_letter(self, batch: list[SpooledEvent], end: int, reason: str, attempts: int, first: float | None,
                     last: float | None, last_error: str) -> None:
        self.spool.dead_letter(self.name, batch, end, reason, attempts, first, last, last_error,
                               failures=self.circuit.failures, also=self._take_suppressed(end))
        self.stats.dead_lettered += len(batch)
        self.log.error("sink {}: {} events moved to dead letters ({}); see `siemrelay dlq list --sink {}`",
                       self.name, len(batch), reason, self.name)


def _history_reason(outcome: Delivery) -> str:
    """The reason as delivery history shows it: with the vendor's code when the text does not name it.

    The history's ``code`` column holds the HTTP status (what ``retry_on`` matched);
    the peer's own code (HEC 9, Slack ``rate_limited``) is what an operator searches
    the vendor's documentation for, so it must be visible too.
    """
    reason = outcome.reason
    vendor = outcome.vendor_code
    if vendor is None or str(vendor) in reason:
        return reason
    return f"{reason} (code {vendor})" if reason else f"code {vendor}"
