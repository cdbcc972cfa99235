"""The plugin SDK: the one import surface for siemrelay plugin authors.

Everything a source, decoder or sink plugin needs (the base classes, the outcome a
sink returns, the event model, the shared HTTP client (with its egress proxy), the OAuth token providers, TLS and address helpers, the
JSON renderers and the normalisation helpers) is importable from here, and so is what the
built-in plugins share: the socket sink base with the syslog header and framing, the chat
webhook sink base with the digest, the NATS options and connection, the JSON lines encoder,
and the CEF and LEEF parsers with their mappings to the model. Plugins,
built-in or third-party, import ``agent.sdk`` and nothing deeper, so the engine's
internals can move without breaking them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agent.version import __version__ as AGENT_VERSION
from agent.sdk.cefdict import CEF_HOMES, CEF_KEYS, CUSTOM_KEYS, is_cef_key
from agent.sdk.leefdict import LEEF_COMPUTED_KEYS, LEEF_CUSTOM_KEY, LEEF_KEYS
from agent.sdk.decoder import PLUGIN_API_VERSION, DecodeError, Decoder, PartialDecodeError, parse_json
from agent.sdk.outcome import Delivery, Status, classify_http, parse_retry_after
from agent.sdk.hookspecs import Register, hookimpl
from agent.sdk.fswatch import DirectoryWatcher, FsChange, FsEvent

from agent.sdk.logwindow import Admission, LogWindow
from agent.model import (Event, Severity, content_id, format_time, parse_time, score_from_severity,
                         severity_from_name, severity_from_score, utcnow)
from agent.sdk.proxy import PROXY_SCHEMA, ProxySettings
from agent.sdk.listeners import Listeners
from agent.sdk.net import ADDRESS_RULES, IMDS_ENDPOINT, address_check, family_of, parse_address, url_check
from agent.sdk.compression import gzip_bytes
from agent.sdk.otlp import (OTLP_EXTRA_HINT, OtlpModules, attributes_dict, flatten, from_any_value, key_values, ocsf_severity, otlp_missing, otlp_modules, otlp_severity, to_any_value)
from agent.sdk.record import RawRecord
from agent.sdk.running import RunningAgent
from agent.sdk.render import SCHEMA_RULES, epoch_ms, expand, lookup, render, render_json, render_schema
from agent.sdk.sink import Sink, SinkContext, SpooledEvent
from agent.sdk.sinkschema import compose_sink_schema
from agent.sdk.source import DecoderBuilder, PendingSubmit, Source, SourceContext, Submitted, SubmitStatus
from agent.sdk.template import DATE_PARTS, TEMPLATE_CHECK, Template, TemplateCheck, TemplateError, event_time, field_text, parse_template
from agent.sdk.tls import TLS_SCHEMA, client_context, server_context, tls_check
from agent.sdk.wire_text import (TRUNCATION_MARKER, cef_extension_value, cef_header_field, escape_json_c1, leef_header_field, leef_value, neutralise, sd_param_value, syslog_msg_text)
from agent.sdk.json_lines import encode_lines
from agent.sdk.describe import describe
from agent.sdk.secrets import ALWAYS_SECRET_KEYS, secret_keys, secret_values
from agent.sdk.syslog_header import (FACILITIES, frame_lf, frame_octet, header_field, hostname_field, pri, rfc3164_header, rfc5424_header,
                                     syslog_severity, truncate_utf8)
from agent.sdk.socket_sink import SocketSink, optional_address, socket_checks
from agent.sdk.digest import (DIGEST_SCHEMA, MARKERS, SEVERITY_ORDER, digest_batching, severity_counts, summary_line, top_events,
                              truncate)
from agent.sdk.nats_options import (CONNECTION_SCHEMA as NATS_CONNECTION_SCHEMA, NAME_RE as NATS_NAME_RE, SECRET_KEYS as NATS_SECRET_KEYS,
                                    STREAM_SCHEMA as NATS_STREAM_SCHEMA, connection_checks as nats_connection_checks,
                                    default_subjects as nats_default_subjects, stream_checks as nats_stream_checks)
from agent.sdk.cef_parser import find_cef, parse_cef
from agent.sdk.cef_event import cef_severity, cef_time, event_from_cef
from agent.sdk.leef_parser import LeefRecord, find_leef, parse_leef
from agent.sdk.leef_event import event_from_leef, leef_time
from agent.sdk.vendor_names import DETECTIFY_LEGACY_TYPES, ESCAPE_RESOURCES, PENTEST_EVENT_TYPES
from agent.sdk.json_types import ConfigDict, JsonObject, JsonValue
from agent.sdk.endpoint import ConformanceEndpoint

if TYPE_CHECKING:  # what the lazy names below are, for type checkers
    from agent.sdk.chat_sink import ChatWebhookSink, chat_outcome
    from agent.sdk.cloudapi import api_error_text, api_outcome, oversized
    from agent.sdk.http_server import DrainingHandler, DrainingHTTPServer
    from agent.sdk.httpclient import HttpClient, ProxyRefused
    from agent.sdk.nats_connection import ConnectFailed as NatsConnectFailed, NatsConnection
    from agent.sdk.oauth import (AccessToken, ClientCredentials, ManagedIdentity, TokenFetcher,
                                 TokenProvider, bearer_request, token_outcome)
    from agent.sdk.oauth_google import GoogleServiceAccount, load_service_account

#: Names whose modules import ``requests``, ``asyncio`` or ``http.server``: imported when a
#: plugin first asks for one. A process that never talks HTTP or NATS (the preparing
#: child, which only decodes and routes) then does not carry them: 14 MB of its RSS and a
#: fifth of a second of its start (docs/hot-path.md). ``from agent.sdk import HttpClient``
#: works as before (PEP 562).
_LAZY: dict[str, tuple[str, str]] = {
    **{name: ("agent.sdk.cloudapi", name) for name in ("api_error_text", "api_outcome", "oversized")},
    **{name: ("agent.sdk.httpclient", name) for name in ("HttpClient", "ProxyRefused")},
    **{name: ("agent.sdk.oauth", name) for name in ("AccessToken", "ClientCredentials", "ManagedIdentity",
                                                     "TokenFetcher", "TokenProvider", "bearer_request", "token_outcome")},
    **{name: ("agent.sdk.oauth_google", name) for name in ("GoogleServiceAccount", "load_service_account")},
    **{name: ("agent.sdk.http_server", name) for name in ("DrainingHandler", "DrainingHTTPServer")},
    **{name: ("agent.sdk.chat_sink", name) for name in ("ChatWebhookSink", "chat_outcome")},
    "NatsConnectFailed": ("agent.sdk.nats_connection", "ConnectFailed"),
    "NatsConnection": ("agent.sdk.nats_connection", "NatsConnection"),
}


def __getattr__(name: str) -> object:
    """Import a lazy name's module on first use (and keep the name, so it happens once)."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'agent.sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


