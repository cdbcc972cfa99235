"""Pure encoder of the ``nats`` sink: spooled events → (subject, payload, headers) messages.

One message per event, so the event id can be the message's ``Nats-Msg-Id`` and the
server de-duplicates each event on its own. The native payload is the spooled bytes
as they are (no parse); an event is parsed only when the subject has placeholders
or the payload is OCSF.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import orjson

from agent.sdk import parse_template
from agent.sdk.sink import SpooledEvent

__all__ = ["Message", "SubjectTemplate", "event_id", "msg_id_header", "make_renderer", "ocsf_available", "encode_batch"]

_TOKEN_BAD = re.compile(r"[^A-Za-z0-9_\-]")
_SAFE_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


@dataclass(frozen=True, slots=True)
class Message:
    """One JetStream publish: where, what, and its headers."""

    subject: str
    data: bytes
    headers: dict[str, str]


class SubjectTemplate:
    """``siem.events.{{ source }}.{{ severity }}`` parsed once; rendered per event.

    A placeholder's value becomes one subject token: characters other than letters,
    digits, ``_`` and ``-`` become ``_`` (a dot in a value must not add a level, a
    ``*`` or ``>`` must not become a wildcard), and an empty value becomes ``unknown``.
    """

    def __init__(self, template: str) -> None:
        self.template = template
        self._parsed = parse_template(template)
        self.static = self._parsed.static

    @staticmethod
    def token(value: object) -> str:
        if value is None or value == "" or isinstance(value, (dict, list)):
            return "unknown"
        return _TOKEN_BAD.sub("_", str(value))[:128]

    def render(self, event: SpooledEvent) -> str:
        if self.static:
            return self.template
        return self._parsed.render_event(event.event, self.token)


def event_id(event: SpooledEvent) -> str:
    """The event's id, read from the native bytes without a full parse when possible.

    The native form always starts with ``{"id":"``; an id with escapes is parsed properly.
    """
    data = event.data
    if data.startswith(b'{"id":"'):
        end = data.find(b'"', 7)
        raw = data[7:end]
        if end > 0 and b"\\" not in raw:
            return raw.decode("utf-8", "replace")
    return event.event.id


def msg_id_header(ident: str) -> str:
    """A ``Nats-Msg-Id`` value for an event id: the id itself when it is short printable
    ASCII, else a stable hash of it (a header must not carry CR/LF or run unbounded)."""
    if _SAFE_ID.match(ident):
        return ident
    return "sha256:" + hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()


def ocsf_available() -> bool:
    """True when this installation can render OCSF (``agent.sdk.render`` or ``agent.sdk.ocsf``)."""
    import importlib.util

    return any(importlib.util.find_spec(m) is not None for m in ("agent.sdk.render", "agent.sdk.ocsf"))


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def make_renderer(schema: str) -> Callable[[SpooledEvent], bytes]:
    """Return the payload function for ``schema: native|ocsf``.

    Native is the spooled bytes as they are. OCSF goes through the core's shared
    renderer (``agent.sdk.render``) when it has one, else ``agent.sdk.ocsf.to_ocsf``; either
    is imported only when asked for, so a native-only agent never loads it.

    :raises ImportError: ``ocsf`` was asked for and neither module exists.
    """
    if schema == "native":
        return lambda e: e.data
    try:
        from agent.sdk.render import render_json
    except ImportError:
        from agent.sdk.ocsf import to_ocsf

        return lambda e: _as_bytes(to_ocsf(e.event))
    return lambda e: render_json(e, schema)


def encode_batch(batch: Sequence[SpooledEvent], subject: SubjectTemplate, render: Callable[[SpooledEvent], bytes],
                 *, schema: str = "native", msg_id: bool = True, stream: str | None = None,
                 extra_headers: dict[str, str] | None = None) -> list[Message]:
    """Encode a batch; raises whatever ``render`` raises, with the index in ``EncodeError``."""
    base = {"Content-Type": "application/json", "Siemrelay-Schema": schema, **(extra_headers or {})}
    if stream:
        base["Nats-Expected-Stream"] = stream
    out: list[Message] = []
    for i, ev in enumerate(batch):
        try:
            headers = dict(base)
            if msg_id:
                headers["Nats-Msg-Id"] = msg_id_header(event_id(ev))
            out.append(Message(subject.render(ev), render(ev), headers))
        except Exception as exc:
            raise EncodeError(i, f"{type(exc).__name__}: {exc}") from exc
    return out


class EncodeError(ValueError):
    """One event of the batch cannot be encoded (its index says which)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason
