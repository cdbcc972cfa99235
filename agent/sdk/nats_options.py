"""Connection and stream options shared by NATS plugins (the built-in ``nats`` sink and source).

Both plugins speak to the same cluster with the same credentials, so they share one
schema for servers, TLS and authentication, one schema for ``create_stream``, the
checks across those keys, and the pure translation of a validated section into
``nats.connect()`` arguments and a JetStream ``StreamConfig``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agent.sdk.template import parse_template
from agent.sdk.tls import TLS_SCHEMA, tls_check
from agent.sdk.describe import describe

__all__ = ["CONNECTION_SCHEMA", "STREAM_SCHEMA", "SECRET_KEYS", "connection_checks", "stream_checks",
           "server_urls", "display_url", "connect_options", "stream_config", "NAME_RE"]



#: JetStream stream and consumer names: no white space, dots, wildcards or path separators.
NAME_RE = r"^[A-Za-z0-9_-]+$"

#: Config keys whose values are never logged (the nkey seed and creds are files, read by the client).
SECRET_KEYS: frozenset[str] = frozenset({"token", "password"})

CONNECTION_SCHEMA: dict[str, Any] = {
    "servers": {"type": "list", "default": [], "schema": {"type": "string", "regex": r"^(nats|tls)://.+"},
                "meta": describe("Seed URLs of the NATS cluster (nats://host:4222 or tls://host:4222); the client learns "
                           "the other members and fails over between them. Default: url, else nats://127.0.0.1:4222.")},
    "url": {"type": "string", "nullable": True, "default": None, "regex": r"^(nats|tls)://.+",
            "meta": describe("One server URL, shorthand for servers: [url].")},
    "client_name": {"type": "string", "nullable": True, "default": None,
                    "meta": describe("Connection name shown in the server's monitoring (default: siemrelay-<section name>).")},
    "token": {"type": "string", "nullable": True, "default": None,
              "meta": describe("Authentication token (normally ${NATS_TOKEN}); never logged.")},
    "user": {"type": "string", "nullable": True, "default": None, "meta": describe("User name, with password.")},
    "password": {"type": "string", "nullable": True, "default": None,
                 "meta": describe("Password of user (normally ${NATS_PASSWORD}); never logged.")},
    "nkey_seed_file": {"type": "string", "nullable": True, "default": None,
                       "meta": describe("File holding the NKey seed (SU...) to sign the server's nonce with.")},
    "creds_file": {"type": "string", "nullable": True, "default": None,
                   "meta": describe("Decentralised-auth credentials file (user JWT and NKey seed), as made by nsc.")},
    "tls": TLS_SCHEMA,
    "connect_timeout_s": {"type": "number", "default": 5.0, "min": 0.1, "max": 120,
                          "meta": describe("How long one connection attempt to one server may take.")},
    "reconnect_wait_s": {"type": "number", "default": 1.0, "min": 0.05, "max": 60,
                         "meta": describe("Pause between reconnection attempts to the same server after a connection is lost.")},
}

STREAM_SCHEMA: dict[str, Any] = {
    "type": "dict", "nullable": True, "default": None,
    "meta": describe("Create the stream if it does not exist (null: never create; the stream must exist). "
               "An existing stream is never changed; a differing one is reported in the log."),
    "schema": {
        "subjects": {"type": "list", "default": [], "schema": {"type": "string", "empty": False},
                     "meta": describe("Subjects the stream stores (default: the configured subject, with placeholders as wildcards).")},
        "replicas": {"type": "integer", "default": 1, "min": 1, "max": 5,
                     "meta": describe("Copies kept on different servers; 3 survives the loss of one server.")},
        "duplicate_window_s": {"type": "number", "default": 120.0, "min": 0,
                               "meta": describe("The server drops a message whose Nats-Msg-Id (the event id) it stored within "
                                          "this many seconds: an edge retrying a batch does not duplicate events "
                                          "(at most max_age_s).")},
        "max_age_s": {"type": "number", "default": 0, "min": 0,
                      "meta": describe("Messages older than this are discarded (0: kept until another limit applies).")},
        "max_bytes": {"type": "integer", "default": -1, "min": -1,
                      "meta": describe("Most bytes the stream keeps (-1: no limit).")},
        "max_msgs": {"type": "integer", "default": -1, "min": -1,
                     "meta": describe("Most messages the stream keeps (-1: no limit).")},
        "max_msg_bytes": {"type": "integer", "default": -1, "min": -1,
                          "meta": describe("Largest message accepted (-1: the server's max_payload).")},
        "storage": {"type": "string", "default": "file", "allowed": ["file", "memory"],
                    "meta": describe("file survives a server restart; memory does not.")},
        "retention": {"type": "string", "default": "limits", "allowed": ["limits", "workqueue", "interest"],
                      "meta": describe("limits: keep by age/size (replayable); workqueue: delete once the relay pool acked; "
                                 "interest: delete once every consumer acked.")},
        "discard": {"type": "string", "default": "old", "allowed": ["old", "new"],
                    "meta": describe("At a limit, drop the oldest messages (old) or refuse new ones (new: edges keep them "
                               "spooled and retry).")},
    },
}


def server_urls(config: dict[str, Any]) -> list[str]:
    """The servers to connect to, in the order given."""
    servers = list(config.get("servers") or [])
    if config.get("url"):
        servers.insert(0, config["url"])
    return servers or ["nats://127.0.0.1:4222"]


def display_url(url: str) -> str:
    """A URL fit for a log line: credentials embedded in it are replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


