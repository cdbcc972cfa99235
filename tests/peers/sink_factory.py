"""Build a sink the way the agent does: schema defaults, the type's DEFAULTS, check_config."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from loguru import logger

from agent.config.schema import _Validator, compose_sink_schema
from agent.sdk.sink import SinkContext


def sink_config(cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """Validate ``config`` (without ``type``) for sink class ``cls``; raise on any problem."""
    v = _Validator(compose_sink_schema(cls.CONFIG_SCHEMA, getattr(cls, "DEFAULTS", {})), allow_unknown=False)
    if not v.validate({"type": cls.type_name, **config}):
        raise ValueError(f"invalid {cls.type_name} config: {v.errors}")
    doc = dict(v.document)
    check = getattr(cls, "check_config", None)
    problems = list(check(doc) or []) if check else []
    if problems:
        raise ValueError("; ".join(problems))
    return cls.derive_config(doc)  # type: ignore[attr-defined, no-any-return]


def make_sink(cls: type, config: dict[str, Any], *, name: str = "under_test", clock: Any = None,
              state_dir: Path | None = None, redact: Any = None) -> Any:
    ctx = SinkContext(name=name, logger=logger.bind(component="sink", name=name), state_dir=state_dir or Path("."),
                      hostname=socket.gethostname())
    if clock is not None:
        ctx.clock = clock
    if redact is not None:
        ctx.redact = redact
    return cls(name, sink_config(cls, config), ctx)
