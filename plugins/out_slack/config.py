"""Options of the ``slack`` sink (incoming webhook, Block Kit)."""

from __future__ import annotations

from typing import Any

from agent.sdk import DIGEST_SCHEMA, PROXY_SCHEMA, TLS_SCHEMA, tls_check, url_check

__all__ = ["CONFIG_SCHEMA", "BATCH_DEFAULTS", "check_config"]

#: One event per message unless digest mode is on (see agent.sdk.digest_batching).
BATCH_DEFAULTS = {"max_events": 1, "max_wait_s": 0.0}

CONFIG_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "required": True, "check_with": url_check,
            "meta": {"description": "Incoming webhook URL (https://hooks.slack.com/services/...); it embeds a key, so it is never logged. Normally ${SLACK_WEBHOOK_URL}."}},
    "digest": DIGEST_SCHEMA,
    "tls": TLS_SCHEMA,
    "proxy": PROXY_SCHEMA,
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks; reads ``config`` only (the sink makes the batch follow the digest window)."""
    return tls_check(config.get("tls") or {}, server=False)
