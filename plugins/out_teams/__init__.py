"""Built-in sink ``teams``: Microsoft Teams webhooks with Adaptive Cards."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("teams", "plugins.out_teams.sink:TeamsSink"))
