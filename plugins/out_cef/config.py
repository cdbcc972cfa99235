"""Options of the ``cef`` sink (ArcSight CEF or QRadar LEEF 2.0 over syslog or to a file)."""

from __future__ import annotations

import difflib
import re
from typing import Any

from agent.sdk.net import ADDRESS_RULES
from agent.sdk import (AGENT_VERSION, CEF_KEYS, CUSTOM_KEYS, FACILITIES, LEEF_COMPUTED_KEYS, LEEF_CUSTOM_KEY, LEEF_KEYS,
                       is_cef_key, optional_address, socket_checks)
from agent.sdk import describe as _d
from agent.sdk.tls import TLS_SCHEMA

__all__ = ["CONFIG_SCHEMA", "check_config"]



CONFIG_SCHEMA: dict[str, Any] = {
    "address": {**ADDRESS_RULES, "check_with": optional_address, "nullable": True, "default": None,
                "meta": {**_d("Collector (ArcSight SmartConnector, QRadar) as host:port; required unless transport is file."),
                         "example": "arcsight.example.com:514"}},
    "transport": {"type": "string", "default": "tcp", "allowed": ["tcp", "udp", "tls", "file"],
                  "meta": _d("tcp, udp (one message per datagram), tls, or file (one message per line at path).")},
    "framing": {"type": "string", "default": "lf", "allowed": ["octet", "lf"],
                "meta": _d("TCP/TLS framing: lf (newline-terminated, what ArcSight and QRadar expect) or octet (RFC 6587 octet counting).")},
    "path": {"type": "string", "nullable": True, "default": None,
             "meta": _d("File the messages are appended to, one per line (transport: file).")},
    "tls": TLS_SCHEMA,
    "header": {"type": "string", "default": "rfc5424", "allowed": ["rfc5424", "rfc3164", "none"],
               "meta": _d("Syslog header before the CEF/LEEF text: rfc5424, rfc3164 (BSD, 'Mmm dd hh:mm:ss host'), or none (bare CEF lines).")},
    "format": {"type": "string", "default": "cef", "allowed": ["cef", "leef", "leef1"],
               "meta": _d("cef (ArcSight Common Event Format 0), leef (IBM QRadar LEEF 2.0, tab-delimited, x09 declared) or leef1 (LEEF 1.0); LEEF uses QRadar's predefined keys (sev, cat, devTime/devTimeFormat, src, dst, srcPort, dstPort, proto, usrName, identSrc) where the event has the value.")},
    "device_vendor": {"type": "string", "default": "siemrelay", "empty": False,
                      "meta": _d("Device Vendor header field (63 characters at most).")},
    "device_product": {"type": "string", "default": "siemrelay", "empty": False,
                       "meta": _d("Device Product header field (63 characters at most).")},
    "device_version": {"type": "string", "default": AGENT_VERSION, "empty": False,
                       "meta": _d("Device Version header field (31 characters at most).")},
    "header_from_event": {"type": "boolean", "default": True,
                          "meta": _d("Take Device Vendor/Product/Version from the event's device and Device Event Class ID/Name from its signature when it has them (a relayed Suricata alert stays Suricata's); the device_* options only for events without one.")},
    "extensions": {"type": "dict", "nullable": True, "default": None, "keysrules": {"type": "string"},
                   "valuesrules": {"type": "string", "empty": False},
                   "meta": _d("CEF extension key → Event path, e.g. {src: network.src_ip, act: action.original}; replaces the default mapping of docs/sinks.md. Keys must be in the ArcSight CEF dictionary.")},
    "custom_strings": {"type": "dict", "default": {}, "maxlength": 6, "keysrules": {"type": "string", "empty": False},
                       "valuesrules": {"type": "string", "empty": False},
                       "meta": _d("Label → Event path, written as cs1..cs6 with csNLabel, e.g. {Repository: repository.name}.")},
    "leef_keys": {"type": "dict", "nullable": True, "default": None, "keysrules": {"type": "string"},
                  "valuesrules": {"type": "string", "empty": False},
                  "meta": _d("LEEF only: QRadar predefined LEEF key → Event path, e.g. {src: network.src_ip, usrName: actor.user, cat: finding.category}; replaces the default mapping of docs/sinks.md. Keys must be QRadar's predefined LEEF attributes; sev and devTime/devTimeFormat are always written.")},
    "leef_custom_keys": {"type": "dict", "nullable": True, "default": None, "keysrules": {"type": "string"},
                         "valuesrules": {"type": "string", "empty": False},
                         "meta": _d("LEEF only: custom attribute name → Event path for what QRadar has no predefined key for, e.g. {findingId: finding.id, repository: repository.name}; replaces the default custom keys of docs/sinks.md. Each needs a QRadar custom property.")},
    "relay_extensions": {"type": "boolean", "default": True,
                         "meta": _d("An event decoded from CEF is written with exactly the extension keys and values it arrived with, so a CEF relay loses nothing.")},
    "app_name": {"type": "string", "default": "siemrelay", "meta": _d("APP-NAME of the rfc5424 header.")},
    "hostname": {"type": "string", "nullable": True, "default": None,
                 "meta": _d("HOSTNAME of the syslog header; default this machine's name.")},
    "facility": {"type": "string", "default": "local0", "allowed": list(FACILITIES),
                 "meta": _d("Syslog facility of the header; the syslog severity comes from the event.")},
    "max_message_bytes": {"type": "integer", "nullable": True, "default": None, "min": 480,
                          "meta": _d("Longest message in bytes; a longer one loses the end of msg first, then is cut; the cut ends with '…[truncated]'. Default 2048 on UDP, 65536 on TCP/TLS (syslog-ng's default log_msg_size), unlimited for a file.")},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks of a ``cef`` section: the socket options, and extension keys known to CEF."""
    errors = socket_checks(config)
    for key in config.get("extensions") or {}:
        if not is_cef_key(key):
            near = difflib.get_close_matches(key, sorted(CEF_KEYS), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            errors.append(f"extensions.{key}: not a key of the ArcSight CEF dictionary{hint}")
        elif key in CUSTOM_KEYS or key.endswith("Label"):
            errors.append(f"extensions.{key}: custom strings and labels are set with custom_strings")
    return errors + leef_checks(config)


def leef_checks(config: dict[str, Any]) -> list[str]:
    """``leef_keys`` names QRadar's predefined attributes only, ``leef_custom_keys`` anything else."""
    errors: list[str] = []
    for key in config.get("leef_keys") or {}:
        if key in LEEF_COMPUTED_KEYS:
            errors.append(f"leef_keys.{key}: written by the sink itself (sev from the score, devTime from the time)")
        elif key not in LEEF_KEYS:
            near = difflib.get_close_matches(key, sorted(LEEF_KEYS), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            errors.append(f"leef_keys.{key}: not one of QRadar's predefined LEEF attributes{hint}; "
                          "custom attributes go in leef_custom_keys")
    for key in config.get("leef_custom_keys") or {}:
        if key in LEEF_KEYS:
            errors.append(f"leef_custom_keys.{key}: a QRadar predefined LEEF attribute; map it in leef_keys")
        elif not re.match(LEEF_CUSTOM_KEY, key):
            errors.append(f"leef_custom_keys.{key}: a LEEF attribute name is a letter, then letters, digits, "
                          "'_', '-' or '.' (64 characters at most)")
    return errors
