"""Built-in sink ``slack``: Slack incoming webhooks with Block Kit."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("slack", "plugins.out_slack.sink:SlackSink"))
