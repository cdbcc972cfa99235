"""Retry schedules, outcome classification, circuit breaker and token bucket (fake clock)."""

from __future__ import annotations

import random

import pytest

from agent.config.loader import SourceMap
from agent.sdk.outcome import Delivery
from agent.delivery.circuit import CircuitBreaker
from agent.delivery.ratelimit import TokenBucket
from agent.delivery.retry import DEFAULT_RETRY_ON, RetryPolicy, Verdict, classify
from agent.config.schema import compose_sink_schema, validate_section
from agent.testing import FakeClock


def _validated_retry(block: dict) -> dict:
    problems: list = []
    doc = validate_section({"type": "x", "retry": block}, compose_sink_schema({}), SourceMap(default_file="t.yaml"),
                           ("sinks", "s"), problems)
    assert doc is not None, problems
    return doc["retry"]


def test_zeropath_schedule_is_expressible_as_config():
    # ZeroPath: 30 s after the first failure, then 1, 2, 4, 8, 16 min; six attempts.
    policy = RetryPolicy.from_config(_validated_retry(
        {"max_attempts": 6, "initial_backoff_s": 30, "multiplier": 2, "max_backoff_s": 960, "jitter": "none"}))
    assert policy.delays() == [30, 60, 120, 240, 480, 960]
    assert [policy.exhausted(n) for n in range(1, 8)] == [False] * 6 + [True]


def test_explicit_schedule_repeats_its_last_delay():
    policy = RetryPolicy(schedule_s=(5, 10), jitter="none")
    assert [policy.delay(i, random.Random()) for i in (1, 2, 3, 4)] == [5, 10, 10, 10]


def test_backoff_grows_to_max():
    policy = RetryPolicy(initial_backoff_s=1, multiplier=2, max_backoff_s=10, jitter="none")
    assert policy.delays(limit=7) == [1, 2, 4, 8, 10, 10, 10]


def test_unlimited_is_the_default_and_never_exhausts():
    retry = _validated_retry({})
    assert retry["max_attempts"] == -1
    policy = RetryPolicy.from_config(retry)
    assert policy.max_attempts is None and not policy.exhausted(10_000)


def test_zero_retries_means_one_send():
    policy = RetryPolicy.from_config({"max_attempts": 0})
    assert policy.exhausted(1)


@pytest.mark.parametrize("value, message", [(11, "at most 10"), ("forever", "0-10 or unlimited"), (-2, "at least -1")])
def test_max_attempts_range_is_enforced(value, message):
    problems: list = []
    validate_section({"type": "x", "retry": {"max_attempts": value}}, compose_sink_schema({}),
                     SourceMap(default_file="t.yaml"), ("sinks", "s"), problems)
    assert len(problems) == 1 and "sinks.s.retry.max_attempts" in str(problems[0]) and message in str(problems[0])


@pytest.mark.parametrize("value", [0.5, 31])
def test_timeout_is_between_1_and_30_seconds(value):
    problems: list = []
    validate_section({"type": "x", "retry": {"timeout_s": value}}, compose_sink_schema({}),
                     SourceMap(default_file="t.yaml"), ("sinks", "s"), problems)
    assert problems and "retry.timeout_s" in str(problems[0])


def test_retry_on_rejects_unknown_words():
    problems: list = []
    validate_section({"type": "x", "retry": {"retry_on": ["5xx", "sometimes"]}}, compose_sink_schema({}),
                     SourceMap(default_file="t.yaml"), ("sinks", "s"), problems)
    assert problems and "retry_on[1]" in str(problems[0])


def test_sink_type_defaults_apply_and_user_overrides_win():
    schema = compose_sink_schema({}, {"retry": {"max_attempts": 3, "initial_backoff_s": 2.0}})
    problems: list = []
    doc = validate_section({"type": "x", "retry": {"initial_backoff_s": 7}}, schema, SourceMap(), (), problems)
    assert doc["retry"]["max_attempts"] == 3 and doc["retry"]["initial_backoff_s"] == 7


def test_retry_after_overrides_the_computed_delay_up_to_its_cap():
    policy = RetryPolicy(initial_backoff_s=1, jitter="none", max_retry_after_s=120)
    rng = random.Random(1)
    assert policy.delay(1, rng, retry_after=42) == 42
    assert policy.delay(5, rng, retry_after=0) == 0
    assert policy.delay(1, rng, retry_after=86400) == 120


def test_full_jitter_stays_within_the_computed_delay():
    policy = RetryPolicy(initial_backoff_s=8, jitter="full")
    rng = random.Random(7)
    values = [policy.delay(1, rng) for _ in range(200)]
    assert all(0 <= v <= 8 for v in values) and len(set(values)) > 100


def test_equal_jitter_keeps_half_the_delay():
    policy = RetryPolicy(initial_backoff_s=8, jitter="equal")
    rng = random.Random(3)
    assert all(4 <= policy.delay(1, rng) <= 8 for _ in range(100))


@pytest.mark.parametrize("outcome, expected", [
    (Delivery.success(code=200), Verdict.OK),
    (Delivery.retry("HTTP 503", code=503), Verdict.RETRY),
    (Delivery.retry("HTTP 429", retry_after=3, code=429), Verdict.RETRY),
    (Delivery.retry("HTTP 408", code=408), Verdict.RETRY),
    (Delivery.reject("HTTP 400", code=400), Verdict.DEAD),
    (Delivery.reject("HTTP 404", code=404), Verdict.DEAD),
    (Delivery.reject("cannot encode: bad field"), Verdict.DEAD),
    (Delivery.retry("ConnectionError: refused", error_kind="connection"), Verdict.RETRY),
    (Delivery.retry("ReadTimeout", error_kind="timeout"), Verdict.RETRY),
    (Delivery.retry("plugin error: KeyError"), Verdict.RETRY),
])
def test_default_classification(outcome, expected):
    assert classify(outcome, DEFAULT_RETRY_ON) == expected


