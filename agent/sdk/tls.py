"""TLS contexts from the ``tls:`` block every plugin shares.

``tls: {ca_file, cert_file, key_file, verify: true, server_name}``: clients verify the
peer against ``ca_file`` (or the system store) and its name against ``server_name``
(or the host they connect to); servers present ``cert_file``/``key_file`` and, when
``ca_file`` is set and ``verify`` is true, require client certificates signed by it.

``ssl`` is imported when a context is first built: the configuration schema needs
:data:`TLS_SCHEMA`, and a process that never opens a TLS connection (the preparing
child) then does not load OpenSSL (about 4 MB of its RSS, docs/hot-path.md section 16).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

__all__ = ["TLS_SCHEMA", "client_context", "server_context", "tls_check"]

TLS_SCHEMA: dict[str, Any] = {
    "type": "dict", "default": {}, "meta": {"description": "TLS settings."},
    "schema": {
        "enabled": {"type": "boolean", "default": False,
                    "meta": {"description": "Use TLS (implied by transport: tls or an https:// URL)."}},
        "ca_file": {"type": "string", "nullable": True, "default": None,
                    "meta": {"description": "PEM bundle of CAs to trust (clients) or to verify client certificates with (servers)."}},
        "cert_file": {"type": "string", "nullable": True, "default": None,
                      "meta": {"description": "PEM certificate presented to the peer."}},
        "key_file": {"type": "string", "nullable": True, "default": None,
                     "meta": {"description": "PEM private key of cert_file."}},
        "verify": {"type": "boolean", "default": True,
                   "meta": {"description": "Verify the peer's certificate (clients) / require client certificates when ca_file is set (servers)."}},
        "server_name": {"type": "string", "nullable": True, "default": None,
                        "meta": {"description": "Name expected in the server's certificate (default: the host connected to)."}},
        "min_version": {"type": "string", "default": "1.2", "allowed": ["1.2", "1.3"],
                        "meta": {"description": "Lowest TLS version accepted."}},
    },
}


def _min_version(ctx: ssl.SSLContext, tls: dict[str, Any]) -> None:
    import ssl

    ctx.minimum_version = ssl.TLSVersion.TLSv1_3 if tls.get("min_version") == "1.3" else ssl.TLSVersion.TLSv1_2


def client_context(tls: dict[str, Any]) -> ssl.SSLContext:
    """Build a client context; raises ``OSError``/``ssl.SSLError`` for unreadable files."""
    import ssl

    ctx = ssl.create_default_context(cafile=tls.get("ca_file") or None)
    _min_version(ctx, tls)
    if not tls.get("verify", True):
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.get("cert_file"):
        ctx.load_cert_chain(tls["cert_file"], tls.get("key_file") or None)
    return ctx


def server_context(tls: dict[str, Any]) -> ssl.SSLContext:
    """Build a server context; client certificates are required when ``ca_file`` is set."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _min_version(ctx, tls)
    ctx.load_cert_chain(tls["cert_file"], tls.get("key_file") or None)
    if tls.get("ca_file") and tls.get("verify", True):
        ctx.load_verify_locations(cafile=tls["ca_file"])
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def tls_check(tls: dict[str, Any], *, server: bool) -> list[str]:
    """Cross-field checks for ``check_config``: missing or unreadable files."""
    import os

    problems = []
    if server and not tls.get("cert_file"):
        problems.append("tls.cert_file is required for a TLS listener")
    if tls.get("key_file") and not tls.get("cert_file"):
        problems.append("tls.key_file is set but tls.cert_file is not")
    for key in ("ca_file", "cert_file", "key_file"):
        path = tls.get(key)
        if path and not os.access(path, os.R_OK):
            problems.append(f"tls.{key}: cannot read {path}")
    return problems
