"""Built-in sink ``teams``: Microsoft Teams webhooks with Adaptive Cards."""

from agent.sdk import Register, hookimpl
from plugins.out_teams.sink import TeamsSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(TeamsSink)
