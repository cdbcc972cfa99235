"""Options of the ``syslog`` source."""

from __future__ import annotations

from typing import Any

from agent.sdk.net import ADDRESS_RULES
from agent.sdk.tls import TLS_SCHEMA, tls_check
from agent.sdk import describe



CONFIG_SCHEMA: dict[str, Any] = {
    "address": {**ADDRESS_RULES, "default": "127.0.0.1:5514",
                "meta": describe("Listen address, host:port ([::1]:5514 for IPv6); port 514 needs CAP_NET_BIND_SERVICE.")},
    "transport": {"type": "string", "default": "tcp", "allowed": ["udp", "tcp", "tls"],
                  "meta": describe("udp (one message per datagram), tcp, or tls (RFC 5425; needs tls.cert_file and tls.key_file).")},
    "tls": {**TLS_SCHEMA, "meta": describe("Server certificate and, with ca_file, required client certificates (transport: tls).")},
    "framing": {"type": "string", "default": "auto", "allowed": ["auto", "octet", "lf"],
                "meta": describe("TCP/TLS framing: auto tells RFC 6587 octet counting from LF framing per message; octet or lf forces one.")},
    "decoder": {"type": ["string", "dict"], "default": "syslog",
                "meta": describe("Decoder of each message (syslog parses RFC 5424/3164 and CEF inside; json, cef, raw, ... also work).")},
    "max_message_bytes": {"type": "integer", "default": 65536, "min": 480, "max": 16 * 1024 * 1024,
                          "meta": describe("Longer messages are cut to this size and flagged `truncated` (RFC 5425 asks for at least 2048).")},
    "max_connections": {"type": "integer", "default": 512, "min": 1,
                        "meta": describe("Most TCP/TLS connections at once; further ones are closed at once and counted.")},
    "idle_timeout_s": {"type": "number", "default": 300.0, "min": 0.1,
                       "meta": describe("A TCP/TLS connection that sends nothing for this long is closed.")},
    "handshake_timeout_s": {"type": "number", "default": 10.0, "min": 0.1,
                            "meta": describe("Longest TLS handshake; a client that stalls in it is disconnected.")},
    "batch_max_messages": {"type": "integer", "default": 1000, "min": 1,
                           "meta": describe("Most messages handed to the spool in one commit (per connection, or per UDP burst).")},
    "batches_in_flight": {"type": "integer", "default": 2, "min": 1, "max": 64,
                          "meta": describe("TCP/TLS: batches of a connection handed to the spool whose commit may still be "
                                           "running while the next one is read and decoded; more keeps the decoder busy "
                                           "during commits, and widens what a crash of the agent loses of a connection "
                                           "(read, not yet committed: at most batches_in_flight + 1 batches).")},
    "receive_buffer_bytes": {"type": "integer", "default": 0, "min": 0,
                             "meta": describe("SO_RCVBUF of the UDP socket (larger absorbs bursts); 0 keeps the system default.")},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """TLS needs a certificate; tls settings without transport: tls are a mistake worth naming."""
    tls = config.get("tls") or {}
    if config.get("transport") == "tls":
        return tls_check(tls, server=True)
    if tls.get("enabled"):
        return ["tls.enabled is set but transport is not tls (use transport: tls)"]
    return []
