"""The ``otlp`` sink: POST each batch as one ``ExportLogsServiceRequest`` to ``/v1/logs``.

Outcomes follow the OTLP/HTTP specification: 2xx is success, and a 2xx carrying a
``partial_success`` with rejected records is still success (the spec forbids
retrying it) but is logged as a warning with the server's message, so nothing is
dropped without a word; 429, 502, 503 and 504 are retried with the server's
``Retry-After`` (the sink's default ``retry_on``); any other status is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    import requests

from agent.sdk import (AGENT_VERSION, Delivery, Sink, SinkContext, SpooledEvent, Status, otlp_modules)
from plugins.out_otlp.config import CONFIG_SCHEMA, DEFAULTS, SECRET_HEADER_NAMES, check_config
from plugins.out_otlp.encoder import OtlpFormat, compress, encode_request, serialize
from agent.sdk.endpoint import ConformanceEndpoint

CONTENT_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}


class OtlpSink(Sink):
    type_name = "otlp"
    description = "OpenTelemetry logs over OTLP/HTTP (/v1/logs, protobuf or JSON, gzip, partial success, Retry-After)."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = DEFAULTS
    SECRET_KEYS = frozenset({"token", "secret", "password", "Authorization", "authorization", "X-Api-Key", "x-api-key",
                             "Api-Key", "api-key"})
    check_config = staticmethod(check_config)

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: the canary as an API-key header."""
        return {"url": endpoint.url, "headers": {"X-Api-Key": endpoint.secret}}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.pb = otlp_modules()
        self.url = config["url"]
        self.encoding = config["encoding"]
        self.gzip = bool(config["gzip"])
        resource = {"service.name": config["service_name"], "host.name": ctx.hostname, **(config.get("resource") or {})}
        self.format = OtlpFormat(body=config["body"], include_raw=bool(config["include_raw"]), resource=resource,
                                 scope_version=AGENT_VERSION, encoding=self.encoding)
        headers = {"Content-Type": CONTENT_TYPES[self.encoding], **(config.get("headers") or {})}
        if self.gzip:
            headers["Content-Encoding"] = "gzip"
        secrets = [v for k, v in headers.items() if k.lower() in SECRET_HEADER_NAMES and v]
        redact = ctx.redact

        def redact_all(text: str) -> str:
            for s in secrets:
                text = text.replace(s, "***")
            return redact(text)

        from agent.sdk.httpclient import HttpClient  # here: an agent without HTTP sinks never imports requests

        self.client = HttpClient(tls=config.get("tls"), timeout_s=float(config["retry"]["timeout_s"]),
                                 headers=headers, redact=redact_all)

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        """The request body before compression."""
        request = encode_request([item.event for item in batch], self.format, self.pb)
        return serialize(request, self.encoding, self.pb)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        return self._post(self.encode_batch(batch), len(batch))

    def healthcheck(self) -> Delivery:
        """An empty export request: a receiver answers it like any other, and stores nothing."""
        return self._post(serialize(self.pb.service.ExportLogsServiceRequest(), self.encoding, self.pb), 0)

    def _post(self, data: bytes, count: int) -> Delivery:
        response, error = self.client.request("POST", self.url, data=compress(data) if self.gzip else data)
        outcome = self.client.classify(response, error, self.url)
        if response is None:
            return outcome
        text = self._status_text(response)
        reason = f"HTTP {response.status_code}" + (f": {self.client.clean(text, self.url)}" if text else "")
        if outcome.status is not Status.OK:
            return Delivery(outcome.status, reason, outcome.retry_after, outcome.code, outcome.open_circuit,
                            outcome.rejected_index, outcome.error_kind)
        rejected, message = self._partial_success(response)
        if rejected:
            self.ctx.logger.warning("sink {}: the OTLP receiver accepted {} of {} log records and rejected {} ({}); "
                                    "OTLP forbids retrying them", self.name, max(0, count - rejected), count, rejected,
                                    self.client.clean(message, self.url) or "no message")
            return Delivery.success(f"partial success: {rejected} of {count} log records rejected: {message}",
                                    code=response.status_code)
        return Delivery.success(reason, code=response.status_code)

    def _partial_success(self, response: Any) -> tuple[int, str]:  # Any: a generated protobuf message (lazy import)
        """``(rejected_log_records, error_message)`` of a 2xx answer (0 when the body is empty)."""
        body = response.content or b""
        if not body:
            return 0, ""
        answer = self.pb.service.ExportLogsServiceResponse()
        try:
            if "json" in response.headers.get("Content-Type", ""):
                self.pb.json_format.Parse(body, answer, ignore_unknown_fields=True)
            else:
                answer.ParseFromString(body)
        except Exception:  # an unreadable success body is still a success; say so
            self.ctx.logger.warning("sink {}: the OTLP receiver's 2xx answer is not an ExportLogsServiceResponse",
                                    self.name)
            return 0, ""
        return int(answer.partial_success.rejected_log_records), str(answer.partial_success.error_message)

    def _status_text(self, response: requests.Response) -> str:
        """The human part of an error answer: a google.rpc.Status message, or the text of a text body."""
        ctype = response.headers.get("Content-Type", "")
        body = response.content or b""
        if not body:
            return ""
        if "protobuf" in ctype:
            return _rpc_status_message(body)
        text = " ".join(body.decode("utf-8", "replace").split())
        return text[:200]

    def close(self) -> None:
        self.client.close()


def _rpc_status_message(body: bytes) -> str:
    """Field 2 (``message``) of a protobuf ``google.rpc.Status``, read without its generated class."""
    i, n = 0, len(body)
    try:
        while i < n:
            key, i = _varint(body, i)
            field_no, wire = key >> 3, key & 7
            if wire == 0:
                _, i = _varint(body, i)
            elif wire == 2:
                size, i = _varint(body, i)
                if field_no == 2:
                    return body[i:i + size].decode("utf-8", "replace")[:200]
                i += size
            else:
                return ""
    except IndexError:
        return ""
    return ""


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
