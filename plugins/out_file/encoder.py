"""Pure encoder of the ``file`` and ``stdout`` sinks: spooled events → JSON lines bytes."""

from __future__ import annotations

from typing import Sequence

from agent.sdk import SpooledEvent, render_json


def encode_lines(batch: Sequence[SpooledEvent], schema: str = "native") -> bytes:
    """One JSON object per line in ``schema``; the native form is the spooled bytes as they are."""
    return b"".join(render_json(e, schema) + b"\n" for e in batch)
