"""Built-in sink ``webhook``: generic JSON POST with optional HMAC signature."""

from agent.sdk.hookspecs import hookimpl
from plugins.out_webhook.sink import WebhookSink


@hookimpl
def register_sinks(register):  # type: ignore[no-untyped-def]
    register(WebhookSink)
