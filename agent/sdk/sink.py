"""The sink contract: configured instances that encode and send batches of events.

A sink does one thing per call: encode the batch (a pure function kept in the
plugin's ``encoder.py``), send it over its transport, and say what happened as a
:class:`~agent.sdk.outcome.Delivery`. It never sleeps, loops or retries: the delivery
worker owns retries, backoff, the circuit breaker, rate limits and dead letters.
"""

from __future__ import annotations

import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from agent.sdk.decoder import PLUGIN_API_VERSION
from agent.sdk.outcome import Delivery
from agent.sdk.secrets import ALWAYS_SECRET_KEYS
from agent.model import Event

if TYPE_CHECKING:
    from loguru import Logger

    from agent.sdk.heads import HeadRenderer, RenderedHeads

__all__ = ["Sink", "SinkContext", "SpooledEvent"]


class SpooledEvent:
    """An event as the spool hands it to a sink: its sequence number and stored bytes.

    ``data`` is the event's native JSON form, written once by the spool however many
    sinks it fans out to. :attr:`event` parses it on first use, so a sink that writes
    the native form as is (``out_file``) never pays for a parse.
    """

    __slots__ = ("seq", "data", "_event")

    def __init__(self, seq: int, data: bytes, event: Event | None = None) -> None:
        self.seq = seq
        self.data = data
        self._event = event

    @property
    def event(self) -> Event:
        if self._event is None:
            self._event = Event.from_json(self.data)
        return self._event

    def __repr__(self) -> str:
        return f"SpooledEvent(seq={self.seq}, bytes={len(self.data)})"


@dataclass(slots=True)
class SinkContext:
    """What the agent hands a sink at construction (no globals: everything is here).

    :ivar name: the sink's name in the configuration.
    :ivar logger: a loguru logger bound to ``component="sink", name=...``.
    :ivar state_dir: a directory this sink may keep files in (created on demand).
    :ivar hostname: this machine's name, for headers that want one.
    :ivar clock: wall clock (seconds since the epoch); injected for tests.
    :ivar redact: returns a text with every known secret replaced by ``***``.
    """

    name: str
    logger: "Logger"
    state_dir: Path
    hostname: str = field(default_factory=socket.gethostname)
    clock: Callable[[], float] = field(default=__import__("time").time)
    redact: Callable[[str], str] = field(default=lambda text: text)


