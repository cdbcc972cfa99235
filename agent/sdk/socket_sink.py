"""What socket sinks (the built-in ``syslog`` and ``cef``, and any third-party one) share:
framing, size limit, the writer, and the checks of their connection options.

Each writes one framed message per event over TCP, TLS, UDP or to a file through the
reconnecting :class:`agent.sdk.sockets.Writer`; they differ only in how an event becomes a
message, which each subclass does in ``encode_batch``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Callable, Sequence

from agent.sdk.endpoint import ConformanceEndpoint
from agent.sdk.outcome import Delivery
from agent.sdk.sink import Sink, SinkContext, SpooledEvent
from agent.sdk.net import address_check
from agent.sdk.sockets import Writer
from agent.sdk.syslog_header import frame_lf, frame_octet
from agent.sdk.tls import tls_check

__all__ = ["SocketSink", "optional_address", "socket_checks", "UDP_DEFAULT_MAX", "STREAM_DEFAULT_MAX"]

UDP_DEFAULT_MAX = 2048  # RFC 5426 §3.2: every receiver SHOULD accept 2048 octets
#: TCP/TLS: syslog-ng's default log_msg_size; a longer message is split by the receiver
#: into a second record whose header is whatever the data at the cut says
STREAM_DEFAULT_MAX = 65536


def optional_address(field: str, value: object, error: Callable[[str, str], None]) -> None:
    """``host:port`` check (a cerberus ``check_with``) that lets an unset address through:
    ``transport: file`` needs none, and :func:`socket_checks` says when one is missing."""
    if value is not None:  # a wrong type is the schema's ``type`` rule's to report; this one reads it as text
        address_check(field, value if isinstance(value, str) else str(value), error)


def socket_checks(config: dict[str, Any]) -> list[str]:
    """Cross-field checks every socket sink shares: an address for the network transports,
    a path for ``file``, and readable TLS files for ``tls``. Reads ``config`` only."""
    problems = []
    transport = config.get("transport")
    if transport == "file":
        if not config.get("path"):
            problems.append("path is required when transport is file")
    elif not config.get("address"):
        problems.append(f"address (host:port) is required when transport is {transport}")
    if transport == "tls":
        problems.extend(tls_check(config.get("tls") or {}, server=False))
    return problems


def _unframed(message: bytes) -> bytes:
    return message


class SocketSink(Sink):
    """Base of the socket sinks: ``transport``, ``framing``, ``max_message_bytes``, the writer.

    A subclass's schema has ``address`` (with :func:`optional_address`), ``transport``
    (``tcp|udp|tls|file``), ``framing`` (``octet|lf``), ``path``, ``tls`` and
    ``max_message_bytes``; its ``check_config`` starts from :func:`socket_checks`; it
    implements only :meth:`encode_batch` (pure: events → framed messages, using
    :attr:`frame` and :attr:`max_bytes`). Sending, reconnecting and the health check are here.
    """

    DEFAULTS = {"batch": {"max_events": 2000, "max_bytes": 2 << 20, "max_wait_s": 0.1},
                "retry": {"initial_backoff_s": 0.5, "max_backoff_s": 30.0, "timeout_s": 10.0}}
    SECRET_KEYS = frozenset()
    #: encode_batch is pure and send writes exactly its frames: the worker may encode in a child
    ENCODE_OFFLOAD = True

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
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
        return self.send_encoded(self.encode_batch(batch))

    def send_encoded(self, encoded: list[bytes]) -> Delivery:
        return self.writer.write(encoded)

    def healthcheck(self) -> Delivery:
        return self.writer.check()

    def close(self) -> None:
        """Release the connection in order (:meth:`agent.sdk.sockets.Writer.release`): the
        receiver reads all of it before a successor (a reload) connects."""
        if not self.writer.release():
            self.ctx.logger.warning("the receiver at {} had not read everything {}s after the connection was half-closed; "
                                "closed anyway (it may read the rest after newer messages)",
                                self.writer.address, self.writer.timeout_s)
