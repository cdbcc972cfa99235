"""Pure encoder of the ``file`` sink: spooled events → JSON lines bytes."""

from __future__ import annotations

from typing import Sequence

from agent.sinks import SpooledEvent


def encode_native(batch: Sequence[SpooledEvent]) -> bytes:
    """The native JSON form is what the spool stores, so it is written as is."""
    return b"".join(e.data + b"\n" for e in batch)
