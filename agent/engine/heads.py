"""Which sinks get their heads rendered ahead by the intake (:mod:`agent.sdk.heads`).

The engine asks each built sink for its :meth:`~agent.sdk.sink.Sink.head_renderer` at
start and on reload, gives the sink a :class:`~agent.sdk.heads.RenderedHeads` to read
them from, and hands the renderers to the intake (and, in the recipe, to the preparing
children). A sink whose batches are encoded in a child of its own (``encode_in``) gets
none: that child renders every head anyway, and heads nobody takes would only fill memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from agent.delivery.offload import offload_wanted
from agent.sdk.heads import HeadRenderer, RenderedHeads
from agent.sdk.sink import Sink

if TYPE_CHECKING:
    from agent.config.validate import AgentConfig

__all__ = ["attach_heads", "sink_configs"]


def sink_configs(cfg: "AgentConfig") -> dict[str, dict[str, Any]]:
    """Each sink's resolved section by name."""
    return {name: conf for name, (_, conf) in cfg.sinks.items()}


def attach_heads(sinks: Mapping[str, Sink], configs: Mapping[str, Mapping[str, Any]], *, fresh: bool = False
                 ) -> tuple[dict[str, HeadRenderer], dict[str, RenderedHeads]]:
    """Give every sink that offers a head renderer its :class:`RenderedHeads` (kept when the
    renderer's key did not change, unless ``fresh``) and return the renderers and the memos
    by sink name.

    :param configs: each sink's resolved section (for ``encode_in``).
    :param fresh: new memos for all (a new spool may reuse sequence numbers).
    """
    renderers: dict[str, HeadRenderer] = {}
    memos: dict[str, RenderedHeads] = {}
    for name, sink in sinks.items():
        renderer = sink.head_renderer()
        config = configs.get(name) or {}
        if renderer is None or offload_wanted(sink, str(config.get("encode_in", "main"))):
            sink.rendered_heads = None
            continue
        memo = sink.rendered_heads
        if fresh or memo is None or memo.key != renderer.key:
            memo = sink.rendered_heads = RenderedHeads(renderer.key)
        renderers[name] = renderer
        memos[name] = memo
    return renderers, memos
