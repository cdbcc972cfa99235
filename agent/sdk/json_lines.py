"""The JSON lines encoder of the ``file`` and ``stdout`` sinks (and any sink that writes NDJSON): pure."""

from __future__ import annotations

from typing import Sequence

from agent.sdk.render import render_json
from agent.sdk.sink import SpooledEvent

__all__ = ["encode_lines"]


def encode_lines(batch: Sequence[SpooledEvent], schema: str = "native") -> bytes:
    """One JSON object per line in ``schema``; the native form is the spooled bytes as they are."""
    return b"".join(render_json(e, schema) + b"\n" for e in batch)