def connection_checks(config: dict[str, Any]) -> list[str]:
    """Checks across the connection keys (one authentication method, files readable)."""
    problems: list[str] = []
    methods = [k for k in ("token", "user", "nkey_seed_file", "creds_file") if config.get(k)]
    if len(methods) > 1:
        problems.append(f"choose one authentication method, found {' and '.join(methods)}")
    if config.get("user") and not config.get("password"):
        problems.append("user is set but password is not")
    if config.get("password") and not config.get("user"):
        problems.append("password is set but user is not")
    for key in ("nkey_seed_file", "creds_file"):
        path = config.get(key)
        if path and not os.access(path, os.R_OK):
            problems.append(f"{key}: cannot read {path}")
    tls = config.get("tls") or {}
    if tls.get("enabled") or any(u.startswith("tls://") for u in server_urls(config)):
        problems.extend(tls_check(tls, server=False))
    return problems


def stream_checks(config: dict[str, Any]) -> list[str]:
    """Checks of ``stream`` and ``create_stream`` common to both plugins."""
    problems: list[str] = []
    spec = config.get("create_stream")
    if spec is not None and not config.get("stream"):
        problems.append("create_stream needs stream: the name of the stream to create")
    return problems


def connect_options(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Translate a validated section into ``nats.connect()`` keyword arguments.

    Pure apart from building the TLS context (which reads the certificate files).
    Reconnection is unbounded: an agent never gives up on its cluster, its spool
    holds events meanwhile.
    """
    opts: dict[str, Any] = {
        "servers": server_urls(config),
        "name": config.get("client_name") or f"siemrelay-{name}",
        "connect_timeout": float(config["connect_timeout_s"]),
        "reconnect_time_wait": float(config["reconnect_wait_s"]),
        "max_reconnect_attempts": -1,
        "allow_reconnect": True,
    }
    if config.get("token"):
        opts["token"] = config["token"]
    if config.get("user"):
        opts["user"] = config["user"]
        opts["password"] = config.get("password") or ""
    if config.get("nkey_seed_file"):
        opts["nkeys_seed"] = config["nkey_seed_file"]
    if config.get("creds_file"):
        opts["user_credentials"] = config["creds_file"]
    tls = config.get("tls") or {}
    if tls.get("enabled") or any(u.startswith("tls://") for u in opts["servers"]):
        from agent.sdk.tls import client_context

        opts["tls"] = client_context(tls)
        if tls.get("server_name"):
            opts["tls_hostname"] = tls["server_name"]
    return opts




def default_subjects(subject: str | None) -> list[str]:
    """The subjects a created stream stores when none are given: ``a.{{ source }}`` → ``a.*``
    (a token with a placeholder anywhere in it becomes the one-token wildcard)."""
    if not subject:
        return []
    marked = "".join(p if isinstance(p, str) else "\x00" for p in parse_template(subject).parts)
    return [".".join("*" if "\x00" in token else token for token in marked.split("."))]


def stream_config(name: str, spec: dict[str, Any], subject: str | None = None) -> Any:
    """Build the JetStream ``StreamConfig`` that ``create_stream`` describes."""
    from nats.js import api

    subjects = list(spec.get("subjects") or default_subjects(subject))
    max_age = float(spec.get("max_age_s") or 0)
    window = float(spec.get("duplicate_window_s", 120.0))
    return api.StreamConfig(
        name=name,
        subjects=subjects,
        num_replicas=int(spec.get("replicas", 1)),
        duplicate_window=min(window, max_age) if max_age else window,
        max_age=max_age,
        max_bytes=int(spec.get("max_bytes", -1)),
        max_msgs=int(spec.get("max_msgs", -1)),
        max_msg_size=int(spec.get("max_msg_bytes", -1)),
        storage=api.StorageType(spec.get("storage", "file")),
        retention=api.RetentionPolicy(spec.get("retention", "limits")),
        discard=api.DiscardPolicy(spec.get("discard", "old")),
    )
