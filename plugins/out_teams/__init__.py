"""Built-in sink ``teams``: Microsoft Teams webhooks with Adaptive Cards."""

from agent.sdk.hookspecs import hookimpl
from plugins.out_teams.sink import TeamsSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(TeamsSink)
