"""The ``syslog`` sink: RFC 5424 messages over TCP (RFC 6587), TLS (RFC 5425), UDP (RFC 5426) or a file."""

from __future__ import annotations

from typing import Any, Sequence

import orjson

from agent.delivery import Delivery
from agent.render import expand, render_json
from agent.sinks import Sink, SinkContext, SpooledEvent
from agent.sockets import Writer
from plugins.out_syslog.config import CONFIG_SCHEMA, check_config
from plugins.out_syslog.encoder import SyslogFormat, encode
from plugins.out_syslog.header import frame_lf, frame_octet

UDP_DEFAULT_MAX = 2048  # RFC 5426 §3.2: every receiver SHOULD accept 2048 octets


def make_writer(config: dict[str, Any]) -> Writer:
    """The transport both socket sinks use, from their common keys."""
    return Writer(config["transport"], config.get("address"), tls=config.get("tls"), path=config.get("path"),
                  timeout_s=float(config.get("retry", {}).get("timeout_s", 10.0)))


class SyslogSink(Sink):
    type_name = "syslog"
    description = "RFC 5424 syslog over TCP (octet counting or LF), TLS (RFC 5425), UDP or a file."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_events": 1000, "max_wait_s": 0.1},
                "retry": {"initial_backoff_s": 0.5, "max_backoff_s": 30.0, "timeout_s": 10.0}}
    SECRET_KEYS = frozenset()
    check_config = staticmethod(check_config)

    @classmethod
    def conformance_config(cls, endpoint: Any) -> dict[str, Any]:
        """For the sink conformance suite: RFC 5424 over TCP to its receiver."""
        return {"address": endpoint.address, "transport": "tcp"}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        transport = config["transport"]
        limit = config.get("max_message_bytes") or (UDP_DEFAULT_MAX if transport == "udp" else 0)
        self.format = SyslogFormat.from_config(config, ctx.hostname, limit)
        self.schema = config["schema"]
        self.text_template = config["text_template"] if config["msg_format"] == "text" else None
        if transport == "udp":
            self.frame = _unframed
        elif transport == "file" or config["framing"] == "lf":
            self.frame = frame_lf
        else:
            self.frame = frame_octet
        self.writer = make_writer(config)

    def open(self) -> None:
        self.writer.open()

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[bytes]:
        """Framed messages for a batch (pure apart from parsing the stored JSON)."""
        frames = []
        fmt, frame, schema, template = self.format, self.frame, self.schema, self.text_template
        loads = orjson.loads
        for item in batch:
            doc = loads(item.data)
            if template is not None:
                msg = expand(template, doc).encode("utf-8")
            else:
                msg = render_json(item, schema)
            frames.append(frame(encode(fmt, doc, msg)))
        return frames

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        return self.writer.write(self.encode_batch(batch))

    def healthcheck(self) -> Delivery:
        return self.writer.check()

    def close(self) -> None:
        self.writer.close()


def _unframed(message: bytes) -> bytes:
    return message
