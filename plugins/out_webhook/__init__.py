"""Built-in sink ``webhook``: generic JSON POST with optional HMAC signature."""

from agent.sdk import Register, hookimpl
from plugins.out_webhook.sink import WebhookSink


@hookimpl
def register_sinks(register: Register) -> None:
    register(WebhookSink)
