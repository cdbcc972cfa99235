"""Admin building blocks on their own: tokens, rates, taps, the status page's escaping."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

from agent.admin.auth import TOKEN_FILE, Tokens, load_or_create_token, read_token_file, role_of
from agent.admin.page import render_page
from agent.admin.state import RateTracker, redact_config
from agent.admin.tap import TapHub
from agent.testing import FakeClock


def test_generated_token_is_private_and_stable(tmp_path: Path):
    first = load_or_create_token(tmp_path)
    assert len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / TOKEN_FILE).st_mode)
    assert mode == 0o600
    assert load_or_create_token(tmp_path) == first == read_token_file(tmp_path)
    assert read_token_file(tmp_path / "missing") is None


def test_roles_from_bearer_and_basic():
    tokens = Tokens("admin-secret", "read-secret")
    basic = "Basic " + base64.b64encode(b"me:read-secret").decode()
    assert role_of({"Authorization": "Bearer admin-secret"}, tokens) == "admin"
    assert role_of({"Authorization": "bearer read-secret"}, tokens) == "read"
    assert role_of({"Authorization": basic}, tokens) == "read"
    assert role_of({"Authorization": "Bearer admin-secre"}, tokens) is None
    assert role_of({"Authorization": "Basic !!notbase64"}, tokens) is None
    assert role_of({}, tokens) is None
    assert role_of({"Authorization": "Bearer "}, Tokens("admin-secret")) is None


def test_rate_is_the_average_over_the_window_and_survives_a_counter_reset():
    clock = FakeClock(0.0)
    rates = RateTracker(window_s=5.0, clock=clock)
    for n in range(0, 11):
        rates.sample({"sink:a": n * 20.0})
        clock.advance(1.0)
    assert rates.rate("sink:a") == 20.0
    rates.sample({"sink:a": 3.0})  # worker rebuilt: its counter started over
    assert rates.rate("sink:a") == 0.0
    assert rates.rate("unknown") == 0.0


def test_redact_config_hides_secret_keys_at_any_depth():
    conf = {"url": "https://x/y?token=abc", "hmac": {"secret": "s3", "header": "X-Sig"}, "headers": [{"token": "t"}]}
    out = redact_config(conf, {"url", "secret", "token"})
    assert out == {"url": "***", "hmac": {"secret": "***", "header": "X-Sig"}, "headers": [{"token": "***"}]}


def test_tap_hub_attaches_only_while_watched_and_filters():
    taps: list = []
    hub = TapHub(taps, lambda: {"archive": 0, "siem": 1})
    assert taps == []
    by_sink = hub.subscribe(sink="siem")
    by_source = hub.subscribe(source="hooks")
    assert taps == [hub]
    rows = [(0b01, b'{"id":"to-archive"}'), (0b10, b'{"id":"to-siem"}'), (0b11, b'{"id":"to-both"}')]
    for tap in taps:
        tap("hooks", rows)
        tap("files", rows)
    assert by_sink.get(0) == [b'{"id":"to-siem"}', b'{"id":"to-both"}'] * 2
    assert by_source.get(0) == [data for _, data in rows]
    hub.unsubscribe(by_sink)
    assert taps == [hub]
    hub.unsubscribe(by_source)
    assert taps == []


def test_a_slow_tap_drops_its_own_events_and_counts_them():
    taps: list = []
    hub = TapHub(taps, lambda: {})
    sub = hub.subscribe(maxsize=2)
    hub("a", [(1, b"1"), (1, b"2"), (1, b"3")])
    assert sub.get(0) == [b"1", b"2"] and sub.dropped == 1
    hub.close()
    assert sub.closed and taps == []


def _status(**over):
    base = {"version": "1.0", "uptime_s": 12.0, "spool": {"pending_bytes": 10, "max_bytes": 100, "full": False},
            "sinks": [{"name": "siem", "type": "webhook", "state": "circuit_open", "rate_per_s": 2.5, "queue_depth": 7,
                       "oldest_age_s": 30.0, "events_sent": 5, "dead_letters_stored": 1,
                       "last_error": "HTTP 500: <script>alert(1)</script>"}],
            "sources": [{"name": "hooks", "type": "http", "running": True, "enabled": True, "rate_per_s": 1.0, "events": 9,
                         "decode_errors": 0, "refused_full": 0}],
            "dead_letters": {"total": 1, "recent": [{"id": 3, "created": "2025-01-01T00:00:00Z", "sink": None, "input": "hooks",
                                                     "event_id": None, "attempts": 0, "reason": "json: <b>bad</b>"}]}}
    base.update(over)
    return base


def test_page_escapes_everything_that_came_from_outside():
    html = render_page(_status())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>bad</b>" not in html and "&lt;b&gt;bad&lt;/b&gt;" in html
    assert 'data-sink="siem"' in html and "circuit open" in html and "decode: hooks" in html
    assert "<script" not in html  # no script at all: works under default-src 'none'
