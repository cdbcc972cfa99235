"""The source contract: plugins that read input and hand raw records to the pipeline.

A source never decodes, routes or formats. It builds :class:`~agent.sdk.record.RawRecord`
objects, calls :meth:`SourceContext.submit`, and acknowledges its own input (HTTP 2xx,
a file checkpoint) only when ``submit`` says the events are durably spooled. When the
spool is full ``submit`` says so, and the source pushes back on its peer (503,
stop reading) instead of buffering in memory.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Protocol, Sequence

from agent.sdk.decoder import PLUGIN_API_VERSION, Decoder
from agent.sdk.listeners import Listeners
from agent.sdk.record import RawRecord
from agent.sdk.secrets import ALWAYS_SECRET_KEYS
from agent.sdk.json_types import JsonValue

if TYPE_CHECKING:
    from datetime import datetime

    from loguru import Logger

__all__ = ["DecoderBuilder", "PendingSubmit", "Source", "SourceContext", "Submitted", "SubmitStatus"]


class SubmitStatus(str, Enum):
    """Whether submitted records are safe to acknowledge."""

    ACCEPTED = "accepted"  # durably spooled (events, and error records in dead letters)
    FULL = "full"  # spool over quota: nothing was taken, push back and try later
    CLOSED = "closed"  # the agent is stopping: nothing was taken


@dataclass(slots=True)
class Submitted:
    """The answer to :meth:`SourceContext.submit`.

    :ivar status: see :class:`SubmitStatus`; only ACCEPTED may be acknowledged.
    :ivar events: events spooled (after routing; an event routed nowhere counts too).
    :ivar errors: ``(record index, reason)`` for records that failed to decode; they
        are in the dead-letter store with their raw bytes.
    :ivar duplicates: events skipped because their id was seen within the
        de-duplication window.
    :ivar retry_after: seconds a peer should wait before trying again (FULL).
    :ivar given: (ACCEPTED) the events each record's decoder gave, in record order (0 for
        a record that failed), before de-duplication and routing: what a source that
        answers per record (an HTTP request) reports to that record's sender.
    :ivar partial: (ACCEPTED) indices of the records that decoded in part (some events
        kept, the record also in dead letters).
    """

    status: SubmitStatus
    events: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0
    retry_after: float = 0.0
    given: list[int] = field(default_factory=list)
    partial: list[int] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.status is SubmitStatus.ACCEPTED


class PendingSubmit:
    """A submission whose durable commit may still be running.

    :meth:`SourceContext.submit_async` hands one back at once, so a source can read and
    submit its next batch while the spool commits this one (a file tail keeps the disk
    and the decoder busy at the same time). The promise is unchanged: acknowledge input
    only once :meth:`result` is ACCEPTED, and acknowledge in the order the batches were
    submitted (a checkpoint must never move past a batch that is not yet committed).
    """

    __slots__ = ("_event", "_result", "_callbacks", "_lock", "_spooling", "_withdrawn")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._result: Submitted | None = None
        self._callbacks: list[Callable[[Submitted], None]] = []
        self._lock = threading.Lock()
        self._spooling = False  # handed to the spool's writer: it will be committed (or fail) and answered
        self._withdrawn = False

    def withdraw(self) -> bool:
        """Take the submission back if it has not reached the spool yet.

        A source that stops waiting (a file tail at shutdown) calls this for a batch
        still unanswered. True: it will never be spooled, the answer is CLOSED, and the
        source reads its input again later (nothing is sent twice). False: it is being
        committed (or was): wait for :meth:`result` before deciding, since acknowledging
        nothing for a committed batch would deliver it again after a restart.
        """
        with self._lock:
            if self._result is not None or self._spooling:
                return False
            self._withdrawn = True
        self.set_result(Submitted(SubmitStatus.CLOSED))
        return True

    def claim_for_spool(self) -> bool:
        """Mark the submission as handed to the spool (the intake does this); False if it was withdrawn."""
        with self._lock:
            if self._withdrawn:
                return False
            self._spooling = True
            return True

    @classmethod
    def completed(cls, result: Submitted) -> "PendingSubmit":
        """A submission already answered (refused at once, or done synchronously)."""
        pending = cls()
        pending.set_result(result)
        return pending

    def done(self) -> bool:
        """True once the answer is known."""
        return self._event.is_set()

    def result(self, timeout: float | None = None) -> Submitted:
        """Wait for the answer.

        :raises TimeoutError: it did not come within ``timeout`` seconds.
        """
        if not self._event.wait(timeout):
            raise TimeoutError("the spool has not committed this submission yet")
        assert self._result is not None
        return self._result

    def add_done_callback(self, callback: Callable[[Submitted], None]) -> None:
        """Call ``callback(result)`` once the answer is known (at once when it already is).

        It runs on the thread that completes the submission (the spool's writer), so it
        must be short and must not block: hand the answer on (``loop.call_soon_threadsafe``).
        """
        with self._lock:
            if self._result is None:
                self._callbacks.append(callback)
                return
            result = self._result
        callback(result)

    def set_result(self, result: Submitted) -> None:
        """Answer the submission (the intake does this) and run the callbacks."""
        with self._lock:
            if self._result is not None:
                return
            self._result = result
            callbacks, self._callbacks = self._callbacks, []
        self._event.set()
        for callback in callbacks:
            callback(result)


class DecoderBuilder(Protocol):
    """``build_decoder(spec, key="decoder") -> Decoder``, handed to a source in its context."""

    def __call__(self, spec: str | dict[str, Any], key: str | tuple[str | int, ...] = "decoder") -> Decoder:
        """Build the decoder a source's section names.

        :param spec: a decoder type name, the name of an entry of the top-level
            ``decoders:`` section, or ``{type: NAME, ...options}``.
        :param key: where ``spec`` sits in the source's section (a key, or a path of keys
            such as ``("paths", "/hooks", "decoder")``), so a configuration error names that line.
        :raises agent.errors.ConfigError: the spec names no registered decoder, or its options are invalid.
        """
        ...


@dataclass(slots=True)
class SourceContext:
    """What the agent hands a source at construction.

    :ivar name: the source's name in the configuration (``origin.input`` of its events).
    :ivar logger: a loguru logger bound to ``component="source", name=...``.
    :ivar state_dir: a directory for this source's own state (checkpoints).
    :ivar submit: ``submit(records, timeout=None) -> Submitted``; blocks until the
        events are committed (or refused). ``timeout`` bounds the wait for capacity.
    :ivar submit_pending: what :meth:`submit_async` calls (the agent sets it; left ``None``,
        ``submit_async`` answers with ``submit`` at once).
    :ivar build_decoder: ``build_decoder(spec, key="decoder") -> Decoder`` from a decoder
        name or ``{type: NAME, ...options}``; ``key`` (a name or a tuple path inside the
        source's section) is where the spec sits, so a ``ConfigError`` names that line.
    :ivar stopping: set when the agent is shutting down.
    :ivar redact: returns a text with every known secret replaced by ``***``.
    :ivar listeners: where a listening source gets its sockets (``listeners.stream(host, port,
        backlog=...)``, ``listeners.datagram(...)``) and gives them back (``listeners.close()``
        at the end of ``stop``). A reload that replaces the source hands the same sockets to
        its successor through this, so no connection is refused in between.
    """

    name: str
    logger: "Logger"
    state_dir: Path
    submit: Callable[..., Submitted]
    build_decoder: DecoderBuilder
    stopping: threading.Event = field(default_factory=threading.Event)
    redact: Callable[[str], str] = field(default=lambda text: text)
    listeners: Listeners = field(default_factory=Listeners)
    submit_pending: Callable[..., PendingSubmit] | None = None

    def submit_async(self, records: Sequence[RawRecord], timeout: float | None = None, *,
                     dedup: bool = False) -> PendingSubmit:
        """Like ``submit``, but return once the records are decoded and queued for the commit.

        The source can read and submit its next batch while the spool commits this one;
        it acknowledges each batch, in order, once its :class:`PendingSubmit` is ACCEPTED.
        """
        if self.submit_pending is None:
            return PendingSubmit.completed(self.submit(records, timeout, dedup=dedup))
        return self.submit_pending(records, timeout, dedup=dedup)


class Source(ABC):
    """Base class of every source type.

    Subclasses declare ``type_name``, ``description``, ``CONFIG_SCHEMA`` and
    ``SECRET_KEYS`` like sinks do, build everything in ``__init__`` without starting
    threads or binding sockets, and do both in :meth:`start`. They may override
    :meth:`check_config`; everything a source may provide is declared here.
    """

    type_name: ClassVar[str]
    description: ClassVar[str] = ""
    CONFIG_SCHEMA: ClassVar[dict[str, dict[str, Any]]] = {}
    SECRET_KEYS: ClassVar[frozenset[str]] = ALWAYS_SECRET_KEYS | {"bearer", "value"}
    api_version: ClassVar[int] = PLUGIN_API_VERSION

    def __init__(self, name: str, config: dict[str, Any], ctx: SourceContext) -> None:
        self.name = name
        self.config = config
        self.ctx = ctx

    @abstractmethod
    def start(self) -> None:
        """Bind sockets, open files, start this source's threads.

        :raises OSError: e.g. the address is in use (the agent reports it and exits 2).
        """

    @abstractmethod
    def stop(self) -> None:
        """Stop reading, finish or refuse in-flight input, join threads. Idempotent."""

    # -- optional: override what applies; the default does nothing --------------------------

    @staticmethod
    def check_config(config: dict[str, Any]) -> list[str]:
        """Cross-field checks the schema cannot express, run by ``siemrelay validate`` and at start.

        :param config: the validated section, defaults filled in. Read it only: never change it.
        :returns: one readable problem per entry (the agent adds file, line and key path).
        """
        return []

    def make_record(self, data: bytes, decoder: Decoder, origin: dict[str, Any],
                    received_at: datetime, parsed: JsonValue = None) -> RawRecord:
        """Build a :class:`RawRecord` with ``origin.input`` set to this source's name."""
        origin.setdefault("input", self.name)
        return RawRecord(data=data, decoder=decoder, origin=origin, received_at=received_at, parsed=parsed)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} type={self.type_name}>"


Records = Sequence[RawRecord]
