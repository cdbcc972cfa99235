"""The ``agent.admin`` configuration block (cerberus rules, each key with a default and a description)."""

from __future__ import annotations

from typing import Any

from agent.sdk.net import ADDRESS_RULES
from agent.sdk.tls import TLS_SCHEMA
from agent.sdk.describe import describe as _d  # the one description helper, short at the many call sites

__all__ = ["ADMIN_SCHEMA"]



ADMIN_SCHEMA: dict[str, Any] = {
    "type": "dict", "default": {},
    "meta": _d("The admin HTTP API, Prometheus metrics and status page (`siemrelay sinks`, `top`, `tap` use it)."),
    "schema": {
        "enabled": {"type": "boolean", "default": False,
                    "meta": _d("Serve the admin API. Off unless enabled; the packaged configuration enables it on loopback.")},
        "address": {**ADDRESS_RULES, "default": "127.0.0.1:8081",
                    "meta": _d("host:port to listen on; keep it on loopback unless tls is set and the port is firewalled.")},
        "token": {"type": "string", "default": "",
                  "meta": _d("Admin token (all endpoints, including test, enable and replay). Empty: a random token is "
                             "generated once into <state_dir>/admin.token (mode 0600) and reused.")},
        "read_token": {"type": "string", "default": "",
                       "meta": _d("Read-only token: every GET (status, metrics, history, dead letters), no changes (403). "
                                  "Empty: no read-only token.")},
        "max_connections": {"type": "integer", "default": 32, "min": 1, "max": 1024,
                            "meta": _d("Concurrent requests served (live taps count); more get 503.")},
        "quiet_after_s": {"type": "number", "default": 900, "min": 1,
                          "meta": _d("The status page flags a running source that received nothing for this many seconds "
                                     "as quiet (a webhook that stopped arriving).")},
        "tls": {**TLS_SCHEMA, "meta": _d("Serve HTTPS with cert_file/key_file (and require client certificates when ca_file is set).")},
    },
}
