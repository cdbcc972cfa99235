"""The top-level fields of a stored event without parsing its ``raw`` payload.

A sink that sends the stored native JSON as it is (the ``syslog`` sink's default MSG)
still parses it for the few fields its header and structured data name. ``raw``, the
vendor's payload, is the last key of the native form and about half of its bytes and
of ``orjson.loads``'s time, and such a sink never reads it. :func:`parse_head` parses
only what comes before it; :func:`head_parser` picks it when every field a sink reads
is one the native form writes before ``raw``, else plain ``orjson.loads``.

Why the result is the same as ``orjson.loads(data)`` minus ``raw`` (docs/hot-path.md):

- The spool stores :meth:`agent.model.Event.to_json`'s output only, a dict written in
  :meth:`~agent.model.Event.to_dict`'s order: the fixed fields, the groups present,
  ``tags``, and ``raw`` last (since the first release). A dict has no duplicate keys.
- ``,"raw":`` cannot occur inside a JSON string (a quote in a string is written ``\\"``).
  Cut at a ``"raw"`` key nested in a group, the text plus ``}`` leaves a container open
  (or closes an array with ``}``) and does not parse; a cut that parses is therefore at
  the top-level ``raw`` key.
- The parsed keys must be exactly ``to_dict``'s sequence before ``raw``; a document
  written in any other order (a hand-made one in a test, a form from elsewhere) is
  parsed whole, as is one without ``raw``, one whose cut does not parse, and one with
  another ``"raw"`` key before the top-level one.
"""

from __future__ import annotations

from typing import Callable, Iterable

import orjson

from agent.model import GROUPS
from agent.sdk.json_types import JsonObject

__all__ = ["HEAD_FIELDS", "parse_head", "head_parser"]

#: what :meth:`agent.model.Event.to_dict` writes first, always, in this order
_FIXED = ("id", "time", "received_at", "source", "type", "vendor_type", "severity", "severity_id", "score", "title",
          "description")
_FIXED_TAGS = (*_FIXED, "tags")
_GROUP_RANK = {name: rank for rank, name in enumerate(GROUPS)}
#: every top-level field of the native form that comes before ``raw``
HEAD_FIELDS: frozenset[str] = frozenset((*_FIXED, *GROUPS, "tags"))
_RAW = b',"raw":'


def _native_order(keys: tuple[str, ...]) -> bool:
    """Whether ``keys`` is ``to_dict``'s sequence up to ``raw``: the fixed fields, groups in
    their order, ``tags``."""
    if keys == _FIXED_TAGS:  # no group: most events
        return True
    if keys[:len(_FIXED)] != _FIXED or keys[-1] != "tags":
        return False
    last = -1
    for name in keys[len(_FIXED):-1]:
        rank = _GROUP_RANK.get(name, -1)
        if rank <= last:
            return False
        last = rank
    return True


def parse_head(data: bytes) -> JsonObject:
    """The native JSON form ``data`` parsed as ``orjson.loads`` parses it, without ``raw``
    when the text is in the native form's order and ``raw`` is at least half of it (else
    whole, ``raw`` included).

    Why half: the cut copies the head, so skipping a small ``raw`` costs more than parsing
    it. A relayed syslog message stores its text as ``title`` and ``description`` and a
    short ``raw`` (a quarter of the bytes): parsing it whole took 4.0 µs, the cut 6.7; a
    JSON line's event keeps its payload in ``raw`` (58 % of the bytes): 7.7 µs whole, 4.6
    cut (docs/hot-path.md).

    :raises orjson.JSONDecodeError: when ``data`` is not JSON (as ``orjson.loads``).
    """
    cut = data.find(_RAW)
    if 0 < cut <= len(data) >> 1:
        try:
            head = orjson.loads(data[:cut] + b"}")
        except orjson.JSONDecodeError:
            pass  # the first "raw" key is nested in a group or a tag: parse it all
        else:
            if type(head) is dict and _native_order(tuple(head)):
                return head
    whole: JsonObject = orjson.loads(data)
    return whole


def head_parser(fields: Iterable[str]) -> Callable[[bytes], JsonObject]:
    """:func:`parse_head` when every top-level name in ``fields`` is one the native form
    writes before ``raw``, else ``orjson.loads`` (``raw``, or a name it never writes).

    :param fields: the first step of every path a sink reads (``asset`` for ``asset.name``).
    """
    return parse_head if set(fields) <= HEAD_FIELDS else orjson.loads
