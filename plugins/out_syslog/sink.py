"""The ``syslog`` sink: RFC 5424 messages over TCP (RFC 6587), TLS (RFC 5425), UDP (RFC 5426) or a file."""

from __future__ import annotations

from typing import Any, Sequence

from agent.sdk import Delivery, frame_octet, parse_template
from agent.sdk.heads import HeadRenderer
from agent.sdk.native_head import head_parser
from agent.sdk.render import render_json
from agent.sdk import SinkContext, SocketSink, SpooledEvent
from plugins.out_syslog.config import CONFIG_SCHEMA, check_config
from plugins.out_syslog.encoder import (SyslogFormat, SyslogHeads, encode_framed, encode_octet_stream,
                                        fields_read, json_msg, text_msg)


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
        #: parses the stored JSON: without its ``raw`` payload when no option of this sink reads it
        self.parse = head_parser(fields_read(self.format, self.text_template))
        #: messages are the stored JSON as MSG, octet-counted on a stream: one buffer per batch
        #: (not for a subclass with an encoder of its own, which ``send`` must go through)
        self._stream = (self.text_template is None and self.schema == "native" and self.frame is frame_octet
                        and config["transport"] != "udp" and type(self).encode_batch is SyslogSink.encode_batch)

    def head_renderer(self) -> HeadRenderer | None:
        """The RFC 5424 header and structured data, rendered ahead when the MSG is the stored
        native JSON (the default); a text or schema MSG reads the event here anyway."""
        native_msg = self.text_template is None and self.schema == "native"
        own_encoding = type(self).encode_batch is SyslogSink.encode_batch and type(self).send is SyslogSink.send
        return SyslogHeads(self.format) if native_msg and own_encoding else None

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[bytes]:
        """Framed messages for a batch (pure apart from parsing the stored JSON). Heads rendered
        ahead for these events are used (and taken); the frames are the same without them."""
        fmt, frame, schema, template = self.format, self.frame, self.schema, self.text_template
        loads = self.parse
        if template is None and schema == "native":
            # the MSG is the stored native JSON itself (C1 controls escaped, when it has any)
            return self._native_frames(batch, self._heads(batch))
        frames = []
        for item in batch:
            doc = loads(item.data)
            if template is not None:
                msg = text_msg(fmt, template, doc)
            else:
                msg = json_msg(render_json(item, schema))
            frames.append(encode_framed(fmt, doc, msg, frame))
        return frames

    def _heads(self, batch: Sequence[SpooledEvent]) -> list[bytes | None] | None:
        """The batch's heads rendered ahead (:mod:`agent.sdk.heads`), or None."""
        memo = self.rendered_heads
        return memo.take(batch) if memo is not None else None

    def _native_frames(self, batch: Sequence[SpooledEvent], heads: list[bytes | None] | None) -> list[bytes]:
        """Framed messages whose MSG is the stored JSON, with the heads rendered ahead where given."""
        fmt, frame, loads = self.format, self.frame, self.parse
        frames = []
        for i, item in enumerate(batch):
            data = item.data
            msg = data if b"\xc2" not in data else json_msg(data)
            head = heads[i] if heads is not None else None
            if head is None or not msg or (fmt.max_bytes and len(head) + 1 + len(msg) > fmt.max_bytes):
                frames.append(encode_framed(fmt, loads(data), msg, frame))
            else:
                frames.append(frame(head + b" " + msg))  # what encode() gives a message that fits
        return frames

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        """Writes ``b"".join(self.encode_batch(batch))``; on the default path (native JSON as MSG,
        octet counting, a stream) built as one buffer without an object per frame."""
        if not self._stream or not batch:
            return super().send(batch)
        data = encode_octet_stream(self.format, self.parse, [item.data for item in batch], self._heads(batch))
        return self.writer.write_joined(data, len(batch))
