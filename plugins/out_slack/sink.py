"""The ``slack`` sink: POST Block Kit messages to an incoming webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import re

import orjson

if TYPE_CHECKING:
    import requests

from agent.sdk import ChatWebhookSink, Delivery, SpooledEvent, chat_outcome
from plugins.out_slack.config import BATCH_DEFAULTS, CONFIG_SCHEMA, check_config
from plugins.out_slack.encoder import encode
from agent.sdk.endpoint import ConformanceEndpoint

_SLACK_ERROR = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class SlackSink(ChatWebhookSink):
    type_name = "slack"
    description = "Slack incoming webhook with Block Kit messages; digest mode; 1 message/s per webhook."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": dict(BATCH_DEFAULTS), "rate_limit": {"per_second": 1, "burst": 1},
                "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 300.0, "timeout_s": 15.0}}
    BATCH_DEFAULTS = BATCH_DEFAULTS
    CONTENT_TYPE = "application/json; charset=utf-8"
    check_config = staticmethod(check_config)

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: a webhook URL whose path is the canary secret."""
        return {"url": f"{endpoint.url.rstrip('/')}/services/{endpoint.secret}"}

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        return orjson.dumps(encode([orjson.loads(e.data) for e in batch], self.max_items))

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        response, error = self.client.request("POST", self.url, data=self.encode_batch(batch))
        return chat_outcome(self.client.classify(response, error, self.url), "Slack", slack_error(response))


def slack_error(response: requests.Response | None) -> str | None:
    """Slack's error string (``rate_limited``, ``invalid_payload``, ``no_service``...): an
    incoming webhook answers a failure with it as the whole plain-text body."""
    if response is None or 200 <= response.status_code < 300:
        return None
    text = (response.text or "").strip()
    return text if _SLACK_ERROR.match(text) else None
