"""Built-in sink ``slack``: Slack incoming webhooks with Block Kit."""

from agent.sdk import Register, hookimpl
from plugins.out_slack.sink import SlackSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(SlackSink)
