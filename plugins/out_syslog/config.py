"""Options of the ``syslog`` sink (RFC 5424 over UDP, TCP, TLS, or to a file)."""

from __future__ import annotations

import re
from typing import Any

from agent.sdk.net import ADDRESS_RULES
from agent.sdk.render import SCHEMA_RULES
from agent.sdk import FACILITIES, TEMPLATE_CHECK, describe, optional_address, socket_checks
from agent.sdk.tls import TLS_SCHEMA

__all__ = ["CONFIG_SCHEMA", "DEFAULT_SD_FIELDS", "check_config"]



#: SD-PARAM name → dotted path in the native event. Empty values are left out.
DEFAULT_SD_FIELDS: dict[str, str] = {
    "id": "id", "source": "source", "type": "type", "vendor_type": "vendor_type", "severity": "severity",
    "score": "score", "finding_id": "finding.id", "category": "finding.category", "asset": "asset.name",
    "repository": "repository.name", "url": "links.vendor",
}

_SD_NAME = re.compile(r'^[!#-<>-\\^-~]{1,32}$')  # PRINTUSASCII except '=', ' ', ']', '"'
_SD_ID = re.compile(r'^[!#-<>-\\^-~]{1,32}$')

CONFIG_SCHEMA: dict[str, Any] = {
    "address": {**ADDRESS_RULES, "check_with": optional_address, "nullable": True, "default": None,
                "meta": {**describe("Collector as host:port ([::1]:6514 for IPv6); required unless transport is file."),
                         "example": "siem.example.com:6514"}},
    "transport": {"type": "string", "default": "tcp", "allowed": ["tcp", "udp", "tls", "file"],
                  "meta": describe("tcp (RFC 6587), udp (RFC 5426, one message per datagram), tls (RFC 5425) or file (one message per line at path).")},
    "framing": {"type": "string", "default": "octet", "allowed": ["octet", "lf"],
                "meta": describe("TCP/TLS framing: octet (RFC 6587 octet counting, 'LEN SP MSG', as RFC 5425 requires) or lf (newline-terminated).")},
    "path": {"type": "string", "nullable": True, "default": None,
             "meta": describe("File the messages are appended to, one per line (transport: file).")},
    "tls": TLS_SCHEMA,
    "app_name": {"type": "string", "default": "siemrelay", "check_with": TEMPLATE_CHECK,
                 "meta": describe("APP-NAME (48 printable ASCII characters at most); a template ({{ source }}) takes it from the event.")},
    "hostname": {"type": "string", "nullable": True, "default": None, "check_with": TEMPLATE_CHECK,
                 "meta": describe("HOSTNAME; default this machine's name; a template takes it from the event (e.g. {{ asset.host }}).")},
    "procid": {"type": "string", "default": "-", "check_with": TEMPLATE_CHECK,
               "meta": describe("PROCID; '-' for none; a template is allowed.")},
    "msgid": {"type": "string", "default": "{{ type }}", "check_with": TEMPLATE_CHECK,
              "meta": describe("MSGID (32 printable ASCII characters at most); default the event type, e.g. finding.new; "
                         "a template is allowed.")},
    "facility": {"type": "string", "default": "local0", "allowed": list(FACILITIES),
                 "meta": describe("Syslog facility; the severity comes from the event (critical→crit, high→err, medium→warning, low→notice, info→info).")},
    "sd_id": {"type": "string", "default": "siemrelay@32473",
              "meta": describe("SD-ID of the structured-data element (name@private-enterprise-number); empty for no structured data.")},
    "sd_fields": {"type": "dict", "default": dict(DEFAULT_SD_FIELDS), "keysrules": {"type": "string"},
                  "valuesrules": {"type": "string"},
                  "meta": describe("SD-PARAM name → event field (dotted path) written in the structured data; empty values are left out.")},
    "msg_format": {"type": "string", "default": "json", "allowed": ["json", "text"],
                   "meta": describe("MSG: json (the event in the form 'schema' names) or text (text_template).")},
    "schema": SCHEMA_RULES,
    "text_template": {"type": "string", "default": "[{{ severity }}] {{ title }}", "check_with": TEMPLATE_CHECK,
                      "meta": describe("MSG for msg_format: text; {{ dotted.path }} placeholders are event fields.")},
    "max_message_bytes": {"type": "integer", "nullable": True, "default": None, "min": 480,
                          "meta": describe("Longest message in bytes; a longer MSG is cut, ends with '…[truncated]' and truncated=\"<original size>\" is added to the structured data. Default 2048 on UDP (RFC 5426), 65536 on TCP/TLS (syslog-ng's default log_msg_size), unlimited for a file.")},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks of a ``syslog`` section (run by ``siemrelay validate``)."""
    problems = socket_checks(config)
    sd_id = config.get("sd_id") or ""
    if sd_id:
        if not _SD_ID.match(sd_id):
            problems.append(f"sd_id {sd_id!r} is not a valid SD-ID (1-32 printable ASCII characters, no space, '=', ']' or '\"')")
        elif "@" not in sd_id:
            problems.append(f"sd_id {sd_id!r} needs an enterprise number (name@12345): names without '@' are reserved to IANA")
    for name in (config.get("sd_fields") or {}):
        if not _SD_NAME.match(name):
            problems.append(f"sd_fields: {name!r} is not a valid SD-PARAM name (1-32 printable ASCII characters, no space, '=', ']' or '\"')")
    return problems
