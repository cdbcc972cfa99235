"""Warnings about listeners reachable beyond loopback without a secret (``siemrelay validate``).

Not errors: an agent on a collector host must listen on its LAN address, and the
operator may firewall the port. But the admin API can replay dead letters and read
every event, and an HTTP path without authentication lets anyone who reaches the port
inject events a SOC will trust, so ``validate`` names each such listener with its
file, line and key, and says what to set.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from agent.config.validate import AgentConfig
from agent.sdk.net import parse_address

__all__ = ["is_loopback", "exposure_warnings"]

_AUTH_KEYS = ("hmac", "bearer", "header", "query_secret")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address literal or name) is only reachable from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name (or 0.0.0.0-like wildcard spelled otherwise): assume reachable


def _host(address: object) -> str | None:
    try:
        return parse_address(str(address))[0]
    except (ValueError, TypeError):
        return None


def exposure_warnings(cfg: AgentConfig) -> list[str]:
    """One line per listener beyond loopback that the admin token or no secret at all protects."""
    smap = cfg.smap
    out: list[str] = []
    admin = cfg.agent.get("admin") or {}
    host = _host(admin.get("address"))
    if admin.get("enabled") and host is not None and not is_loopback(host):
        tls = admin.get("tls") or {}
        how = "over TLS" if tls.get("enabled") or tls.get("cert_file") else "in clear text (no tls)"
        out.append(str(smap.problem(("agent", "admin", "address"),
                                    f"the admin API listens beyond loopback ({host}), {how}: whoever reaches the port "
                                    "with a token can replay dead letters, re-enable sinks and read every event; "
                                    "prefer 127.0.0.1 (a reverse proxy or SSH tunnel for remote use) or firewall the port")))
    for name, (ct, conf) in cfg.sources.items():
        if ct.name != "http" or not conf.get("enabled", True):
            continue
        host = _host(conf.get("address"))
        if host is None or is_loopback(host):
            continue
        if (conf.get("tls") or {}).get("ca_file"):
            continue  # client certificates are required on every path
        for path, spec in (conf.get("paths") or {}).items():
            auth = spec.get("auth") or {}
            if not any(auth.get(k) for k in _AUTH_KEYS):
                out.append(str(smap.problem(("sources", name, "paths", path, "auth"),
                                            f"path {path} takes events from anyone who reaches {host} (no authentication): "
                                            "set auth.hmac, auth.bearer, auth.header or auth.query_secret, "
                                            "or listen on 127.0.0.1")))
    return out
