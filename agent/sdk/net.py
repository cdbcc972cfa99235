"""Addresses as users write them: ``host:port``, ``[::1]:port``, and HTTP(S) URLs."""

from __future__ import annotations

import socket
from typing import Callable
from urllib.parse import urlsplit

__all__ = ["parse_address", "ADDRESS_RULES", "url_check", "IMDS_ENDPOINT"]

#: Azure's instance metadata service, where a managed identity gets its tokens (link-local)
IMDS_ENDPOINT = "http://169.254.169.254/metadata/identity/oauth2/token"


def parse_address(text: str) -> tuple[str, int]:
    """Split ``"127.0.0.1:8080"`` or ``"[::1]:8080"`` into host and port.

    :raises ValueError: naming what is wrong.
    """
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"expected host:port (e.g. 127.0.0.1:8080 or [::1]:8080), found {text!r}")
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"expected [ipv6]:port, found {text!r}")
    else:
        host, _, port = text.rpartition(":")
        if ":" in host:
            raise ValueError(f"write IPv6 addresses in brackets ([::1]:8080), found {text!r}")
    if not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise ValueError(f"port must be a number from 0 to 65535, found {port!r} in {text!r}")
    return host or "0.0.0.0", int(port)


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def address_check(field: str, value: str, error) -> None:  # type: ignore[no-untyped-def]
    """cerberus ``check_with`` adapter for address fields."""
    try:
        parse_address(value)
    except ValueError as exc:
        error(field, str(exc))


ADDRESS_RULES = {"type": "string", "check_with": address_check}


def url_check(field: str, value: str, error: Callable[[str, str], None]) -> None:
    """cerberus ``check_with`` for HTTP(S) URLs (names the field, never echoes the URL).

    Here, not beside the HTTP client, so that validating a configuration does not
    import ``requests``.
    """
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        error(field, "expected an http:// or https:// URL")
