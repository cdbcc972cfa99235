"""Retry schedule and outcome classification (the circuit breaker is in ``circuit``,
the rate limit in ``ratelimit``).

Pure state machines with time injected: none of these sleep. The delivery worker
asks them what to do and how long to wait, and waits on an event that shutdown and
re-enabling can interrupt. Tests drive them with a fake clock and ``jitter: none``
and assert exact delays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterable

from agent.sdk.outcome import Delivery, Status

__all__ = ["RetryPolicy", "UNLIMITED", "DEFAULT_RETRY_ON", "RETRY_ON_PATTERN", "Verdict", "classify"]

#: ``max_attempts: unlimited`` (the default): a batch is retried until delivered.
UNLIMITED = "unlimited"
#: What is retried unless a sink says otherwise: the network, and the statuses that
#: mean "later" (408 timeout, 429 too many requests, 5xx server trouble).
DEFAULT_RETRY_ON: tuple[str, ...] = ("connection", "timeout", "408", "429", "5xx")
RETRY_ON_PATTERN = r"^(connection|timeout|[1-5]xx|[1-5][0-9][0-9])$"


class Verdict:
    """What the worker does with an outcome."""

    OK = "ok"
    RETRY = "retry"
    DEAD = "dead"  # straight to dead letters (after isolating the bad event in a batch)


def _matches(code: int, patterns: Iterable[str]) -> bool:
    text = str(code)
    for p in patterns:
        if p == text or (p.endswith("xx") and len(text) == 3 and text[0] == p[0]):
            return True
    return False


def classify(outcome: Delivery, retry_on: Iterable[str]) -> str:
    """Map a sink's outcome to :class:`Verdict` under a sink's ``retry_on`` list.

    ``retry_on`` can widen what is retried (``404`` while an endpoint is being
    deployed) or narrow it (drop ``429`` to dead-letter instead of waiting). Its
    patterns are HTTP statuses, so only the outcome's ``http_status`` is matched,
    never the vendor's own code (Splunk's HEC code 9 "Server is busy" rides on HTTP
    503, and must be judged as a 503, not as a status "9"). A status outside 100-599
    (a plugin that put a vendor code where the HTTP status belongs) is not a status
    and is ignored. Without a status the transport error kind (``connection``,
    ``timeout``) decides. A RETRY with neither (a plugin that raised, a socket sink's
    own failure) is always retried: an unexplained failure is never a reason to
    dead-letter events. A REJECT without a status (malformed data, an encoder that
    refused the event) is always dead-lettered.
    """
    if outcome.status is Status.OK:
        return Verdict.OK
    patterns = tuple(retry_on)
    status = outcome.http_status
    if status is not None and 100 <= status <= 599 and not (200 <= status < 300):
        return Verdict.RETRY if _matches(status, patterns) else Verdict.DEAD
    if outcome.status is Status.REJECT:
        return Verdict.DEAD
    kind = outcome.error_kind
    if kind in ("connection", "timeout"):
        return Verdict.RETRY if kind in patterns else Verdict.DEAD
    return Verdict.RETRY


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts of one batch.

    ``max_attempts`` counts *retries* after the first send, as the vendors we mimic
    do (ZeroPath: "6 attempts" after the first failure; the pentest platform's
    ``retry_count`` 0-10). ``None`` is unlimited.
    """

    max_attempts: int | None = None
    initial_backoff_s: float = 1.0
    multiplier: float = 2.0
    max_backoff_s: float = 300.0
    jitter: str = "full"
    timeout_s: float = 10.0
    retry_on: tuple[str, ...] = DEFAULT_RETRY_ON
    schedule_s: tuple[float, ...] = ()
    max_retry_after_s: float = 900.0

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> "RetryPolicy":
        raw = cfg.get("max_attempts", UNLIMITED)
        max_attempts = None if raw in (None, UNLIMITED, -1) else int(raw)
        return cls(max_attempts=max_attempts, initial_backoff_s=float(cfg.get("initial_backoff_s", 1.0)),
                   multiplier=float(cfg.get("multiplier", 2.0)), max_backoff_s=float(cfg.get("max_backoff_s", 300.0)),
                   jitter=str(cfg.get("jitter", "full")), timeout_s=float(cfg.get("timeout_s", 10.0)),
                   retry_on=tuple(str(x) for x in cfg.get("retry_on", DEFAULT_RETRY_ON)),
                   schedule_s=tuple(float(x) for x in cfg.get("schedule_s") or ()),
                   max_retry_after_s=float(cfg.get("max_retry_after_s", 900.0)))

    def exhausted(self, sends: int) -> bool:
        """True when a batch sent ``sends`` times (first send included) gets no more tries."""
        return self.max_attempts is not None and sends > self.max_attempts

    def base_delay(self, retry: int) -> float:
        """The un-jittered delay before retry number ``retry`` (1-based)."""
        if self.schedule_s:
            return self.schedule_s[min(retry, len(self.schedule_s)) - 1]
        return min(self.initial_backoff_s * (self.multiplier ** (retry - 1)), self.max_backoff_s)

    def delay(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based).

        A peer's ``Retry-After`` replaces the computed delay, up to
        ``max_retry_after_s`` so a misbehaving peer cannot park a sink for a day.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        base = self.base_delay(retry)
        if self.jitter == "full":
            return rng.uniform(0.0, base)
        if self.jitter == "equal":
            return base / 2 + rng.uniform(0.0, base / 2)
        return base

    def delays(self, rng: random.Random | None = None, limit: int = 20) -> list[float]:
        """The whole schedule (at most ``limit`` entries): documentation and tests."""
        rng = rng or random.Random(0)
        n = limit if self.max_attempts is None else min(limit, self.max_attempts)
        return [self.delay(i, rng) for i in range(1, n + 1)]
