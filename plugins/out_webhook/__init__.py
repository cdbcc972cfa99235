"""Built-in sink ``webhook``: generic JSON POST with optional HMAC signature."""

from agent.sdk import Register, TypeRef, hookimpl


@hookimpl
def register_sinks(register: Register) -> None:
    register(TypeRef("webhook", "plugins.out_webhook.sink:WebhookSink"))
