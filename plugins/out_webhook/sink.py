"""The ``webhook`` sink: POST events as JSON (object, array or NDJSON), optionally HMAC-signed."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import orjson

from agent.sdk.outcome import Delivery, Status
from agent.sdk.render import render_json
from agent.sdk.sink import Sink, SinkContext, SpooledEvent
from plugins.out_webhook.config import CONFIG_SCHEMA, SECRET_HEADER_NAMES, check_config, derive_config
from plugins.out_webhook.encoder import CONTENT_TYPES, body, hec_envelope, signature
from agent.sdk.endpoint import ConformanceEndpoint


class WebhookSink(Sink):
    type_name = "webhook"
    description = "Generic JSON webhook: one event, a JSON array or NDJSON per POST; HMAC-SHA256 signature."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_events": 100, "max_wait_s": 0.5},
                "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 300.0, "timeout_s": 15.0}}
    SECRET_KEYS = frozenset({"url", "secret", "Authorization", "authorization", "X-Api-Key", "x-api-key", "Api-Key",
                             "api-key", "X-Auth-Token", "x-auth-token"})
    check_config = staticmethod(check_config)

    @classmethod
    def derive_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        return derive_config(config)

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: signed with the canary secret."""
        return {"url": endpoint.url, "hmac": {"secret": endpoint.secret}}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.url = config["url"]
        self.format = config["format"]
        self.schema = config["schema"]
        self.envelope = config["envelope"] == "hec"
        self.meta = b"," + orjson.dumps({"host": config.get("host") or ctx.hostname, "source": config["source"],
                                         "sourcetype": config["sourcetype"]})[1:-1]
        self.hmac = config.get("hmac") or {}
        headers = {"Content-Type": CONTENT_TYPES[self.format], **(config.get("headers") or {})}
        secrets = [v for k, v in headers.items() if k.lower() in SECRET_HEADER_NAMES]
        redact = ctx.redact

        def redact_all(text: str) -> str:
            for s in secrets:
                if s:
                    text = text.replace(s, "***")
            return redact(text)

        from agent.sdk.httpclient import HttpClient  # here: an agent without HTTP sinks never imports requests

        self.client = HttpClient(tls=config.get("tls"), proxy=config.get("proxy"), timeout_s=float(config["retry"]["timeout_s"]),
                                 headers=headers, redact=redact_all)

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        items = []
        for item in batch:
            data = render_json(item, self.schema)
            if self.envelope:
                data = hec_envelope(data, orjson.loads(item.data).get("time"), self.meta)
            items.append(data)
        return body(items, self.format)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        if self.format == "object" and len(batch) > 1:
            return Delivery.reject("format: object sends one event per request but got a batch; set batch.max_events: 1")
        data = self.encode_batch(batch)
        headers: dict[str, str] = {}
        secret = self.hmac.get("secret")
        if secret:
            ts = str(int(self.ctx.clock()))
            if self.hmac.get("timestamp_header"):
                headers[self.hmac["timestamp_header"]] = ts
            headers[self.hmac["header"]] = signature(secret, data, self.hmac.get("prefix", ""),
                                                     ts if self.hmac.get("sign_timestamp") else None)
        return credentials_outcome(self.client.post(self.url, data, headers))

    def close(self) -> None:
        self.client.close()


def credentials_outcome(outcome: Delivery) -> Delivery:
    """401 and 403 say our credentials (a header token, the HMAC secret) are wrong: every
    event would be refused the same way, so open the circuit and keep them queued until
    an operator fixes it, instead of dead-lettering the whole stream."""
    if outcome.status is Status.REJECT and outcome.http_status in (401, 403):
        return dataclasses.replace(outcome, reason=f"{outcome.reason}; check the webhook's credentials",
                                   open_circuit=True)
    return outcome
