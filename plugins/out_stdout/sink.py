"""The ``stdout`` sink: JSON lines (native, ocsf or ecs) on standard output (for trying things out)."""

from __future__ import annotations

import sys
from typing import Any, BinaryIO, Sequence

from agent.sdk import SCHEMA_RULES, Delivery, Sink, SinkContext, SpooledEvent, encode_lines
from agent.sdk.endpoint import ConformanceEndpoint

CONFIG_SCHEMA = {
    "schema": SCHEMA_RULES,
}


class StdoutSink(Sink):
    type_name = "stdout"
    description = "Write events as JSON lines to standard output."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_wait_s": 0.05}}
    SECRET_KEYS = frozenset()

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: no options are needed."""
        return {}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext, stream: BinaryIO | None = None) -> None:
        super().__init__(name, config, ctx)
        self.stream = stream or sys.stdout.buffer
        self.schema = str(config["schema"])

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        """The pure encoder: the JSON lines (in the configured schema) this sink writes for ``batch``."""
        return encode_lines(batch, self.schema)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        try:
            self.stream.write(self.encode_batch(batch))
            self.stream.flush()
        except (OSError, ValueError) as exc:
            return Delivery.retry(f"cannot write to stdout: {exc}")
        return Delivery.success()
