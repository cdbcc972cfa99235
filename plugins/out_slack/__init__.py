"""Built-in sink ``slack``: Slack incoming webhooks with Block Kit."""

from agent.sdk.hookspecs import hookimpl
from plugins.out_slack.sink import SlackSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(SlackSink)
