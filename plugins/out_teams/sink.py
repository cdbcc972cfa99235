"""The ``teams`` sink: POST an Adaptive Card message to a Teams webhook."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import re

import orjson

if TYPE_CHECKING:
    import requests

from agent.sdk import ChatWebhookSink, Delivery, SpooledEvent, chat_outcome
from plugins.out_teams.config import BATCH_DEFAULTS, CONFIG_SCHEMA, check_config
from plugins.out_teams.encoder import encode
from agent.sdk.endpoint import ConformanceEndpoint


class TeamsSink(ChatWebhookSink):
    type_name = "teams"
    description = "Microsoft Teams webhook (Workflows or legacy connector) with an Adaptive Card; digest mode."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": dict(BATCH_DEFAULTS), "rate_limit": {"per_second": 1, "burst": 4},
                "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 300.0, "timeout_s": 15.0}}
    BATCH_DEFAULTS = BATCH_DEFAULTS
    check_config = staticmethod(check_config)

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: a webhook URL whose path is the canary secret."""
        return {"url": f"{endpoint.url.rstrip('/')}/webhookb2/{endpoint.secret}"}

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        return encode([orjson.loads(e.data) for e in batch], self.max_items)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        response, error = self.client.request("POST", self.url, data=self.encode_batch(batch))
        relayed = relayed_status(response)
        if relayed is not None:
            return relayed
        return chat_outcome(self.client.classify(response, error, self.url), "Teams", workflow_error(response))


# "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429"
_RELAYED = re.compile(r"returned HTTP error (\d{3})")


def relayed_status(response: requests.Response | None) -> Delivery | None:
    """Legacy Office 365 connectors answer HTTP 200 and put the Teams endpoint's real
    status in the text. That status is the one ``retry_on`` must judge (429 throttled,
    5xx retried, others refused), so the outcome carries it as ``http_status``."""
    if response is None or response.status_code != 200:
        return None
    found = _RELAYED.search((response.text or "")[:300])
    if found is None:
        return None
    status = int(found.group(1))
    reason = f"Teams reported HTTP {status} in a 200 answer"
    if status in (408, 429) or status >= 500:
        return Delivery.retry(f"{reason} (throttled or unavailable)", code=status)
    return Delivery.reject(reason, code=status, open_circuit=status in (401, 403, 404, 410))


def workflow_error(response: requests.Response | None) -> str | None:
    """A Power Automate workflow's error code (``{"error": {"code": "..."}}``), if the answer has one."""
    if response is None or 200 <= response.status_code < 300:
        return None
    try:
        doc = orjson.loads(response.content or b"null")
    except orjson.JSONDecodeError:
        return None
    error = doc.get("error") if isinstance(doc, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) and code else None
