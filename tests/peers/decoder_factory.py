"""Build a decoder the way the agent does: through the registry of the built-in plugins.

``auto`` hands records on to other decoders by type name (``Decoder.use_decoders``), so a
test that constructs it directly would have nothing to hand them to; this builds it as a
source's ``decoder:`` key does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from agent.config.loader import SourceMap
from agent.engine.build import DecoderFactory
from agent.plugins import PluginSet, load_plugins
from agent.sdk import Decoder


@lru_cache(maxsize=1)
def _builtins() -> PluginSet:
    return load_plugins(entry_points=False)


def build_decoder(spec: str | dict[str, Any]) -> Decoder:
    """A decoder from a type name or ``{type: NAME, ...options}``, validated and bound as at start-up."""
    return DecoderFactory(_builtins(), {}, SourceMap(default_file="<test>"))(spec)
