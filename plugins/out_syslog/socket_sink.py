"""What the socket sinks (``syslog``, ``cef``) share: framing, size limit and the writer.

Both write one framed message per event over TCP, TLS, UDP or to a file through the
reconnecting :class:`agent.sdk.sockets.Writer`; they differ only in how an event becomes a
message, which each subclass does in ``encode_batch``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Callable, Sequence

from agent.sdk.outcome import Delivery
from agent.sdk.sink import Sink, SinkContext, SpooledEvent
from agent.sdk.sockets import Writer
from plugins.out_syslog.header import frame_lf, frame_octet

UDP_DEFAULT_MAX = 2048  # RFC 5426 §3.2: every receiver SHOULD accept 2048 octets
#: TCP/TLS: syslog-ng's default log_msg_size; a longer message is split by the receiver
#: into a second record whose header is whatever the data at the cut says
STREAM_DEFAULT_MAX = 65536


def _unframed(message: bytes) -> bytes:
    return message


class SocketSink(Sink):
    """Base of the socket sinks: ``transport``, ``framing``, ``max_message_bytes``, the writer."""

    DEFAULTS = {"batch": {"max_events": 1000, "max_wait_s": 0.1},
                "retry": {"initial_backoff_s": 0.5, "max_backoff_s": 30.0, "timeout_s": 10.0}}
    SECRET_KEYS = frozenset()

    @classmethod
    def conformance_config(cls, endpoint: Any) -> dict[str, Any]:
        """For the sink conformance suite: messages over TCP to its receiver."""
        return {"address": endpoint.address, "transport": "tcp"}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        transport = config["transport"]
        #: the largest message, 0 for no limit (a file); the defaults are what receivers accept
        self.max_bytes: int = config.get("max_message_bytes") or (
            UDP_DEFAULT_MAX if transport == "udp" else 0 if transport == "file" else STREAM_DEFAULT_MAX)
        self.frame: Callable[[bytes], bytes]
        #: whether a message may carry line breaks (no LF framing on the way)
        self.multiline = transport == "udp" or (transport != "file" and config["framing"] == "octet")
        if transport == "udp":
            self.frame = _unframed  # one datagram is one message
        elif transport == "file" or config["framing"] == "lf":
            self.frame = frame_lf
        else:
            self.frame = frame_octet  # RFC 6587 octet counting
        self.writer = Writer(transport, config.get("address"), tls=config.get("tls"), path=config.get("path"),
                             timeout_s=float(config.get("retry", {}).get("timeout_s", 10.0)))

    @abstractmethod
    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[bytes]:
        """The framed messages for ``batch``; pure."""

    def open(self) -> None:
        self.writer.open()

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        return self.writer.write(self.encode_batch(batch))

    def healthcheck(self) -> Delivery:
        return self.writer.check()

    def close(self) -> None:
        self.writer.close()
