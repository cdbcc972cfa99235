"""The ``splunk_hec`` sink: batches to /services/collector/event, optional indexer acknowledgement."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit

import orjson

from agent.sdk.outcome import Delivery, Status
from agent.sdk.render import render_json
from agent.sdk.sink import Sink, SinkContext, SpooledEvent
from plugins.out_splunk_hec.config import CONFIG_SCHEMA, check_config
from plugins.out_splunk_hec.encoder import HecFormat, encode_event, gzip_bytes
from plugins.out_splunk_hec.responses import classify_hec
from agent.sdk.endpoint import ConformanceEndpoint


def endpoints(url: str) -> tuple[str, str, str]:
    """(event, ack, health) URLs from a base URL or any /services/collector... URL."""
    parts = urlsplit(url)
    path = parts.path
    i = path.find("/services/collector")
    base = (path[:i] if i >= 0 else path).rstrip("/")

    def at(p: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, base + p, "", ""))

    return at("/services/collector/event"), at("/services/collector/ack"), at("/services/collector/health")


class SplunkHecSink(Sink):
    type_name = "splunk_hec"
    description = "Splunk HTTP Event Collector: gzip'd batches, optional indexer acknowledgement, health check."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_events": 1000, "max_bytes": 1 << 20, "max_wait_s": 0.5},
                "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 120.0, "timeout_s": 30.0},
                "circuit_breaker": {"failure_threshold": 5, "cooldown_s": 30.0}}
    SECRET_KEYS = frozenset({"token"})
    check_config = staticmethod(check_config)
    conformance_ok_reply = {"status": 200, "body": {"text": "Success", "code": 0}}

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: its receiver as the collector, the canary as token."""
        return {"url": endpoint.url, "token": endpoint.secret, "healthcheck_on_start": False}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.event_url, self.ack_url, self.health_url = endpoints(config["url"])
        self.format = HecFormat(host=config.get("host") or ctx.hostname, source=config["source"],
                                sourcetype=config["sourcetype"], index=config.get("index"))
        self._static_meta = None if self.format.needs_doc() else self.format.metadata(None)
        self.schema = config["schema"]
        self.gzip = bool(config["gzip"])
        self.gzip_level = int(config["gzip_level"])
        ack = config.get("ack") or {}
        self.ack = bool(ack.get("enabled"))
        self.ack_timeout_s = float(ack.get("timeout_s", 60.0))
        self.ack_poll_s = float(ack.get("poll_interval_s", 1.0))
        self.channel = str(uuid.uuid4())
        headers = {"Authorization": f"Splunk {config['token']}", "Content-Type": "application/json",
                   "X-Splunk-Request-Channel": self.channel}
        from agent.sdk.httpclient import HttpClient  # here: an agent without HTTP sinks never imports requests

        self.client = HttpClient(tls=config.get("tls"), proxy=config.get("proxy"), timeout_s=float(config["retry"]["timeout_s"]),
                                 headers=headers, redact=ctx.redact)
        self._closing = threading.Event()

    # ------------------------------------------------------------------ encode
    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        """The uncompressed request body: the batch's event objects, concatenated."""
        static, fmt, schema = self._static_meta, self.format, self.schema
        loads = orjson.loads
        out = []
        for item in batch:
            data = item.data
            if static is not None:
                meta = static
                t = _native_time(data)
                if t is None:
                    t = loads(data).get("time")
            else:
                doc = loads(data)
                meta, t = fmt.metadata(doc), doc.get("time")
            out.append(encode_event(render_json(item, schema), t, meta))
        return b"".join(out)

    # ------------------------------------------------------------------ send
    def open(self) -> None:
        if self.config.get("healthcheck_on_start", True):
            outcome = self.healthcheck()
            if outcome.ok:
                self.ctx.logger.info("Splunk HEC is healthy ({})", outcome.reason)
            else:
                self.ctx.logger.warning("Splunk HEC health check failed: {}; events stay queued until it answers",
                                        outcome.reason)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        body = self.encode_batch(batch)
        headers = {}
        if self.gzip:
            body = gzip_bytes(body, self.gzip_level)
            headers["Content-Encoding"] = "gzip"
        outcome, answer = self._call("POST", self.event_url, data=body, headers=headers)
        if not outcome.ok or not self.ack:
            return outcome
        ack_id = answer.get("ackId") if isinstance(answer, dict) else None
        if not isinstance(ack_id, int) or isinstance(ack_id, bool):
            return Delivery.reject("indexer acknowledgement is enabled here but Splunk returned no ackId: "
                                   "enable it on the token too", code=outcome.code, open_circuit=True)
        return self._wait_for_ack(ack_id, len(batch))

    def _wait_for_ack(self, ack_id: int, count: int) -> Delivery:
        """Poll /ack until the batch is indexed or ack.timeout_s passes (then it is sent again)."""
        clock = self.ctx.clock
        deadline = clock() + self.ack_timeout_s
        pause = min(0.02, self.ack_poll_s)
        while True:
            outcome, answer = self._call("POST", self.ack_url, data=orjson.dumps({"acks": [ack_id]}))
            if outcome.status is Status.REJECT:
                return outcome
            if outcome.ok:
                acks = answer.get("acks") if isinstance(answer, dict) else None
                if isinstance(acks, dict) and acks.get(str(ack_id)) is True:
                    return Delivery.success(f"{count} events indexed (ackId {ack_id})", code=outcome.code)
            remaining = deadline - clock()
            if remaining <= 0 or self._closing.is_set():
                return Delivery.retry(f"no indexer acknowledgement for ackId {ack_id} within {self.ack_timeout_s:g}s; "
                                      "sending the batch again (HEC delivery is at-least-once)")
            # waiting for Splunk to index is part of this one delivery, not a retry
            if self._closing.wait(min(pause, remaining)):
                continue
            pause = min(pause * 2, self.ack_poll_s)

    def _call(self, method: str, url: str, **kwargs: Any) -> tuple[Delivery, Any]:  # Any: HttpClient.request's keywords
        response, error = self.client.request(method, url, **kwargs)
        if response is None:
            return self.client.classify(None, error, url), None
        try:
            answer = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            answer = None
        outcome = classify_hec(response.status_code, answer, response.headers.get("Retry-After"))
        if not outcome.ok:
            outcome = dataclasses.replace(outcome, reason=self.client.clean(outcome.reason, url))
        return outcome, answer

    def healthcheck(self) -> Delivery:
        """GET /services/collector/health with the token (so a bad token shows up here too)."""
        url = self.health_url + ("?ack=true" if self.ack else "")
        outcome, _ = self._call("GET", url)
        return outcome

    def close(self) -> None:
        self._closing.set()
        self.client.close()


def _native_time(data: bytes) -> str | None:
    """The ``time`` of a stored native event without parsing it all (its key order is fixed)."""
    i = data.find(b'"time":"', 0, 400)
    if i < 0:
        return None
    j = data.find(b'"', i + 8)
    return data[i + 8:j].decode("ascii", "replace") if j > 0 else None
