"""The conformance suite itself: a good sink passes every check, and each kind of
broken sink fails exactly the check that describes its fault."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import orjson
import pytest
import requests

from agent.testing.conformance import STATIC_CHECKS, run_conformance
from agent.sdk.outcome import Delivery, classify_http
from agent.sdk.sink import Sink, SpooledEvent


class GoodSink(Sink):
    """A minimal, correct HTTP sink: the shape the guide recommends."""

    type_name = "good_http"
    description = "A correct HTTP sink."
    CONFIG_SCHEMA = {
        "url": {"type": "string", "required": True, "meta": {"description": "Where to POST."}},
        "token": {"type": "string", "required": True, "meta": {"description": "Bearer token."}},
    }
    SECRET_KEYS = frozenset({"token"})
    DEFAULTS = {"retry": {"initial_backoff_s": 2.0}}

    @classmethod
    def conformance_config(cls, endpoint: Any) -> dict[str, Any]:
        return {"url": endpoint.url, "token": endpoint.secret}

    def __init__(self, name: str, config: dict[str, Any], ctx: Any) -> None:
        super().__init__(name, config, ctx)
        self.session = requests.Session()
        self.timeout = float(config["retry"]["timeout_s"])

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        return orjson.dumps([{"id": e.event.id, "title": e.event.title, "time": e.event.time.isoformat()} for e in batch])

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success()
        try:
            response = self.session.post(self.config["url"], data=self.encode_batch(batch), timeout=self.timeout,
                                         headers={"Authorization": f"Bearer {self.config['token']}"})
        except requests.RequestException as exc:
            outcome = classify_http(error=exc)
        else:
            outcome = classify_http(response)
        return Delivery(outcome.status, self.ctx.redact(outcome.reason), outcome.retry_after, outcome.code)

    def close(self) -> None:
        self.session.close()


class Undocumented(GoodSink):
    CONFIG_SCHEMA = {**GoodSink.CONFIG_SCHEMA, "extra": {"type": "integer"}}


class BadDefault(GoodSink):
    CONFIG_SCHEMA = {**GoodSink.CONFIG_SCHEMA,
                     "mode": {"type": "string", "default": "fast", "allowed": ["slow"], "meta": {"description": "Mode."}}}


class TypoInDefaults(GoodSink):
    DEFAULTS = {"retry": {"max_attemps": 3}}


class ImpureEncoder(GoodSink):
    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        return orjson.dumps({"sent_at": time.time(), "n": len(batch)})


class RetriesEverything(GoodSink):
    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        outcome = super().send(batch)
        return Delivery.retry(outcome.reason) if outcome.status.name == "REJECT" else outcome


class IgnoresRetryAfter(GoodSink):
    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        outcome = super().send(batch)
        return Delivery(outcome.status, outcome.reason, None, outcome.code)


class NoTimeout(GoodSink):
    def __init__(self, name: str, config: dict[str, Any], ctx: Any) -> None:
        super().__init__(name, config, ctx)
        self.timeout = 30.0


class RaisesOnRefused(GoodSink):
    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        return classify_http(self.session.post(self.config["url"], data=b"[]", timeout=self.timeout)) if batch else Delivery.success()


class LeaksTheToken(GoodSink):
    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        outcome = super().send(batch)
        self.ctx.logger.info("sent with token {}", self.config["token"])
        return outcome


class CloseTwiceFails(GoodSink):
    def close(self) -> None:
        if getattr(self, "_closed", False):
            raise RuntimeError("already closed")
        self._closed = True


def test_a_correct_sink_passes_every_check(tmp_path: Path) -> None:
    results = run_conformance(GoodSink, tmp_path)
    assert all(r == "ok" for r in results.values()), results


@pytest.mark.parametrize("cls, failing", [
    (ImpureEncoder, {"encoder_pure"}),
    (RetriesEverything, {"http_400", "http_403"}),
    (IgnoresRetryAfter, {"http_429"}),
    (NoTimeout, {"timeout"}),
    (RaisesOnRefused, {"connection_refused", "timeout", "secrets"}),
    (LeaksTheToken, {"secrets"}),
    (CloseTwiceFails, {"close_idempotent"}),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_each_fault_fails_its_check(cls: type, failing: set[str], tmp_path: Path) -> None:
    results = run_conformance(cls, tmp_path)
    assert {name for name, r in results.items() if r.startswith("FAILED")} == failing, results


@pytest.mark.parametrize("cls, failing", [
    (Undocumented, {"keys_documented"}),
    (BadDefault, {"defaults_validate"}),
    (TypoInDefaults, {"common_block_defaults"}),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_each_schema_fault_fails_its_check(cls: type, failing: set[str], tmp_path: Path) -> None:
    results = run_conformance(cls, tmp_path, only=STATIC_CHECKS)
    assert {name for name, r in results.items() if r.startswith("FAILED")} == failing, results
