"""Egress proxy settings of HTTP sinks: the ``proxy:`` block, and which proxy a URL takes.

Every HTTP sink (``splunk_hec``, ``slack``, ``teams``, ``webhook``, ``sentinel``,
``secops``) declares ``proxy: PROXY_SCHEMA``; ``agent.proxy`` is the default of every
sink that does not set its own block. HTTPS goes through the proxy with ``CONNECT``
(the TLS session is end to end with the destination), plain HTTP is forwarded.

The service's environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) is ignored
unless ``from_env: true``: a variable set for some other program must not silently
reroute security events. Proxy credentials are secrets: they travel only in the
``Proxy-Authorization`` header and never appear in a reason, log line or API answer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import quote, urlsplit
from agent.sdk.describe import describe

__all__ = ["PROXY_SCHEMA", "ProxySettings", "proxy_url_check"]



def proxy_url_check(field: str, value: object, error: Callable[[str, str], None]) -> None:
    """cerberus ``check_with``: ``http://host:port`` or ``https://host:port``, credentials apart."""
    if value is None:
        return
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        error(field, "expected http://host:port (or https://) of the proxy")
    elif "@" in parts.netloc:
        error(field, "put the proxy's credentials in proxy.username and proxy.password, not in the URL")
    elif parts.path not in ("", "/") or parts.query:
        error(field, "a proxy URL is scheme://host:port without a path")


PROXY_SCHEMA: dict[str, Any] = {
    "type": "dict", "default": {},
    "meta": describe("Egress proxy (HTTP CONNECT for https:// destinations). A sink's own block replaces agent.proxy; "
               "proxy: {} sends directly."),
    "schema": {
        "url": {"type": "string", "nullable": True, "default": None, "check_with": proxy_url_check,
                "meta": describe("Proxy address, http://proxy.example:3128; unset sends directly (unless from_env).")},
        "username": {"type": "string", "nullable": True, "default": None,
                     "meta": describe("User name for the proxy's Basic authentication (Proxy-Authorization).")},
        "password": {"type": "string", "nullable": True, "default": None,
                     "meta": describe("Password for the proxy; normally ${PROXY_PASSWORD}. Never logged.")},
        "no_proxy": {"type": "list", "default": [], "schema": {"type": "string", "empty": False},
                     "meta": describe("Destinations reached directly: host names (a leading dot or none matches subdomains "
                                "too), IP addresses or CIDR ranges, host:port.")},
        "from_env": {"type": "boolean", "default": False,
                     "meta": describe("Take the proxy from HTTPS_PROXY / HTTP_PROXY / NO_PROXY of the agent's environment "
                                "when url is unset. Off by default so an inherited variable never reroutes events.")},
    },
}


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """A validated ``proxy`` block, resolved against the environment once.

    :ivar http: proxy for ``http://`` destinations (or ``None``).
    :ivar https: proxy for ``https://`` destinations (or ``None``).
    :ivar no_proxy: bypass rules (see :meth:`bypass`).
    :ivar username: proxy user, or ``None``.
    :ivar password: proxy password, or ``None``.
    """

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_config(cls, block: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None) -> "ProxySettings":
        """Resolve a ``proxy`` block; ``environ`` is read only when ``from_env`` is true."""
        block = block or {}
        url, user, password = block.get("url"), block.get("username"), block.get("password")
        no_proxy = tuple(block.get("no_proxy") or ())
        if url:
            return cls(url, url, no_proxy, user, password)
        if block.get("from_env") and environ is not None:
            env = {k.lower(): v for k, v in environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
            extra = tuple(p.strip() for p in env.get("no_proxy", "").split(",") if p.strip())
            return cls(env.get("http_proxy") or None, env.get("https_proxy") or env.get("http_proxy") or None,
                       no_proxy + extra, user, password)
        return cls(no_proxy=no_proxy)

    @property
    def enabled(self) -> bool:
        return bool(self.http or self.https)

    def secrets(self) -> list[str]:
        """Texts to redact: the password and any credentials an environment URL carried."""
        out = [self.password] if self.password else []
        for url in (self.http, self.https):
            parts = urlsplit(url or "")
            if parts.password:
                out.append(parts.password)
        return out

    def for_url(self, url: str) -> dict[str, str]:
        """The ``proxies`` mapping requests takes for ``url``: empty when it goes directly."""
        parts = urlsplit(url)
        proxy = self.https if parts.scheme == "https" else self.http
        if not proxy or self.bypass(parts.hostname or "", parts.port):
            return {}
        return {parts.scheme: self._with_credentials(proxy)}

    def bypass(self, host: str, port: int | None) -> bool:
        """True when ``host`` matches a ``no_proxy`` entry (``*`` matches everything)."""
        host = host.lower().strip("[]")
        for rule in self.no_proxy:
            rule = rule.lower().strip()
            if rule == "*":
                return True
            rule_host, _, rule_port = rule.rpartition(":") if rule.count(":") == 1 else (rule, "", "")
            if rule_port and (not rule_port.isdigit() or port is None or int(rule_port) != port):
                continue
            rule_host = rule_host.strip("[]")
            if _in_network(host, rule_host) or host == rule_host.lstrip(".") or host.endswith("." + rule_host.lstrip(".")):
                return True
        return False

    def _with_credentials(self, proxy: str) -> str:
        if not self.username:
            return proxy
        parts = urlsplit(proxy)
        userinfo = quote(self.username, safe="") + ":" + quote(self.password or "", safe="")
        return f"{parts.scheme}://{userinfo}@{parts.netloc.rsplit('@', 1)[-1]}"


def _in_network(host: str, rule: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
        return address in ipaddress.ip_network(rule, strict=False)
    except ValueError:
        return False
