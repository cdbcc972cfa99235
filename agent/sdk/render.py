"""Events as the JSON a destination receives: ``schema: native``, ``ocsf`` or ``ecs``.

Every sink that takes a JSON body renders through here, so ``schema:`` means the same
thing everywhere. The native form is what the spool already stores, so the byte path
(:func:`render_json`) hands the stored bytes on untouched; OCSF needs the Event and
the mapping in :mod:`agent.sdk.ocsf`, imported lazily so a native-only agent never pays
for it (and so this module works while that mapping evolves).
"""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any, Mapping, Protocol

import orjson

from agent.model import Event

__all__ = ["SCHEMAS", "SCHEMA_RULES", "render_schema", "render", "render_json", "expand", "lookup", "epoch_ms"]

SCHEMAS = ("native", "ocsf", "ecs")

#: The ``schema`` key as every JSON sink declares it.
SCHEMA_RULES: dict[str, Any] = {
    "type": "string", "default": "native", "allowed": list(SCHEMAS),
    "meta": {"description": "JSON form of each event: native (siemrelay's Event JSON), ocsf (OCSF 1.4: Vulnerability Finding 2002, Detection Finding 2004, Authentication 3002, Network Activity 4001, Scan Activity 6007, Entity Management 3004, Inventory Info 5001, by event type) or ecs (Elastic Common Schema: @timestamp, event.*, source.*, destination.*, user.*, vulnerability.*, observer.*, rule.*)."},
}


class _Spooled(Protocol):
    data: bytes

    @property
    def event(self) -> Event: ...


def render_schema(event: Event, schema: str) -> dict[str, Any]:
    """Return ``event`` as a dict in ``schema`` (``native``, ``ocsf`` or ``ecs``).

    Named for what it does: a template's ``render`` fills text from an event; this
    turns the whole event into another schema's document.
    """
    if schema == "ocsf":
        from agent.sdk.ocsf import to_ocsf  # lazy: optional, and owned by the decoders

        return dict(to_ocsf(event))
    if schema == "ecs":
        from agent.sdk.ecs import to_ecs

        return to_ecs(event)
    if schema != "native":
        raise ValueError(f"unknown schema {schema!r} (expected native, ocsf or ecs)")
    return event.to_dict()


render = render_schema  # the 0.1 name, kept one release for third-party plugins


def render_json(item: _Spooled, schema: str) -> bytes:
    """Return one spooled event as JSON bytes in ``schema``; native is the stored bytes."""
    if schema == "native":
        return item.data
    return orjson.dumps(render_schema(item.event, schema), option=orjson.OPT_NON_STR_KEYS)


def lookup(doc: Mapping[str, Any], path: str, default: object = None) -> Any:
    """Return the value at a dotted path of a native-form dict (``asset.name``)."""
    value: Any = doc
    for step in path.split("."):
        if type(value) is dict or isinstance(value, Mapping):
            if step not in value:
                return default
            value = value[step]
        elif isinstance(value, list) and step.lstrip("-").isascii() and step.lstrip("-").isdigit() and -len(value) <= int(step) < len(value):
            value = value[int(step)]
        else:
            return default
    return default if value is None else value


def expand(template: str, doc: Mapping[str, Any]) -> str:
    """Fill ``{dotted.path}`` placeholders from a native-form dict; ``{{``/``}}`` are braces.

    Deprecated: the old single-brace syntax, parsed again for every call. Options take
    ``{{ path }}`` templates now: :func:`agent.sdk.parse_template` once, ``render`` per
    event. Kept for one release for third-party plugins that call it.

    Missing fields become empty strings (a template never fails on an event that lacks
    a group), lists are joined with commas, dicts become compact JSON.
    """
    warnings.warn("agent.sdk.expand (single-brace {path} templates) is deprecated and goes away in the next release; "
                  "parse the option once with agent.sdk.parse_template ({{ path }}) and call its render(event)",
                  DeprecationWarning, stacklevel=2)
    if "{" not in template:
        return template.replace("}}", "}")
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c == "{":
            if template.startswith("{{", i):
                out.append("{")
                i += 2
                continue
            j = template.find("}", i)
            if j < 0:
                out.append(template[i:])
                break
            out.append(_text(lookup(doc, template[i + 1:j].strip(), "")))
            i = j + 1
        elif c == "}" and template.startswith("}}", i):
            out.append("}")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def epoch_ms(iso: object) -> int | None:
    """Milliseconds since the epoch of a native-form time string (``None`` if it is not one)."""
    if not isinstance(iso, str):
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000 + 0.5)
    except ValueError:
        return None