def test_retry_on_widens_and_narrows_per_sink():
    only_5xx = ("5xx",)
    assert classify(Delivery.retry("HTTP 429", code=429), only_5xx) == Verdict.DEAD
    assert classify(Delivery.retry("timeout", error_kind="timeout"), only_5xx) == Verdict.DEAD
    assert classify(Delivery.retry("conn", error_kind="connection"), ("connection",)) == Verdict.RETRY
    assert classify(Delivery.reject("HTTP 404", code=404), (*DEFAULT_RETRY_ON, "404")) == Verdict.RETRY
    assert classify(Delivery.retry("HTTP 502", code=502), ("503",)) == Verdict.DEAD


def test_classify_http_names_timeouts_and_connection_errors():
    import requests

    from agent.sdk.outcome import classify_http

    assert classify_http(error=requests.exceptions.ReadTimeout("slow")).error_kind == "timeout"
    assert classify_http(error=requests.exceptions.ConnectionError("refused")).error_kind == "connection"


def test_circuit_opens_after_threshold_then_half_open_probe():
    clock = FakeClock()
    cb = CircuitBreaker(3, 30.0, clock)
    assert [cb.record_failure() for _ in range(3)] == [False, False, True]
    assert cb.state == cb.OPEN and cb.wait_time() == 30.0
    clock.advance(10)
    assert cb.wait_time() == 20.0
    clock.advance(20)
    assert cb.state == cb.HALF_OPEN and cb.wait_time() == 0
    assert cb.record_failure() is True  # the probe failed: open for another cool-down
    assert cb.state == cb.OPEN and cb.wait_time() == 30.0
    clock.advance(30)
    cb.record_success()
    assert cb.state == cb.CLOSED and cb.failures == 0


def test_reset_closes_and_forgets_failures():
    cb = CircuitBreaker(2, 60.0, FakeClock())
    cb.record_failure(), cb.record_failure()
    assert cb.is_open
    cb.reset()
    assert cb.state == cb.CLOSED and cb.failures == 0 and cb.wait_time() == 0


def test_success_resets_the_consecutive_count():
    cb = CircuitBreaker(3, 1.0, FakeClock())
    cb.record_failure(), cb.record_failure()
    cb.record_success()
    cb.record_failure(), cb.record_failure()
    assert not cb.is_open


def test_token_bucket_rate_and_burst():
    clock = FakeClock()
    bucket = TokenBucket(2.0, 4, clock)
    for _ in range(4):
        assert bucket.wait_time() == 0
        bucket.take()
    assert bucket.wait_time() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.wait_time() == 0
    bucket.take()
    assert bucket.wait_time(3) == pytest.approx(1.5)
    assert bucket.wait_time(100) == pytest.approx(2.0)  # never asks for more than the bucket holds


def test_token_bucket_zero_rate_is_unlimited():
    bucket = TokenBucket(0, 1, FakeClock())
    for _ in range(1000):
        bucket.take()
    assert bucket.wait_time() == 0 and not bucket.limited


def test_retry_on_matches_the_http_status_never_the_vendor_code():
    busy = Delivery.retry("HTTP 503: HEC code 9 (Server is busy)", code=503, vendor_code=9)
    assert (busy.http_status, busy.vendor_code, busy.code) == (503, 9, 503)
    assert classify(busy, DEFAULT_RETRY_ON) == Verdict.RETRY
    assert classify(busy, ("9",)) == Verdict.DEAD  # "9" is not a status a pattern can name
    full = Delivery.retry("HTTP 429: HEC code 26", code=429, vendor_code=26)
    assert classify(full, DEFAULT_RETRY_ON) == Verdict.RETRY and classify(full, ("5xx",)) == Verdict.DEAD
    slack = Delivery.retry("HTTP 429: rate_limited", 30.0, code=429, vendor_code="rate_limited")
    assert slack.codes() == "HTTP 429, code rate_limited" and classify(slack, DEFAULT_RETRY_ON) == Verdict.RETRY


def test_a_vendor_code_in_the_status_slot_is_not_read_as_a_status():
    """A sink written before vendor_code existed may put HEC's 9 where the status goes:
    it is ignored, and its RETRY is retried instead of dead-lettered."""
    assert classify(Delivery.retry("busy", code=9), DEFAULT_RETRY_ON) == Verdict.RETRY
    assert classify(Delivery.reject("bad", code=7), DEFAULT_RETRY_ON) == Verdict.DEAD


def test_connection_kind_survives_the_http_client_cleaning_the_reason():
    from agent.sdk.httpclient import HttpClient

    client = HttpClient()
    try:
        outcome = client.classify(None, ConnectionError("refused by http://127.0.0.1:1/secret/path"),
                                  "http://127.0.0.1:1/secret/path")
    finally:
        client.close()
    assert outcome.error_kind == "connection" and "secret" not in outcome.reason
    assert classify(outcome, ("timeout",)) == Verdict.DEAD  # retry_on without "connection" is honoured
