"""The ``nats`` sink: publish each event to JetStream and wait for every publish ack.

A batch is OK only when JetStream acknowledged every message of it (stored, or
recognised as a duplicate of a stored one by its ``Nats-Msg-Id``). Anything less is
RETRY of the whole batch: the messages that were stored are dropped by the server as
duplicates when the batch is sent again, so a retry never duplicates events within
the stream's duplicate window. The worker owns retries and the circuit breaker.
"""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

import orjson

from agent.sdk import (NATS_SECRET_KEYS, Delivery, NatsConnectFailed, NatsConnection, Sink, SinkContext, SpooledEvent,
                       nats_default_subjects)
from plugins.out_nats.config import CONFIG_SCHEMA, check_config
from plugins.out_nats.encoder import EncodeError, Message, SubjectTemplate, encode_batch, make_renderer
from agent.sdk.endpoint import ConformanceEndpoint

# JetStream error codes (nats-server's errors.json) that retrying cannot fix.
_ERR_STREAM_MISMATCH = 10060  # Nats-Expected-Stream names another stream
_ERR_MSG_TOO_BIG = 10054  # larger than the stream's max_msg_size


class NatsSink(Sink):
    type_name = "nats"
    description = "Publish events (native or OCSF JSON) to a NATS JetStream subject, de-duplicated by event id."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_events": 500, "max_wait_s": 0.05},
                "retry": {"initial_backoff_s": 0.5, "max_backoff_s": 30.0, "timeout_s": 10.0},
                "circuit_breaker": {"cooldown_s": 10.0}}
    SECRET_KEYS = NATS_SECRET_KEYS
    check_config = staticmethod(check_config)

    #: The conformance suite has no NATS server to drive, so it runs only the checks
    #: that need none; the outcome classification is tested against a real nats-server
    #: in tests/unit/plugins/out_nats/.
    conformance_transport = "external"

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: a server that is never contacted, and a canary token."""
        return {"url": f"nats://{endpoint.address}", "subject": "siemrelay.conformance", "token": endpoint.secret,
                "connect_timeout_s": 0.2, "reconnect_wait_s": 0.05}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.subject = SubjectTemplate(config["subject"])
        self.stream: str | None = config.get("stream")
        self.create_stream: dict[str, Any] | None = config.get("create_stream")
        self.schema = config["schema"]
        self.msg_id = bool(config["msg_id"])
        self.extra_headers = dict(config.get("headers") or {})
        self.ack_timeout = float(config.get("retry", {}).get("timeout_s", 10.0))
        self.render = make_renderer(self.schema)
        self.conn = NatsConnection(config, name, ctx.logger, ctx.redact)
        self._stream_ready = self.create_stream is None
        self.duplicates = 0  # publishes the server recognised as already stored
        self._inbox: tuple[Any, str] | None = None  # (connection, reply subject prefix)
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._seq = 0

    # ----------------------------------------------------------------- connection
    def _ensure(self) -> Delivery | None:
        """Connect (and create the stream) if needed; an outcome when that failed."""
        try:
            self.conn.connect()
            if not self._stream_ready:
                assert self.stream is not None
                self.conn.ensure_stream(self.stream, self.create_stream, self.config["subject"], self.ack_timeout)
                self._stream_ready = True
        except NatsConnectFailed as exc:
            if exc.fatal:
                return Delivery.reject(exc.reason, open_circuit=True)
            return _retry(exc.reason, "connection")
        return None

    # ----------------------------------------------------------------- send
    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[Message]:
        """The pure encoder with this sink's settings: one message per event."""
        return encode_batch(batch, self.subject, self.render, schema=self.schema, msg_id=self.msg_id,
                            stream=self.stream, extra_headers=self.extra_headers)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to publish")
        try:
            messages = self.encode_batch(batch)
        except EncodeError as exc:
            return Delivery.reject(f"event {exc.index} cannot be encoded: {exc.reason}", rejected_index=exc.index)
        failed = self._ensure()
        if failed is not None:
            return failed
        limit = int(getattr(self.conn.nc, "max_payload", 0) or 0)
        for i, m in enumerate(messages):
            if limit and len(m.data) > limit:
                return Delivery.reject(f"event of {len(m.data)} bytes exceeds the server's max_payload of {limit}",
                                       rejected_index=i)
        try:
            results = self.conn.call(self._publish(messages), self.ack_timeout + 5.0)
        except TimeoutError:
            return _retry(f"no publish acks within {self.ack_timeout:g}s", "timeout")
        except RuntimeError as exc:
            return _retry(str(exc), "connection")
        return self._classify(results, len(batch))

    async def _publish(self, messages: list[Message]) -> list[Any]:
        """Publish every message with a reply subject on one subscription of ours and
        wait once for all the acks (a request per message would arm a timer each).

        NATS keeps a connection's publishes in order, so the stream stores the batch
        in spool order. Returns, per message, a ``PubAck`` or the exception it got.
        """
        nc = self.conn.nc
        inbox = await self._reply_inbox(nc)
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Any]] = []
        for m in messages:
            self._seq += 1
            reply = f"{inbox}.{self._seq}"
            fut = loop.create_future()
            self._waiting[reply] = fut
            futures.append(fut)
            await nc.publish(m.subject, m.data, reply=reply, headers=m.headers)
        try:
            await asyncio.wait(futures, timeout=self.ack_timeout)
        finally:
            for fut in futures:
                if not fut.done():
                    fut.set_exception(asyncio.TimeoutError())
            self._waiting.clear()
        return [f.exception() or f.result() for f in futures]

    async def _reply_inbox(self, nc: Any) -> str:  # Any: nats-py's client (an optional extra, imported lazily)
        """The wildcard inbox publish acks come back on, one per connection."""
        if self._inbox is not None and self._inbox[0] is nc:
            return self._inbox[1]
        from nats.js import api
        import nats.js.errors

        prefix: str = nc.new_inbox()

        async def on_ack(msg: Any) -> None:  # Any: nats-py's Msg (an optional extra, imported lazily)
            fut = self._waiting.get(msg.subject)
            if fut is None or fut.done():
                return
            if msg.headers and msg.headers.get("Status") == "503":
                fut.set_exception(nats.js.errors.NoStreamResponseError())
                return
            try:
                resp = orjson.loads(msg.data)
                if "error" in resp:
                    nats.js.errors.APIError.from_error(resp["error"])  # raises the matching error
                fut.set_result(api.PubAck.from_response(resp))
            except Exception as exc:  # noqa: BLE001 - handed to the classifier
                fut.set_exception(exc)

        await nc.subscribe(f"{prefix}.*", cb=on_ack)
        self._inbox = (nc, prefix)
        return prefix

    def _classify(self, results: list[Any], count: int) -> Delivery:
        import nats.errors
        import nats.js.errors

        duplicates = 0
        for i, r in enumerate(results):
            if not isinstance(r, BaseException):
                duplicates += bool(getattr(r, "duplicate", False))
                continue
            if isinstance(r, nats.js.errors.NoStreamResponseError):
                return _retry(f"no JetStream stream answered on {self.config['subject']} (the stream is missing, "
                              "or electing a leader; create it or configure create_stream)")
            if isinstance(r, nats.js.errors.APIError) and not isinstance(r, nats.js.errors.ServiceUnavailableError):
                desc = r.description or "JetStream error"
                if r.err_code == _ERR_MSG_TOO_BIG:
                    return Delivery.reject(f"JetStream refused event {i}: {desc}", code=r.code, rejected_index=i,
                                           vendor_code=r.err_code)
                if r.err_code == _ERR_STREAM_MISMATCH:
                    return Delivery.reject(f"JetStream: {desc} (stream: {self.stream})", code=r.code, open_circuit=True,
                                           vendor_code=r.err_code)
                return _retry(f"JetStream: {desc} (error {r.err_code or r.code})")
            if isinstance(r, (asyncio.TimeoutError, nats.errors.TimeoutError)):
                stored = sum(1 for x in results if not isinstance(x, BaseException))
                return _retry(f"{count - stored} of {count} publishes not acknowledged within {self.ack_timeout:g}s",
                              "timeout")
            return _retry(self.ctx.redact(f"{type(r).__name__}: {r}"), "connection")
        self.duplicates += duplicates
        note = f" ({duplicates} already stored)" if duplicates else ""
        return Delivery.success(f"{count} events stored by JetStream{note}")

    # ----------------------------------------------------------------- probes
    def healthcheck(self) -> Delivery:
        """Connect and look up the stream that stores our subject."""
        failed = self._ensure()
        if failed is not None:
            return failed
        subject = (nats_default_subjects(self.config["subject"]) or [self.config["subject"]])[0]

        async def probe() -> str:
            if self.stream:
                info = await self.conn.js.stream_info(self.stream)
                return f"stream {self.stream}: {info.state.messages} messages"
            name = await self.conn.js.find_stream_name_by_subject(subject)
            return f"stream {name} stores {subject}"

        try:
            return Delivery.success(self.conn.call(probe(), self.ack_timeout))
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
            desc = getattr(exc, "description", None) or str(exc) or type(exc).__name__
            return Delivery.retry(self.ctx.redact(f"JetStream: {desc}"))

    def close(self) -> None:
        self.conn.close()



def _retry(reason: str, kind: str | None = None) -> Delivery:
    """RETRY carrying the transport error kind (``connection``/``timeout``) that ``retry.retry_on`` matches."""
    return Delivery.retry(reason, error_kind=kind)
