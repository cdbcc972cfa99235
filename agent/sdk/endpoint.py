"""What a sink's ``conformance_config`` is handed: where the conformance suite listens.

The suite's own class (:class:`agent.testing.harness.Endpoint`) lives in the test
tooling, which a plugin's runtime code does not import; this protocol is the part a
sink reads, so ``conformance_config(cls, endpoint: ConformanceEndpoint)`` is typed
without importing :mod:`agent.testing`.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ConformanceEndpoint"]


class ConformanceEndpoint(Protocol):
    """A capturing receiver on loopback (or a closed port), and the canary secret to configure."""

    @property
    def transport(self) -> str:
        """``http``, ``tcp``, ``file`` or ``none``."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def path(self) -> str:
        """A file path inside a fresh temporary directory."""

    @property
    def workdir(self) -> str:
        """That directory (for CA files, state, ...)."""

    @property
    def secret(self) -> str:
        """The canary: put it in every secret key of the config."""

    @property
    def address(self) -> str:
        """``host:port``, for socket sinks."""

    @property
    def url(self) -> str:
        """An ``http://`` URL on the receiver."""

    @property
    def secret_url(self) -> str:
        """A URL whose path embeds the canary (chat webhooks, whose URL is the secret)."""