__all__ = [
    "AGENT_VERSION",
    "PLUGIN_API_VERSION", "DecodeError", "Decoder", "PartialDecodeError", "parse_json",
    "CEF_HOMES", "CEF_KEYS", "CUSTOM_KEYS", "is_cef_key", "LEEF_KEYS", "LEEF_COMPUTED_KEYS", "LEEF_CUSTOM_KEY",
    "Delivery", "Status", "classify_http", "parse_retry_after", "hookimpl", "Register",
    "DirectoryWatcher", "FsChange", "FsEvent",
    "HttpClient", "ProxyRefused", "url_check", "PROXY_SCHEMA", "ProxySettings",
    "api_error_text", "api_outcome", "gzip_bytes", "oversized",
    "IMDS_ENDPOINT", "AccessToken", "ClientCredentials", "ManagedIdentity", "TokenFetcher", "TokenProvider",
    "bearer_request", "token_outcome", "GoogleServiceAccount", "load_service_account",
    "Event", "Severity", "content_id", "format_time", "parse_time", "score_from_severity",
    "severity_from_name", "severity_from_score", "utcnow",
    "ADDRESS_RULES", "address_check", "family_of", "parse_address", "RawRecord",
    "SCHEMA_RULES", "epoch_ms", "expand", "lookup", "render", "render_json", "render_schema", "compose_sink_schema",
    "Sink", "SinkContext", "SpooledEvent", "DecoderBuilder", "PendingSubmit", "Source", "SourceContext", "Submitted", "SubmitStatus",
    "TLS_SCHEMA", "client_context", "server_context", "tls_check",
    "OTLP_EXTRA_HINT", "OtlpModules", "attributes_dict", "flatten", "from_any_value", "key_values", "ocsf_severity",
    "otlp_missing", "otlp_modules", "otlp_severity", "to_any_value",
]
__all__ += [
    "encode_lines", "describe", "ALWAYS_SECRET_KEYS", "secret_keys", "secret_values",
    "FACILITIES", "frame_lf", "frame_octet", "header_field", "hostname_field", "pri", "rfc3164_header", "rfc5424_header",
    "syslog_severity", "truncate_utf8", "SocketSink", "optional_address", "socket_checks",
    "DIGEST_SCHEMA", "MARKERS", "SEVERITY_ORDER", "digest_batching", "severity_counts", "summary_line", "top_events",
    "truncate", "ChatWebhookSink", "chat_outcome",
    "NATS_CONNECTION_SCHEMA", "NATS_NAME_RE", "NATS_SECRET_KEYS", "NATS_STREAM_SCHEMA", "nats_connection_checks",
    "nats_default_subjects", "nats_stream_checks", "NatsConnectFailed", "NatsConnection",
    "find_cef", "parse_cef", "cef_severity", "cef_time", "event_from_cef",
]
__all__ += ["RunningAgent"]
__all__ += ["LeefRecord", "find_leef", "parse_leef", "event_from_leef", "leef_time"]
__all__ += ["TRUNCATION_MARKER", "cef_extension_value", "cef_header_field", "escape_json_c1", "leef_header_field", "leef_value", "neutralise", "sd_param_value", "syslog_msg_text"]
__all__ += ["Admission", "LogWindow"]
__all__ += ["DrainingHandler", "DrainingHTTPServer", "Listeners"]
__all__ += ["DATE_PARTS", "TEMPLATE_CHECK", "Template", "TemplateCheck", "TemplateError", "event_time", "field_text", "parse_template"]
__all__ += ["ESCAPE_RESOURCES", "PENTEST_EVENT_TYPES", "DETECTIFY_LEGACY_TYPES"]
__all__ += ["ConfigDict", "JsonObject", "JsonValue", "ConformanceEndpoint"]
