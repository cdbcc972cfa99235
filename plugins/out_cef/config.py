"""Options of the ``cef`` sink (ArcSight CEF or QRadar LEEF 2.0 over syslog or to a file)."""

from __future__ import annotations

from typing import Any

from agent import __version__
from agent.net import ADDRESS_RULES
from agent.tls import TLS_SCHEMA
from plugins.out_syslog.config import optional_address, socket_checks
from plugins.out_syslog.header import FACILITIES

__all__ = ["CONFIG_SCHEMA", "check_config"]


def _d(text: str) -> dict[str, str]:
    return {"description": text}


CONFIG_SCHEMA: dict[str, Any] = {
    "address": {**ADDRESS_RULES, "check_with": optional_address, "nullable": True, "default": None,
                "meta": _d("Collector (ArcSight SmartConnector, QRadar) as host:port; required unless transport is file.")},
    "transport": {"type": "string", "default": "tcp", "allowed": ["tcp", "udp", "tls", "file"],
                  "meta": _d("tcp, udp (one message per datagram), tls, or file (one message per line at path).")},
    "framing": {"type": "string", "default": "lf", "allowed": ["octet", "lf"],
                "meta": _d("TCP/TLS framing: lf (newline-terminated, what ArcSight and QRadar expect) or octet (RFC 6587 octet counting).")},
    "path": {"type": "string", "nullable": True, "default": None,
             "meta": _d("File the messages are appended to, one per line (transport: file).")},
    "tls": TLS_SCHEMA,
    "header": {"type": "string", "default": "rfc5424", "allowed": ["rfc5424", "rfc3164", "none"],
               "meta": _d("Syslog header before the CEF/LEEF text: rfc5424, rfc3164 (BSD, 'Mmm dd hh:mm:ss host'), or none (bare CEF lines).")},
    "format": {"type": "string", "default": "cef", "allowed": ["cef", "leef"],
               "meta": _d("cef (ArcSight Common Event Format 0) or leef (IBM QRadar LEEF 2.0, tab-delimited).")},
    "device_vendor": {"type": "string", "default": "siemrelay", "empty": False,
                      "meta": _d("Device Vendor header field (63 characters at most).")},
    "device_product": {"type": "string", "default": "siemrelay", "empty": False,
                       "meta": _d("Device Product header field (63 characters at most).")},
    "device_version": {"type": "string", "default": __version__, "empty": False,
                       "meta": _d("Device Version header field (31 characters at most).")},
    "app_name": {"type": "string", "default": "siemrelay", "meta": _d("APP-NAME of the rfc5424 header.")},
    "hostname": {"type": "string", "nullable": True, "default": None,
                 "meta": _d("HOSTNAME of the syslog header; default this machine's name.")},
    "facility": {"type": "string", "default": "local0", "allowed": list(FACILITIES),
                 "meta": _d("Syslog facility of the header; the syslog severity comes from the event.")},
    "max_message_bytes": {"type": "integer", "nullable": True, "default": None, "min": 480,
                          "meta": _d("Longest message in bytes; a longer one loses the end of msg first, then is cut; the cut ends with '…[truncated]'. Default 2048 on UDP, 65536 on TCP/TLS (syslog-ng's default log_msg_size), unlimited for a file.")},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks of a ``cef`` section."""
    return socket_checks(config)
