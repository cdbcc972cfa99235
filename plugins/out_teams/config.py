"""Options of the ``teams`` sink (Teams incoming webhook: Workflows or legacy connector URL)."""

from __future__ import annotations

from typing import Any

from agent.sdk import DIGEST_SCHEMA, PROXY_SCHEMA, TLS_SCHEMA, tls_check, url_check

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
    """Cross-field checks; reads ``config`` only (the sink makes the batch follow the digest window)."""
    return tls_check(config.get("tls") or {}, server=False)
