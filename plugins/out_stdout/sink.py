"""The ``stdout`` sink: native JSON lines on standard output (for trying things out)."""

from __future__ import annotations

import sys
from typing import Any, BinaryIO, Sequence

from agent.delivery import Delivery
from agent.sinks import Sink, SinkContext, SpooledEvent
from plugins.out_file.encoder import encode_native

CONFIG_SCHEMA = {
    "schema": {"type": "string", "default": "native", "allowed": ["native"],
               "meta": {"description": "JSON form written: native (siemrelay's Event JSON)."}},
}


class StdoutSink(Sink):
    type_name = "stdout"
    description = "Write events as JSON lines to standard output."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_wait_s": 0.05}}
    SECRET_KEYS = frozenset()

    @classmethod
    def conformance_config(cls, endpoint: Any) -> dict[str, Any]:
        """For the sink conformance suite: no options are needed."""
        return {}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext, stream: BinaryIO | None = None) -> None:
        super().__init__(name, config, ctx)
        self.stream = stream or sys.stdout.buffer

    @staticmethod
    def encode_batch(batch: Sequence[SpooledEvent]) -> bytes:
        """The pure encoder: the native JSON lines this sink writes for ``batch``."""
        return encode_native(batch)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        try:
            self.stream.write(self.encode_batch(batch))
            self.stream.flush()
        except (OSError, ValueError) as exc:
            return Delivery.retry(f"cannot write to stdout: {exc}")
        return Delivery.success()