class Sink(ABC):
    """Base class of every sink type.

    Class attributes a sink type declares:

    - ``type_name``: the ``type:`` users write (``splunk_hec``).
    - ``description``: one line for ``siemrelay plugins``.
    - ``CONFIG_SCHEMA``: cerberus rules for the sink's own keys (each with a ``default``
      or ``required: True`` and ``meta: {description: ...}``). The common blocks
      ``batch``, ``retry``, ``circuit_breaker`` and ``rate_limit`` are added by the core.
    - ``DEFAULTS``: this type's defaults for those common blocks, e.g.
      ``{"rate_limit": {"per_second": 1, "burst": 1}}`` for Slack.
    - ``SECRET_KEYS``: names of keys whose values must never be logged.

    A sink implements :meth:`send`, and may override :meth:`open`, :meth:`healthcheck`,
    :meth:`close`, :meth:`check_config`, :meth:`derive_config`, and provide :attr:`encode_batch` and
    :attr:`conformance_config`: everything a sink may provide is declared here.
    Socket and chat-webhook sinks start from :class:`agent.sdk.SocketSink` and
    :class:`agent.sdk.ChatWebhookSink`.
    """

    type_name: ClassVar[str]
    description: ClassVar[str] = ""
    CONFIG_SCHEMA: ClassVar[dict[str, dict[str, Any]]] = {}
    DEFAULTS: ClassVar[dict[str, dict[str, Any]]] = {}
    SECRET_KEYS: ClassVar[frozenset[str]] = ALWAYS_SECRET_KEYS | {"url"}
    api_version: ClassVar[int] = PLUGIN_API_VERSION

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        """:param config: the validated section, defaults filled in."""
        self.name = name
        self.config = config
        self.ctx = ctx

    def open(self) -> None:
        """Acquire resources (sockets, files) before the first send. Optional."""

    @abstractmethod
    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        """Encode and deliver one batch; return the outcome, never raise for remote failures."""

    def healthcheck(self) -> Delivery:
        """Probe the destination without sending events (``validate --healthcheck``)."""
        return Delivery.success("no health check for this sink type")

    def close(self) -> None:
        """Release resources. Must be safe to call more than once."""

    # -- optional: override what applies ------------------------------------------------------

    @staticmethod
    def check_config(config: dict[str, Any]) -> list[str]:
        """Cross-field checks the schema cannot express, run by ``siemrelay validate`` and at start.

        :param config: the validated section, defaults filled in. Read it only: never change it
            (a sink that derives settings does so in ``__init__``).
        :returns: one readable problem per entry (the agent adds file, line and key path).
        """
        return []

    @classmethod
    def derive_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Settings that follow from other settings, e.g. a chat sink's batch from its digest window.

        The agent calls it after validation and :meth:`check_config`, and builds the sink and
        its delivery worker from the result. Return a new section; never change ``config``.
        The default returns it as it is.
        """
        return config

    #: The pure encoder, ``encode_batch(self, batch) -> bytes | list[bytes]``: exactly what
    #: :meth:`send` puts on the wire for ``batch`` (one payload, or one message per event;
    #: a sink with payloads of its own kind, such as S3 objects, returns a list of those),
    #: with no I/O and no clock. Define it as a method and call it from :meth:`send`:
    #: ``siemrelay route --explain`` shows its output and the conformance suite checks it
    #: is pure. ``None`` here means "this sink exposes no encoder".
    encode_batch: ClassVar[Callable[..., object] | None] = None

    #: Whether the agent may run :attr:`encode_batch` in a child process (``encode_in:
    #: auto|child``) so a second core does the encoding. Declare ``True`` only when
    #: ``encode_batch`` is pure, depends on nothing but the sink's configuration (the child
    #: builds its own instance from the same section, and never calls :meth:`open`), returns
    #: picklable values, and :meth:`send_encoded` puts exactly those on the wire.
    ENCODE_OFFLOAD: ClassVar[bool] = False

    def send_encoded(self, encoded: Any) -> Delivery:  # Any: what this type's encode_batch returns (subclasses narrow it)
        """Deliver what :attr:`encode_batch` returned for a batch; for ``ENCODE_OFFLOAD`` sinks,
        whose :meth:`send` is then ``send_encoded(encode_batch(batch))``."""
        raise NotImplementedError(f"{type(self).__name__} does not declare ENCODE_OFFLOAD")

    #: Heads rendered ahead for this sink (:mod:`agent.sdk.heads`): set by the agent when
    #: :meth:`head_renderer` offers a renderer; None otherwise, and in any process but the agent's.
    rendered_heads: "RenderedHeads | None" = None

    def head_renderer(self) -> "HeadRenderer | None":
        """A renderer of the per-event head this sink computes from an event's fields, run where
        the intake builds the event (often the preparing child) so the worker only joins bytes;
        None (the default): the sink renders everything itself. See :mod:`agent.sdk.heads` for
        what a renderer must promise; a sink that offers one reads :attr:`rendered_heads` in
        :meth:`send` and renders any head that is missing."""
        return None

    #: For the conformance suite (:mod:`agent.testing.conformance`), a classmethod
    #: ``conformance_config(cls, endpoint) -> dict``: this sink's own keys pointing at the
    #: suite's receiver (``endpoint.url``, ``endpoint.address``, ``endpoint.path``; every
    #: secret set to ``endpoint.secret``). ``None`` here: the suite builds a best-effort
    #: config from the schema instead.
    conformance_config: ClassVar[Callable[..., dict[str, Any]] | None] = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} type={self.type_name}>"
