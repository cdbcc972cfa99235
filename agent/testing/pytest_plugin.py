"""siemrelay's pytest plugin: fixtures for plugin authors and the sink conformance suite.

Opt-in: a plugin's test suite loads it with ``-p agent.testing.pytest_plugin`` (in its
pytest ``addopts``) or ``pytest_plugins = ["agent.testing.pytest_plugin"]`` in its top-level
``conftest.py``; ``pip install siemrelay[testing]`` brings pytest along. It registers no
``pytest11`` entry point, so it never loads into the tests of a project that merely has
siemrelay installed. Then the tests get:

- ``event_factory``: :func:`agent.testing.make_event`, a valid Event with overrides.
- ``fake_clock``: :class:`agent.testing.FakeClock`, a clock the test moves by hand.
- ``http_receiver``: a started :class:`agent.testing.receivers.HTTPReceiver` on loopback that
  records requests and answers from a script (``http_receiver.script(503, 200)``).
- ``tcp_receiver``: a started :class:`agent.testing.receivers.TCPReceiver`.
- ``sink_logs``: :class:`agent.testing.CapturedLogs`, what a sink logged.
- ``sink_context``: a :class:`agent.sdk.sink.SinkContext` whose logs go to ``sink_logs``.

And the conformance suite: subclass :class:`SinkConformance` and name your sink::

    from agent.testing.pytest_plugin import SinkConformance
    from my_plugin.sink import MySink

    class TestMySinkConformance(SinkConformance):
        sink_class = MySink
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

import pytest

from agent.testing.conformance import SinkHarness
from agent.testing.checks import (ConformanceError, NotApplicable, check_close_idempotent, check_common_defaults,
                                      check_config_validates, check_connection_refused, check_declaration,
                                      check_defaults_validate, check_empty_batch, check_encoder_pure,
                                      check_healthcheck, check_http_status, check_keys_documented, check_ok,
                                      check_secrets, check_timeout)
from agent.testing.receivers import HTTPReceiver, TCPReceiver
from agent.sdk.sink import Sink, SinkContext
from agent.testing import CapturedLogs, FakeClock, make_event, make_sink_context

__all__ = ["SinkConformance", "ConformanceError"]


@pytest.fixture
def event_factory() -> Callable[..., Any]:
    """``event_factory(severity="critical", title=...)`` → a valid :class:`agent.model.Event`."""
    return make_event


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock at t=1000 that moves only when the test calls ``advance``/``sleep``."""
    return FakeClock()


@pytest.fixture
def http_receiver() -> Iterator[HTTPReceiver]:
    """A capturing HTTP server on 127.0.0.1 (``.url``, ``.script(...)``, ``.requests``), stopped after the test."""
    with HTTPReceiver() as receiver:
        yield receiver


@pytest.fixture
def tcp_receiver() -> Iterator[TCPReceiver]:
    """A capturing TCP server on 127.0.0.1 (``.address``, ``.data``), stopped after the test."""
    with TCPReceiver() as receiver:
        yield receiver


@pytest.fixture
def sink_logs() -> Iterator[CapturedLogs]:
    """Lines logged through ``sink_context.logger`` (``.lines``, ``.text``)."""
    with CapturedLogs() as logs:
        yield logs


@pytest.fixture
def sink_context(tmp_path: Path, sink_logs: CapturedLogs) -> SinkContext:
    """A SinkContext as the agent builds one: bound logger (captured), state dir, redactor."""
    return make_sink_context("test", state_dir=tmp_path / "state", logs=sink_logs)


def _run(check: Callable[[SinkHarness], None], harness: SinkHarness) -> None:
    try:
        check(harness)
    except NotApplicable as exc:
        pytest.skip(str(exc))


class SinkConformance:
    """The sink conformance suite as a test class: subclass it and set :attr:`sink_class`.

    To run it over several types, override the ``sink_type`` fixture instead (it may be
    parametrized). Each test builds fresh sinks against fresh receivers. A check that
    does not apply (no HTTP statuses for a file sink; no ``conformance_config``) is
    skipped with the reason.
    """

    sink_class: ClassVar[type[Sink] | None] = None

    @pytest.fixture
    def sink_type(self) -> type[Sink]:
        if self.sink_class is None:
            raise pytest.UsageError(f"{type(self).__name__}: set sink_class = YourSink (or override the sink_type fixture)")
        return self.sink_class

    @pytest.fixture
    def harness(self, sink_type: type[Sink], tmp_path: Path) -> Iterator[SinkHarness]:
        h = SinkHarness(sink_type, tmp_path / "conformance")
        try:
            yield h
        finally:
            h.close()

    def test_declares_the_sink_contract(self, harness: SinkHarness) -> None:
        _run(check_declaration, harness)

    def test_every_key_has_a_description_and_a_default_or_is_required(self, harness: SinkHarness) -> None:
        _run(check_keys_documented, harness)

    def test_defaults_validate(self, harness: SinkHarness) -> None:
        _run(check_defaults_validate, harness)

    def test_common_block_defaults_are_known_and_valid(self, harness: SinkHarness) -> None:
        _run(check_common_defaults, harness)

    def test_conformance_config_validates_and_builds(self, harness: SinkHarness) -> None:
        _run(check_config_validates, harness)

    def test_encoder_is_pure_and_deterministic(self, harness: SinkHarness) -> None:
        _run(check_encoder_pure, harness)

    def test_empty_batch_is_ok_and_sends_nothing(self, harness: SinkHarness) -> None:
        _run(check_empty_batch, harness)

    def test_accepted_batch_is_ok(self, harness: SinkHarness) -> None:
        _run(check_ok, harness)

    def test_connection_refused_is_retry(self, harness: SinkHarness) -> None:
        _run(check_connection_refused, harness)

    def test_timeout_is_retry(self, harness: SinkHarness) -> None:
        _run(check_timeout, harness)

    def test_429_is_retry_with_retry_after(self, harness: SinkHarness) -> None:
        _run(lambda h: check_http_status(h, 429), harness)

    @pytest.mark.parametrize("code", [500, 503])
    def test_5xx_is_retry(self, harness: SinkHarness, code: int) -> None:
        _run(lambda h: check_http_status(h, code), harness)

    @pytest.mark.parametrize("code", [400, 403])
    def test_4xx_is_reject(self, harness: SinkHarness, code: int) -> None:
        _run(lambda h: check_http_status(h, code), harness)

    def test_healthcheck_returns_a_delivery(self, harness: SinkHarness) -> None:
        _run(check_healthcheck, harness)

    def test_close_is_idempotent(self, harness: SinkHarness) -> None:
        _run(check_close_idempotent, harness)

    def test_secrets_never_appear_in_repr_logs_or_errors(self, harness: SinkHarness) -> None:
        _run(check_secrets, harness)
