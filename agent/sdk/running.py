"""What a plugin's ``startup`` and ``shutdown`` hooks may read of the running agent.

A read-only view: the engine's own interface (:class:`agent.engine.api.Engine`) extends it,
so the supervisor is what hooks receive, and a plugin type-checks against this much only.
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol

from agent.sdk.sink import Sink
from agent.sdk.source import Source

__all__ = ["RunningAgent"]


class RunningAgent(Protocol):
    """The running agent as a plugin sees it (read-only)."""

    @property
    def sinks(self) -> Mapping[str, Sink]:
        """The running sink instances by name (open, with their workers started)."""

    @property
    def sources(self) -> Mapping[str, Source]:
        """The source instances by name (at ``startup``: built, not yet started)."""

    @property
    def redactor(self) -> Callable[[str], str]:
        """Hides every configured secret in a text; pass log lines and errors through it."""
