"""The ``pagerduty`` sink: one POST per event to the Events API v2, outcomes classified.

PagerDuty answers 202 when it accepted an event, 400 for an invalid one (never
retried), 429 when throttled and 5xx on its own errors (both retried by siemrelay's
worker, honouring Retry-After). The sink itself never sleeps or retries.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from agent.sdk import Delivery, Status
from agent.sdk import ConformanceEndpoint, Sink, SinkContext, SpooledEvent
from siemrelay_pagerduty.config import CONFIG_SCHEMA, DEFAULTS, check_config
from siemrelay_pagerduty.encoder import MAX_BODY_BYTES, encode_event, serialise

__all__ = ["PagerDutySink"]


class PagerDutySink(Sink):
    type_name = "pagerduty"
    description = "PagerDuty Events API v2: trigger, acknowledge and resolve alerts, de-duplicated per finding."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = DEFAULTS
    SECRET_KEYS = frozenset({"routing_key"})
    check_config = staticmethod(check_config)

    #: What PagerDuty answers on success (used by siemrelay's conformance suite).
    conformance_ok_reply: ClassVar[dict[str, Any]] = {"status": 202, "body": {"status": "success", "message": "Event processed"}}

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """Point the sink at the conformance suite's receiver; the canary is the routing key."""
        return {"url": endpoint.url, "routing_key": endpoint.secret}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.url = str(config["url"])
        self._routing_key = str(config["routing_key"])
        # imported here, not at the top: an agent that does not use this sink never loads requests
        from agent.sdk import HttpClient

        self.client = HttpClient(tls=config.get("tls"), timeout_s=float(config["retry"]["timeout_s"]),
                                 headers={"Content-Type": "application/json"}, redact=ctx.redact)

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[bytes]:
        """One request body per event, in batch order (pure)."""
        return [serialise(encode_event(e.event, self._routing_key, self.config)) for e in batch]

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        """POST each event; stop at the first that is not accepted and say which.

        Events before it were accepted. On RETRY the worker sends the whole batch again;
        PagerDuty folds the repeats into the open alert by their dedup_key.
        """
        if not batch:
            return Delivery.success("nothing to send")
        for index, body in enumerate(self.encode_batch(batch)):
            if len(body) > MAX_BODY_BYTES:
                return Delivery.reject(f"event {index} is {len(body)} bytes encoded, over PagerDuty's 512 KB limit",
                                       rejected_index=index)
            outcome = self.client.post(self.url, body)
            if outcome.status is Status.REJECT:
                return Delivery.reject(outcome.reason, code=outcome.code, rejected_index=index,
                                       open_circuit=outcome.code in (401, 403))
            if outcome.status is Status.RETRY:
                return outcome
        return Delivery.success(f"{len(batch)} events accepted", code=202)

    def healthcheck(self) -> Delivery:
        """PagerDuty has no health endpoint: check that it answers HTTP at all (any status)."""
        response, error = self.client.request("GET", self.url)
        if response is None:
            return self.client.classify(None, error, self.url)
        return Delivery.success(f"{self.url} answers (HTTP {response.status_code})", code=response.status_code)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"<PagerDutySink {self.name!r} url={self.url}>"
