"""What it takes to build the same decoder again in another process.

A preparing child (``agent.intake.processes``, :mod:`agent.engine.prepare_pool`) decodes a
source's records with its own copy of the source's decoder. The agent's decoder factory
(:class:`agent.engine.build.DecoderFactory`) stamps each decoder it builds with a
:class:`DecoderKey`: where the decoder's settings sit in the configuration and the
resolved settings themselves, so the child builds an equal decoder from the key alone.
A decoder without a key (built by a test or a third-party source by itself) has no
recipe, and its records are prepared in the agent's process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from agent.sdk.record import RecordDecoder

__all__ = ["DecoderKey", "key_of", "stamp"]

#: the attribute a built decoder carries its key in
_ATTR = "_siemrelay_decoder_key"


@dataclass(frozen=True, slots=True)
class DecoderKey:
    """A decoder's recipe: its configuration path and settings (picklable, hashable).

    :ivar path: where the settings sit (``("sources", "edr", "decoder")``, or
        ``("decoders", NAME)`` for a named entry); the child's factory reports with it.
    :ivar text: the settings as canonical JSON: what equality and hashing compare, so
        two sources with the same settings share one decoder in the child.
    :ivar spec: the settings as the factory resolved them (``{type: ..., options}``).
    :ivar settings: the settings as the agent validated them (defaults filled), which the
        decoder's class was built with; None when they are not plain JSON. The child builds
        the decoder from these without validating again (it then needs no cerberus).
    """

    path: tuple[str | int, ...]
    text: str
    spec: dict[str, object] = field(compare=False, hash=False)
    settings: dict[str, object] | None = field(default=None, compare=False, hash=False)

    @classmethod
    def of(cls, path: tuple[str | int, ...], spec: dict[str, object],
           settings: dict[str, object] | None = None) -> "DecoderKey | None":
        """The key of a decoder built from ``spec`` at ``path`` (``settings``: validated);
        None when the settings are not plain JSON (a child could not be sure to rebuild the
        same decoder)."""
        try:
            text = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            return None
        if settings is not None:  # a copy, when the settings are plain JSON and mean the same as such
            try:
                copy = orjson.loads(orjson.dumps(settings))
            except TypeError:
                copy = None
            settings = copy if copy == settings else None
        return cls(tuple(path), text, spec, settings)


def stamp(decoder: object, key: DecoderKey | None) -> None:
    """Remember ``key`` on ``decoder`` (a decoder class with ``__slots__`` stays without one)."""
    if key is None:
        return
    try:
        setattr(decoder, _ATTR, key)
    except AttributeError:
        pass


def key_of(decoder: RecordDecoder) -> DecoderKey | None:
    """The key :func:`stamp` left on ``decoder``, or None."""
    key = getattr(decoder, _ATTR, None)
    return key if isinstance(key, DecoderKey) else None
