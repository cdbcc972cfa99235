"""The ``slack`` sink: POST Block Kit messages to an incoming webhook."""

from __future__ import annotations

from typing import Any, Sequence

import orjson

from agent.delivery import Delivery, Status
from agent.httpclient import HttpClient
from agent.sinks import Sink, SinkContext, SpooledEvent
from plugins.out_slack.config import BATCH_DEFAULTS, CONFIG_SCHEMA, check_config
from plugins.out_slack.digest import apply_digest_batching
from plugins.out_slack.encoder import encode

# Slack webhook errors that mean "this webhook will not work until someone fixes it".
_GONE = {403, 404, 410}


def chat_outcome(outcome: Delivery, what: str) -> Delivery:
    """A revoked or deleted webhook opens the circuit: the events stay queued, nothing is dropped."""
    if outcome.status is Status.REJECT and outcome.code in _GONE:
        return Delivery.reject(f"{outcome.reason}; the {what} webhook was revoked, deleted or archived",
                               code=outcome.code, open_circuit=True)
    return outcome


class SlackSink(Sink):
    type_name = "slack"
    description = "Slack incoming webhook with Block Kit messages; digest mode; 1 message/s per webhook."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": dict(BATCH_DEFAULTS), "rate_limit": {"per_second": 1, "burst": 1},
                "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 300.0, "timeout_s": 15.0}}
    SECRET_KEYS = frozenset({"url"})
    check_config = staticmethod(check_config)

    @classmethod
    def conformance_config(cls, endpoint: Any) -> dict[str, Any]:
        """For the sink conformance suite: a webhook URL whose path is the canary secret."""
        return {"url": f"{endpoint.url.rstrip('/')}/services/{endpoint.secret}"}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        apply_digest_batching(config, BATCH_DEFAULTS)
        self.url = config["url"]
        self.max_items = int((config.get("digest") or {}).get("max_items", 10))
        self.client = HttpClient(tls=config.get("tls"), timeout_s=float(config["retry"]["timeout_s"]),
                                 headers={"Content-Type": "application/json; charset=utf-8"}, redact=ctx.redact)

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        return orjson.dumps(encode([orjson.loads(e.data) for e in batch], self.max_items))

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        return chat_outcome(self.client.post(self.url, self.encode_batch(batch)), "Slack")

    def close(self) -> None:
        self.client.close()
