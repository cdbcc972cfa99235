"""siemrelay sink plugin for PagerDuty Events API v2.

The module is the plugin: siemrelay loads it through the ``siemrelay`` entry-point
group (see ``pyproject.toml``) and calls :func:`register_sinks`.
"""

from __future__ import annotations

from typing import Callable

from agent.sdk import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_sinks(register: Callable[[type], None]) -> None:
    """Offer the ``pagerduty`` sink type."""
    from siemrelay_pagerduty.sink import PagerDutySink

    register(PagerDutySink)
