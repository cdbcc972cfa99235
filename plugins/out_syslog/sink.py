"""The ``syslog`` sink: RFC 5424 messages over TCP (RFC 6587), TLS (RFC 5425), UDP (RFC 5426) or a file."""

from __future__ import annotations

from typing import Any, Sequence

import orjson

from agent.sdk import parse_template
from agent.sdk.render import render_json
from agent.sdk import SinkContext, SocketSink, SpooledEvent
from plugins.out_syslog.config import CONFIG_SCHEMA, check_config
from plugins.out_syslog.encoder import SyslogFormat, encode_framed, json_msg, text_msg


class SyslogSink(SocketSink):
    type_name = "syslog"
    description = "RFC 5424 syslog over TCP (octet counting or LF), TLS (RFC 5425), UDP or a file."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    check_config = staticmethod(check_config)

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.format = SyslogFormat.from_config(config, ctx.hostname, self.max_bytes, multiline=self.multiline)
        self.schema = config["schema"]
        self.text_template = parse_template(config["text_template"]) if config["msg_format"] == "text" else None

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[bytes]:
        """Framed messages for a batch (pure apart from parsing the stored JSON)."""
        fmt, frame, schema, template = self.format, self.frame, self.schema, self.text_template
        loads = orjson.loads
        if template is None and schema == "native":
            # the MSG is the stored native JSON itself (C1 controls escaped, when it has any)
            return [encode_framed(fmt, loads(data), data if b"\xc2" not in data else json_msg(data), frame)
                    for data in [item.data for item in batch]]
        frames = []
        for item in batch:
            doc = loads(item.data)
            if template is not None:
                msg = text_msg(fmt, template, doc)
            else:
                msg = json_msg(render_json(item, schema))
            frames.append(encode_framed(fmt, doc, msg, frame))
        return frames
