"""What chat webhook sinks (the built-in ``slack`` and ``teams``, and any third-party one) share:
construction, outcomes, closing.

Both POST one JSON message per batch to an incoming-webhook URL that is itself the
secret, follow the digest settings for batching, and treat a revoked webhook as a
reason to open the circuit. They differ in the encoder and in how the service reports
throttling, which each sink's ``send`` handles.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from agent.sdk.outcome import Delivery, Status
from agent.sdk.sink import Sink, SinkContext
from agent.sdk.digest import digest_batching

__all__ = ["ChatWebhookSink", "chat_outcome"]

# Webhook errors that mean "this webhook will not work until someone fixes it": the
# credentials (401), or a webhook revoked (403), deleted (404) or archived (410).
_GONE = {401, 403, 404, 410}


def chat_outcome(outcome: Delivery, what: str, vendor_code: str | None = None) -> Delivery:
    """Finish a chat sink's outcome: attach the service's own error code, and open the
    circuit for a revoked or deleted webhook (the events stay queued, nothing is dropped).

    :param vendor_code: the service's error string (Slack's ``rate_limited``,
        ``no_service``; a Teams workflow's error code), kept apart from the HTTP status.
    """
    if vendor_code is not None and not outcome.ok:
        outcome = dataclasses.replace(outcome, vendor_code=vendor_code)
    if outcome.status is Status.REJECT and outcome.http_status in _GONE:
        return dataclasses.replace(outcome, reason=f"{outcome.reason}; the {what} webhook was revoked, deleted or "
                                                   "archived, or its credentials are wrong", open_circuit=True)
    return outcome


class ChatWebhookSink(Sink):
    """Base of the chat sinks: ``url``, digest batching, one HTTP client per sink.

    A subclass's schema has ``url`` (the webhook, itself the secret), ``digest``
    (:data:`~agent.sdk.digest.DIGEST_SCHEMA`), ``tls`` and ``proxy``; it sets
    ``BATCH_DEFAULTS`` (its batch without a digest, usually one event per message) and
    ``CONTENT_TYPE``, and implements ``encode_batch`` and ``send``, finishing the outcome
    with :func:`chat_outcome`. :meth:`derive_config` makes the delivery worker's batch
    follow the digest settings (:func:`~agent.sdk.digest.digest_batching`).
    """

    SECRET_KEYS = frozenset({"url"})
    BATCH_DEFAULTS: ClassVar[dict[str, Any]] = {}
    CONTENT_TYPE: ClassVar[str] = "application/json"

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.url = config["url"]
        self.max_items = int((config.get("digest") or {}).get("max_items", 10))
        from agent.sdk.httpclient import HttpClient  # here: an agent without HTTP sinks never imports requests

        self.client = HttpClient(tls=config.get("tls"), proxy=config.get("proxy"), timeout_s=float(config["retry"]["timeout_s"]),
                                 headers={"Content-Type": self.CONTENT_TYPE}, redact=ctx.redact)

    @classmethod
    def derive_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The batch follows the digest window (one event per message without a digest)."""
        return digest_batching(config, cls.BATCH_DEFAULTS)

    def close(self) -> None:
        self.client.close()
