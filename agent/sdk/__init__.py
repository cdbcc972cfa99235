"""The plugin SDK: the one import surface for siemrelay plugin authors.

Everything a source, decoder or sink plugin needs (the base classes, the outcome a
sink returns, the event model, the shared HTTP client (with its egress proxy), the OAuth token providers, TLS and address helpers, the
JSON renderers and the normalisation helpers) is importable from here, and so is what the
built-in plugins share: the socket sink base with the syslog header and framing, the chat
webhook sink base with the digest, the NATS options and connection, the JSON lines encoder,
and the CEF and LEEF parsers with their mappings to the model. Plugins,
built-in or third-party, import ``agent.sdk`` and nothing deeper, so the engine's
internals can move without breaking them.

Every name (but two, below) is imported when a plugin first asks for it (PEP 562): ``from agent.sdk import
Sink`` imports :mod:`agent.sdk.sink` and what it needs, not the whole SDK. A process that
only decodes and routes (the preparing child) then carries no TLS, HTTP, NATS or OTLP
modules, and ``siemrelay validate`` starts sooner (docs/hot-path.md, section 16).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from agent import version as _version

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and readers (``X as X``: re-exported)
    from agent.sdk.cefdict import (CEF_HOMES as CEF_HOMES, CEF_KEYS as CEF_KEYS, CUSTOM_KEYS as CUSTOM_KEYS,
                                   is_cef_key as is_cef_key)
    from agent.sdk.leefdict import (LEEF_COMPUTED_KEYS as LEEF_COMPUTED_KEYS, LEEF_CUSTOM_KEY as LEEF_CUSTOM_KEY,
                                    LEEF_KEYS as LEEF_KEYS)
    from agent.sdk.decoder import (PLUGIN_API_VERSION as PLUGIN_API_VERSION, DecodeError as DecodeError,
                                   Decoder as Decoder, PartialDecodeError as PartialDecodeError,
                                   parse_json as parse_json)
    from agent.sdk.outcome import (Delivery as Delivery, Status as Status, classify_http as classify_http,
                                   parse_retry_after as parse_retry_after)
    from agent.sdk.hookspecs import Register as Register, TypeRef as TypeRef, hookimpl as hookimpl
    from agent.sdk.fswatch import DirectoryWatcher as DirectoryWatcher, FsChange as FsChange, FsEvent as FsEvent
    from agent.sdk.logwindow import Admission as Admission, LogWindow as LogWindow
    from agent.model import (GROUPS as GROUPS, SEVERITY_LABEL_OF_ID as SEVERITY_LABEL_OF_ID,
                             Event as Event, Severity as Severity, content_id as content_id,
                             format_time as format_time, parse_time as parse_time,
                             score_from_severity as score_from_severity, severity_from_name as severity_from_name,
                             severity_from_score as severity_from_score, utcnow as utcnow)
    from agent.sdk.proxy import PROXY_SCHEMA as PROXY_SCHEMA, ProxySettings as ProxySettings
    from agent.sdk.listeners import Listeners as Listeners
    from agent.sdk.net import (ADDRESS_RULES as ADDRESS_RULES, IMDS_ENDPOINT as IMDS_ENDPOINT,
                               address_check as address_check, family_of as family_of,
                               parse_address as parse_address, url_check as url_check)
    from agent.sdk.compression import gzip_bytes as gzip_bytes
    from agent.sdk.otlp import (OTLP_EXTRA_HINT as OTLP_EXTRA_HINT, OtlpModules as OtlpModules,
                                attributes_dict as attributes_dict, flatten as flatten,
                                from_any_value as from_any_value, key_values as key_values,
                                ocsf_severity as ocsf_severity, otlp_missing as otlp_missing,
                                otlp_modules as otlp_modules, otlp_severity as otlp_severity,
                                to_any_value as to_any_value)
    from agent.sdk.record import RawRecord as RawRecord
    from agent.sdk.running import RunningAgent as RunningAgent
    from agent.sdk.render import (SCHEMA_RULES as SCHEMA_RULES, epoch_ms as epoch_ms, expand as expand,
                                  lookup as lookup, render as render, render_json as render_json,
                                  render_schema as render_schema)
    from agent.sdk.sink import Sink as Sink, SinkContext as SinkContext, SpooledEvent as SpooledEvent
    from agent.sdk.sinkschema import compose_sink_schema as compose_sink_schema
    from agent.sdk.source import (DecoderBuilder as DecoderBuilder, PendingSubmit as PendingSubmit, Source as Source,
                                  SourceContext as SourceContext, Submitted as Submitted,
                                  SubmitStatus as SubmitStatus)
    from agent.sdk.template import (DATE_PARTS as DATE_PARTS, TEMPLATE_CHECK as TEMPLATE_CHECK, Template as Template,
                                    TemplateCheck as TemplateCheck, TemplateError as TemplateError,
                                    event_time as event_time, field_text as field_text,
                                    parse_template as parse_template)
    from agent.sdk.tls import (TLS_SCHEMA as TLS_SCHEMA, client_context as client_context,
                               server_context as server_context, tls_check as tls_check)
    from agent.sdk.wire_text import (TRUNCATION_MARKER as TRUNCATION_MARKER,
                                     cef_extension_value as cef_extension_value,
                                     cef_header_field as cef_header_field, escape_json_c1 as escape_json_c1,
                                     leef_header_field as leef_header_field, leef_value as leef_value,
                                     neutralise as neutralise, sd_param_value as sd_param_value,
                                     syslog_msg_text as syslog_msg_text)
    from agent.sdk.json_lines import encode_lines as encode_lines
    from agent.sdk.describe import describe as describe
    from agent.sdk.secrets import (ALWAYS_SECRET_KEYS as ALWAYS_SECRET_KEYS, secret_keys as secret_keys,
                                   secret_values as secret_values)
    from agent.sdk.syslog_header import (FACILITIES as FACILITIES, frame_lf as frame_lf, frame_octet as frame_octet,
                                         header_field as header_field, hostname_field as hostname_field, pri as pri,
                                         rfc3164_header as rfc3164_header, rfc5424_header as rfc5424_header,
                                         syslog_severity as syslog_severity, truncate_utf8 as truncate_utf8)
    from agent.sdk.socket_sink import (SocketSink as SocketSink, optional_address as optional_address,
                                       socket_checks as socket_checks)
    from agent.sdk.digest import (DIGEST_SCHEMA as DIGEST_SCHEMA, MARKERS as MARKERS,
                                  SEVERITY_ORDER as SEVERITY_ORDER, digest_batching as digest_batching,
                                  severity_counts as severity_counts, summary_line as summary_line,
                                  top_events as top_events, truncate as truncate)
    from agent.sdk.nats_options import (CONNECTION_SCHEMA, NAME_RE, SECRET_KEYS, STREAM_SCHEMA, connection_checks,
                                        default_subjects, stream_checks)
    from agent.sdk.cef_parser import find_cef as find_cef, parse_cef as parse_cef
    from agent.sdk.cef_event import (cef_severity as cef_severity, cef_time as cef_time,
                                     event_from_cef as event_from_cef)
    from agent.sdk.leef_parser import LeefRecord as LeefRecord, find_leef as find_leef, parse_leef as parse_leef
    from agent.sdk.leef_event import event_from_leef as event_from_leef, leef_time as leef_time
    from agent.sdk.vendor_names import (DETECTIFY_LEGACY_TYPES as DETECTIFY_LEGACY_TYPES,
                                        ESCAPE_RESOURCES as ESCAPE_RESOURCES,
                                        PENTEST_EVENT_TYPES as PENTEST_EVENT_TYPES)
    from agent.sdk.json_types import ConfigDict as ConfigDict, JsonObject as JsonObject, JsonValue as JsonValue
    from agent.sdk.endpoint import ConformanceEndpoint as ConformanceEndpoint
    from agent.sdk.chat_sink import ChatWebhookSink as ChatWebhookSink, chat_outcome as chat_outcome
    from agent.sdk.cloudapi import (api_error_text as api_error_text, api_outcome as api_outcome,
                                    oversized as oversized)
    from agent.sdk.http_server import DrainingHandler as DrainingHandler, DrainingHTTPServer as DrainingHTTPServer
    from agent.sdk.httpclient import HttpClient as HttpClient, ProxyRefused as ProxyRefused
    from agent.sdk.nats_connection import ConnectFailed, NatsConnection as NatsConnection
    from agent.sdk.oauth import (AccessToken as AccessToken, ClientCredentials as ClientCredentials,
                                 ManagedIdentity as ManagedIdentity, TokenFetcher as TokenFetcher,
                                 TokenProvider as TokenProvider, bearer_request as bearer_request,
                                 token_outcome as token_outcome)
    from agent.sdk.oauth_google import (GoogleServiceAccount as GoogleServiceAccount,
                                        load_service_account as load_service_account)
    # the SDK's names for what its NATS modules call more briefly (assigned, so exported as these)
    NATS_CONNECTION_SCHEMA = CONNECTION_SCHEMA
    NATS_NAME_RE = NAME_RE
    NATS_SECRET_KEYS = SECRET_KEYS
    NATS_STREAM_SCHEMA = STREAM_SCHEMA
    nats_connection_checks = connection_checks
    nats_default_subjects = default_subjects
    nats_stream_checks = stream_checks
    NatsConnectFailed = ConnectFailed

#: the agent's version, for plugins that send it (a user agent, a CEF header)
AGENT_VERSION: str = _version.__version__

#: module → the names it exports here (``public=own`` where the SDK renames one)
_EXPORTS: dict[str, tuple[str, ...]] = {
    "agent.sdk.cefdict": ("CEF_HOMES", "CEF_KEYS", "CUSTOM_KEYS", "is_cef_key"),
    "agent.sdk.leefdict": ("LEEF_COMPUTED_KEYS", "LEEF_CUSTOM_KEY", "LEEF_KEYS"),
    "agent.sdk.decoder": ("PLUGIN_API_VERSION", "DecodeError", "Decoder", "PartialDecodeError", "parse_json"),
    "agent.sdk.outcome": ("Delivery", "Status", "classify_http", "parse_retry_after"),
    "agent.sdk.hookspecs": ("Register", "TypeRef", "hookimpl"),
    "agent.sdk.fswatch": ("DirectoryWatcher", "FsChange", "FsEvent"),
    "agent.sdk.logwindow": ("Admission", "LogWindow"),
    "agent.model": ("GROUPS", "SEVERITY_LABEL_OF_ID", "Event", "Severity", "content_id", "format_time", "parse_time",
                    "score_from_severity", "severity_from_name", "severity_from_score", "utcnow"),
    "agent.sdk.proxy": ("PROXY_SCHEMA", "ProxySettings"),
    "agent.sdk.listeners": ("Listeners",),
    "agent.sdk.net": ("ADDRESS_RULES", "IMDS_ENDPOINT", "address_check", "family_of", "parse_address", "url_check"),
    "agent.sdk.compression": ("gzip_bytes",),
    "agent.sdk.otlp": ("OTLP_EXTRA_HINT", "OtlpModules", "attributes_dict", "flatten", "from_any_value",
                       "key_values", "ocsf_severity", "otlp_missing", "otlp_modules", "otlp_severity",
                       "to_any_value"),
    "agent.sdk.record": ("RawRecord",),
    "agent.sdk.running": ("RunningAgent",),
    "agent.sdk.render": ("SCHEMA_RULES", "epoch_ms", "expand", "lookup", "render", "render_json", "render_schema"),
    "agent.sdk.sink": ("Sink", "SinkContext", "SpooledEvent"),
    "agent.sdk.sinkschema": ("compose_sink_schema",),
    "agent.sdk.source": ("DecoderBuilder", "PendingSubmit", "Source", "SourceContext", "Submitted", "SubmitStatus"),
    "agent.sdk.template": ("DATE_PARTS", "TEMPLATE_CHECK", "Template", "TemplateCheck", "TemplateError",
                           "event_time", "field_text", "parse_template"),
    "agent.sdk.tls": ("TLS_SCHEMA", "client_context", "server_context", "tls_check"),
    "agent.sdk.wire_text": ("TRUNCATION_MARKER", "cef_extension_value", "cef_header_field", "escape_json_c1",
                            "leef_header_field", "leef_value", "neutralise", "sd_param_value", "syslog_msg_text"),
    "agent.sdk.json_lines": ("encode_lines",),
    "agent.sdk.describe": ("describe",),
    "agent.sdk.secrets": ("ALWAYS_SECRET_KEYS", "secret_keys", "secret_values"),
    "agent.sdk.syslog_header": ("FACILITIES", "frame_lf", "frame_octet", "header_field", "hostname_field", "pri",
                                "rfc3164_header", "rfc5424_header", "syslog_severity", "truncate_utf8"),
    "agent.sdk.socket_sink": ("SocketSink", "optional_address", "socket_checks"),
    "agent.sdk.digest": ("DIGEST_SCHEMA", "MARKERS", "SEVERITY_ORDER", "digest_batching", "severity_counts",
                         "summary_line", "top_events", "truncate"),
    "agent.sdk.nats_options": ("NATS_CONNECTION_SCHEMA=CONNECTION_SCHEMA", "NATS_NAME_RE=NAME_RE",
                               "NATS_SECRET_KEYS=SECRET_KEYS", "NATS_STREAM_SCHEMA=STREAM_SCHEMA",
                               "nats_connection_checks=connection_checks", "nats_default_subjects=default_subjects",
                               "nats_stream_checks=stream_checks"),
    "agent.sdk.cef_parser": ("find_cef", "parse_cef"),
    "agent.sdk.cef_event": ("cef_severity", "cef_time", "event_from_cef"),
    "agent.sdk.leef_parser": ("LeefRecord", "find_leef", "parse_leef"),
    "agent.sdk.leef_event": ("event_from_leef", "leef_time"),
    "agent.sdk.vendor_names": ("DETECTIFY_LEGACY_TYPES", "ESCAPE_RESOURCES", "PENTEST_EVENT_TYPES"),
    "agent.sdk.json_types": ("ConfigDict", "JsonObject", "JsonValue"),
    "agent.sdk.endpoint": ("ConformanceEndpoint",),
    "agent.sdk.chat_sink": ("ChatWebhookSink", "chat_outcome"),
    "agent.sdk.cloudapi": ("api_error_text", "api_outcome", "oversized"),
    "agent.sdk.http_server": ("DrainingHandler", "DrainingHTTPServer"),
    "agent.sdk.httpclient": ("HttpClient", "ProxyRefused"),
    "agent.sdk.nats_connection": ("NatsConnectFailed=ConnectFailed", "NatsConnection"),
    "agent.sdk.oauth": ("AccessToken", "ClientCredentials", "ManagedIdentity", "TokenFetcher", "TokenProvider",
                        "bearer_request", "token_outcome"),
    "agent.sdk.oauth_google": ("GoogleServiceAccount", "load_service_account"),
}

#: public name → (module, name in that module)
_LAZY: dict[str, tuple[str, str]] = {
    public: (module, own)
    for module, names in _EXPORTS.items()
    for public, _, own in (name.partition("=") if "=" in name else (name, "", name) for name in names)
}

# A name that is also its submodule's name (``render``, ``describe``) is bound now: the
# first import of ``agent.sdk.render`` sets the package's ``render`` to the module, which
# would hide the function from ``__getattr__`` below.
for _public, (_module, _own) in _LAZY.items():
    if _module.rpartition(".")[2] == _public:
        globals()[_public] = getattr(importlib.import_module(_module), _own)


def __getattr__(name: str) -> object:
    """Import a name's module on first use (and keep the name, so it happens once)."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'agent.sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["AGENT_VERSION"] + list(_LAZY)
