"""The ``teams`` sink: POST an Adaptive Card message to a Teams webhook."""

from __future__ import annotations

from typing import Any, Sequence

import orjson

from agent.delivery import Delivery
from agent.sinks import SpooledEvent
from plugins.out_slack.chat import ChatWebhookSink, chat_outcome
from plugins.out_teams.config import BATCH_DEFAULTS, CONFIG_SCHEMA, check_config
from plugins.out_teams.encoder import encode


class TeamsSink(ChatWebhookSink):
    type_name = "teams"
    description = "Microsoft Teams webhook (Workflows or legacy connector) with an Adaptive Card; digest mode."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": dict(BATCH_DEFAULTS), "rate_limit": {"per_second": 1, "burst": 4},
                "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 300.0, "timeout_s": 15.0}}
    BATCH_DEFAULTS = BATCH_DEFAULTS
    check_config = staticmethod(check_config)

    @classmethod
    def conformance_config(cls, endpoint: Any) -> dict[str, Any]:
        """For the sink conformance suite: a webhook URL whose path is the canary secret."""
        return {"url": f"{endpoint.url.rstrip('/')}/webhookb2/{endpoint.secret}"}

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        return encode([orjson.loads(e.data) for e in batch], self.max_items)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        response, error = self.client.request("POST", self.url, data=self.encode_batch(batch))
        if response is not None and response.status_code == 200 and "429" in (response.text or "")[:300]:
            # legacy connectors answer throttling with HTTP 200 and the real status in the text
            return Delivery.retry("Teams throttled the webhook (HTTP 429 reported in a 200 answer)", code=429)
        return chat_outcome(self.client.classify(response, error, self.url), "Teams")
