"""The ``elasticsearch`` sink: ``_bulk`` of ``create`` actions, per-item results honoured.

- whole request 429/503 (and other 5xx, connection errors, timeouts): RETRY with
  backoff and ``Retry-After``; 401/403: REJECT and the circuit opens (credentials);
- 200 with ``errors: true``: items answered 2xx or 409 (already created) are
  delivered; the first item answered with another 4xx (a mapping conflict) makes a
  REJECT naming its index, so the worker splits the batch around it, re-sends the
  others (their creates now answer 409) and dead-letters that event with the error;
  items answered 429 or 5xx alone make a RETRY of the batch (again, the ones already
  created answer 409), so only they are indexed by the retry.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any, Sequence

import orjson

from agent.sdk import Delivery, Sink, SinkContext, SpooledEvent, Status, parse_template, render_json
from plugins.out_elasticsearch.config import CONFIG_SCHEMA, DEFAULTS, check_config
from plugins.out_elasticsearch.encoder import bulk_body, doc_id, read_items
from agent.sdk.endpoint import ConformanceEndpoint


class ElasticsearchSink(Sink):
    type_name = "elasticsearch"
    description = "Elasticsearch / OpenSearch _bulk (create into a data stream or index; per-item 409/429/400 handled)."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = DEFAULTS
    SECRET_KEYS = frozenset({"api_key", "password", "token", "secret"})
    check_config = staticmethod(check_config)
    conformance_ok_reply = {"status": 200, "body": {"took": 1, "errors": False, "items": []}}

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: the canary as the API key."""
        return {"url": endpoint.url, "api_key": endpoint.secret}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        check_config(config)
        self.bulk_url = config["url"].rstrip("/") + "/_bulk"
        self.index = parse_template(config["index"])
        self.schema = config["schema"]
        self.gzip = bool(config["gzip"])
        headers = {"Content-Type": "application/x-ndjson"}
        secrets: list[str] = []
        if config.get("api_key"):
            headers["Authorization"] = f"ApiKey {config['api_key']}"
            secrets.append(config["api_key"])
        elif config.get("username"):
            token = base64.b64encode(f"{config['username']}:{config['password']}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
            secrets += [token, str(config["password"])]
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        redact = ctx.redact

        def redact_all(text: str) -> str:
            for s in secrets:
                if s:
                    text = text.replace(s, "***")
            return redact(text)

        from agent.sdk.httpclient import HttpClient  # here: an agent without HTTP sinks never imports requests

        self.client = HttpClient(tls=config.get("tls"), timeout_s=float(config["retry"]["timeout_s"]), headers=headers,
                                 redact=redact_all)

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        """The uncompressed NDJSON body."""
        items = []
        for item in batch:
            doc = orjson.loads(item.data)
            index = self.index.render(doc)
            timestamp = None if self.schema == "ecs" else str(doc.get("time", ""))
            items.append((index.lower(), doc_id(str(doc.get("id", ""))), timestamp, render_json(item, self.schema)))
        return bulk_body(items)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        data = self.encode_batch(batch)
        response, error = self.client.request("POST", self.bulk_url,
                                              data=gzip.compress(data, 6, mtime=0) if self.gzip else data)
        outcome = self.client.classify(response, error, self.bulk_url)
        if response is None or outcome.status is not Status.OK:
            if outcome.code in (401, 403):
                return Delivery.reject(outcome.reason, code=outcome.code, open_circuit=True)
            return outcome
        try:
            verdict = read_items(orjson.loads(response.content or b"{}"), len(batch))
        except (ValueError, orjson.JSONDecodeError) as exc:
            return Delivery.retry(f"HTTP {response.status_code} with an unreadable _bulk answer: {exc}",
                                  code=None, error_kind="connection")
        if verdict.rejected is not None:
            return Delivery.reject(f"item {verdict.rejected} refused with {verdict.status}: {verdict.reason}",
                                   code=verdict.status, rejected_index=verdict.rejected)
        if verdict.retry is not None:
            return Delivery.retry(f"item {verdict.retry} answered {verdict.status}: {verdict.reason}",
                                  code=verdict.status)
        return Delivery.success(f"HTTP {response.status_code}: {len(batch)} created", code=response.status_code)

    def healthcheck(self) -> Delivery:
        """GET the cluster root (name and version): checks the URL, TLS and credentials."""
        response, error = self.client.request("GET", self.bulk_url[: -len("/_bulk")] + "/")
        return self.client.classify(response, error, self.bulk_url)

    def close(self) -> None:
        self.client.close()
