"""The decoder contract: a raw record in, zero or more :class:`~agent.model.Event` out.

Decoders are pure: no I/O, no clock (the record carries ``received_at``), no global
state. A record that breaks its format's contract raises :class:`DecodeError` with a
reason; the pipeline turns that into a dead-letter entry holding the raw bytes, so
nothing is dropped and nothing crashes the agent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import orjson

from agent.model import Event
from agent.sdk.record import RawRecord

__all__ = ["Decoder", "DecodeError", "PartialDecodeError", "PLUGIN_API_VERSION", "parse_json"]

#: Version of the plugin API (hooks and the Source/Decoder/Sink contracts). A plugin
#: class declares the version it was written for in ``api_version``; the registry
#: refuses a class whose major version differs.
PLUGIN_API_VERSION = 1


class DecodeError(ValueError):
    """A record that its decoder cannot turn into events; the message is the reason."""


class PartialDecodeError(DecodeError):
    """Some items of a record decoded, others did not (e.g. an array with one bad item).

    The good ``events`` are spooled and acknowledged; the record's raw bytes go to the
    dead-letter store with every reason in ``failures``, so nothing is lost and a
    sender that retries on non-2xx does not duplicate the good items.
    """

    def __init__(self, events: list["Event"], failures: list[str]) -> None:
        self.events = events
        self.failures = failures
        super().__init__("; ".join(failures))


def parse_json(data: bytes) -> Any:
    """Parse JSON bytes, raising :class:`DecodeError` that names the position.

    Invalid UTF-8 is an error too (JSON must be UTF-8, RFC 8259 section 8.1).
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})") from None


class Decoder(ABC):
    """Base class of every decoder type.

    Subclasses set :attr:`type_name`, :attr:`description` and :attr:`CONFIG_SCHEMA`
    (cerberus rules with a default or ``required`` and ``meta.description`` per key)
    and implement :meth:`decode`. They may override :meth:`check_config`,
    :meth:`use_decoders` and :meth:`decode_native`; everything a decoder may provide is declared here.
    """

    type_name: ClassVar[str]
    description: ClassVar[str] = ""
    CONFIG_SCHEMA: ClassVar[dict[str, dict[str, Any]]] = {}
    api_version: ClassVar[int] = PLUGIN_API_VERSION

    def __init__(self, config: dict[str, Any]) -> None:
        """:param config: this decoder's validated options, defaults filled in."""
        self.config = config

    # -- optional: override what applies; the defaults do nothing --------------------------

    @staticmethod
    def check_config(config: dict[str, Any]) -> list[str]:
        """Cross-field checks the schema cannot express, run by ``siemrelay validate`` and at start.

        :param config: the validated section, defaults filled in. Read it only: never change it.
        :returns: one readable problem per entry (the agent adds file, line and key path).
        """
        return []

    def use_decoders(self, build: Callable[[str], "Decoder"]) -> None:
        """Receive a way to build other registered decoder types, for decoders that delegate.

        The agent calls it once, right after construction. ``build(type_name)`` returns
        that type's decoder with its defaults, or raises when no plugin registered it.
        ``auto`` uses it to hand records on by name without importing other plugins.
        """

    def decode_native(self, record: RawRecord, received_text: str) -> list[dict[str, object]] | None:
        """Optionally, the record's events already in their native JSON form, or ``None``.

        A shortcut the intake takes where no Event is needed on the way to the spool (no route
        transforms events, and the routes' conditions read at most the features the router
        reads from the dict as well): it stores these dicts as they are, without an
        :class:`Event` to build and turn back into a dict (1.2-4 µs of the preparing child's
        work per event for the ``json`` and ``syslog`` decoders). When
        this returns a list, it must equal ``[e.to_dict(received_text) for e in decode(record)]``
        after the intake gives each event without an ``origin`` the record's, key order included;
        ``None`` (the default) sends the record through :meth:`decode`. For anything it would
        refuse, it returns ``None`` and :meth:`decode` says why (an exception it raises is taken
        as ``None``: a bug here costs only the shortcut).

        :param received_text: ``format_time(record.received_at)``, made once per batch.
        """
        return None

    @abstractmethod
    def decode(self, record: RawRecord) -> list[Event]:
        """Turn one raw record into events.

        :raises DecodeError: the record is not what this decoder accepts.
        """

    def payload(self, record: RawRecord) -> Any:
        """Return the record's JSON value, parsing ``record.data`` if the source did not."""
        if record.parsed is not None:
            return record.parsed
        return parse_json(record.data)
