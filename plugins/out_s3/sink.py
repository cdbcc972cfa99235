"""The ``s3`` and ``security_lake`` sinks: each worker batch becomes objects in a bucket.

Acknowledgement: ``send`` returns OK only once S3 has answered 200 for every object
of the batch, so the events leave the spool queue only then. The batch limits are the
roll size and age (``batch.max_bytes``, ``batch.max_wait_s``). If the agent dies
between the roll and S3's answer, the restarted worker reads the same events again
and writes them under the same keys (:func:`plugins.out_s3.keys.object_id`), so S3
keeps one copy; only if the next batch is cut shorter than the one in flight can the
events of that one object appear twice. A batch of several objects that fails half
way is sent again whole: the objects already written are overwritten with the same
bytes.
"""

from __future__ import annotations

from typing import Any, Sequence

from agent.sdk import Delivery, Sink, SinkContext, SpooledEvent, Status
from plugins.out_s3.config import (S3_DEFAULTS, S3_SCHEMA, SECRET_KEYS, SECURITY_LAKE_DEFAULTS, SECURITY_LAKE_SCHEMA,
                                   check_s3, check_security_lake)
from plugins.out_s3.encoder import JsonlFormat, ParquetFormat, S3Object, plan_s3, plan_security_lake
from plugins.out_s3.keys import KeyTemplate
from plugins.out_s3.transport import S3Transport
from agent.sdk.endpoint import ConformanceEndpoint

__all__ = ["S3Sink", "SecurityLakeSink"]


class _ObjectSink(Sink):
    """What both sinks share: the transport, secrets, and sending the planned objects."""

    SECRET_KEYS = SECRET_KEYS
    conformance_transport = "http"
    conformance_ok_reply = {"status": 200, "body": "", "headers": {"ETag": '"d41d8cd98f00b204e9800998ecf8427e"'}}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        secrets = [str(config[k]) for k in ("secret_access_key", "session_token") if config.get(k)]
        redact = ctx.redact

        def redact_all(text: str) -> str:
            for secret in secrets:
                text = text.replace(secret, "***")
            return redact(text)

        self.redact = redact_all
        self.transport: S3Transport | None = None

    def _client(self) -> S3Transport:
        if self.transport is None:  # built on first use: importing boto3 costs a few hundred ms
            self.transport = S3Transport(self.config, self.redact)
        return self.transport

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[S3Object]:
        raise NotImplementedError

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        try:
            objects = self.encode_batch(batch)
        except Exception as exc:  # an event the format cannot hold (Arrow's nesting limit): refused, so the
            # worker isolates it and dead-letters it with this reason instead of retrying the batch for ever
            return Delivery.reject(f"cannot encode as {self._format_name()}: {type(exc).__name__}: "
                                   f"{self.redact(str(exc))[:200]}")
        try:
            transport = self._client()
        except Exception as exc:  # boto3 refusing the configuration (an unknown profile) is the user's to fix
            return Delivery.reject(f"cannot set up the S3 client: {type(exc).__name__}: {self.redact(str(exc))}",
                                   open_circuit=True)
        last = Delivery.success("nothing to send")
        for obj in objects:
            last = transport.put(obj.key, obj.body, obj.content_type, obj.content_encoding)
            if last.status is not Status.OK:
                return last
        if len(objects) == 1:
            return last
        total = sum(len(o.body) for o in objects)
        return Delivery.success(f"HTTP {last.code}: {len(objects)} objects ({total} bytes), first {objects[0].key}",
                                code=last.code)

    def _format_name(self) -> str:
        return "Parquet"

    def healthcheck(self) -> Delivery:
        try:
            return self._client().head_bucket()
        except Exception as exc:
            return Delivery.reject(f"cannot set up the S3 client: {type(exc).__name__}: {self.redact(str(exc))}")

    def close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()


class S3Sink(_ObjectSink):
    type_name = "s3"
    description = "Objects in an S3 bucket (JSON lines or Parquet; native, OCSF or ECS; one object per batch, multipart)."
    CONFIG_SCHEMA = S3_SCHEMA
    DEFAULTS = S3_DEFAULTS
    check_config = staticmethod(check_s3)

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: the receiver as the endpoint, the canary as the secret key."""
        return {"bucket": "conformance", "endpoint_url": endpoint.url, "path_style": True,
                "access_key_id": "AKIACONFORMANCE", "secret_access_key": endpoint.secret}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.template = KeyTemplate(config["key"])
        self.schema = config["schema"]
        self.format: JsonlFormat | ParquetFormat = (
            JsonlFormat(bool(config["gzip"])) if config["format"] == "jsonl"
            else ParquetFormat(config["parquet_compression"]))

    def _format_name(self) -> str:
        return "Parquet" if isinstance(self.format, ParquetFormat) else "JSON lines"

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[S3Object]:
        """The objects of this batch (pure: keys and bytes depend on the events only)."""
        return plan_s3(batch, self.template, self.schema, self.format)


class SecurityLakeSink(_ObjectSink):
    type_name = "security_lake"
    description = ("Amazon Security Lake custom source: OCSF Parquet, one class per object, "
                   "ext/SOURCE/region=/accountId=/eventDay= layout.")
    CONFIG_SCHEMA = SECURITY_LAKE_SCHEMA
    DEFAULTS = SECURITY_LAKE_DEFAULTS
    check_config = staticmethod(check_security_lake)

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: the receiver as the endpoint, the canary as the secret key."""
        return {"bucket": "conformance", "endpoint_url": endpoint.url, "path_style": True, "source_name": "siemrelay",
                "account_id": "123456789012", "access_key_id": "AKIACONFORMANCE",
                "secret_access_key": endpoint.secret}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.source = KeyTemplate(config["source_name"], allowed={"class_uid", "class_name"}, need_object_id=False)
        self.format = ParquetFormat(config["parquet_compression"])

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[S3Object]:
        """OCSF Parquet objects of this batch, one per (source, class, event day)."""
        return plan_security_lake(batch, self.source, self.config["region"], self.config["account_id"], self.format)
