"""Options of the ``slack`` sink (incoming webhook, Block Kit)."""

from __future__ import annotations

from typing import Any

from agent.sdk.httpclient import url_check
from agent.sdk.proxy import PROXY_SCHEMA
from agent.sdk.tls import TLS_SCHEMA, tls_check
from plugins.out_slack.digest import DIGEST_SCHEMA, apply_digest_batching

__all__ = ["CONFIG_SCHEMA", "BATCH_DEFAULTS", "check_config"]

#: One event per message unless digest mode is on (see apply_digest_batching).
BATCH_DEFAULTS = {"max_events": 1, "max_wait_s": 0.0}

CONFIG_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "required": True, "check_with": url_check,
            "meta": {"description": "Incoming webhook URL (https://hooks.slack.com/services/...); it embeds a key, so it is never logged. Normally ${SLACK_WEBHOOK_URL}."}},
    "digest": DIGEST_SCHEMA,
    "tls": TLS_SCHEMA,
    "proxy": PROXY_SCHEMA,
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks; also makes the batch follow the digest window (see docs/sinks.md)."""
    apply_digest_batching(config, BATCH_DEFAULTS)
    return tls_check(config.get("tls") or {}, server=False)
