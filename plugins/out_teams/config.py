"""Options of the ``teams`` sink (Teams incoming webhook: Workflows or legacy connector URL)."""

from __future__ import annotations

from typing import Any

from agent.sdk.httpclient import url_check
from agent.sdk.proxy import PROXY_SCHEMA
from agent.sdk.tls import TLS_SCHEMA, tls_check
from plugins.out_slack.digest import DIGEST_SCHEMA, apply_digest_batching

__all__ = ["CONFIG_SCHEMA", "BATCH_DEFAULTS", "check_config"]

BATCH_DEFAULTS = {"max_events": 1, "max_wait_s": 0.0}

CONFIG_SCHEMA: dict[str, Any] = {
    "url": {"type": "string", "required": True, "check_with": url_check,
            "meta": {"description": "Webhook URL: a Workflows (Power Automate) URL or a legacy connector URL (…webhook.office.com/…); it embeds a key and is never logged."}},
    "digest": DIGEST_SCHEMA,
    "tls": TLS_SCHEMA,
    "proxy": PROXY_SCHEMA,
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks; also makes the batch follow the digest window."""
    apply_digest_batching(config, BATCH_DEFAULTS)
    return tls_check(config.get("tls") or {}, server=False)
