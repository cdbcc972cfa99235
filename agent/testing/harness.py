"""The harness the sink conformance checks run against: one sink class, its receivers and configs.

It sits below both :mod:`agent.testing.checks` (every check takes a :class:`SinkHarness`)
and :mod:`agent.testing.conformance` (which lists the checks and runs them), so neither
of those imports the other's module at run time; :mod:`agent.testing.conformance`
re-exports everything here under its old names.
"""

from __future__ import annotations

import secrets as _secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from agent.config.loader import SourceMap
from agent.config.schema import SINK_CORE_SCHEMA, compose_sink_schema, validate_section
from agent.errors import Problem
from agent.sdk.secrets import secret_keys, secret_values
from agent.sdk.sink import Sink, SpooledEvent
from agent.testing import CapturedLogs, make_sink_context
from agent.testing.receivers import HTTPReceiver, Reply, TCPReceiver

__all__ = ["ConformanceError", "NotApplicable", "TIMEOUT_S", "Endpoint", "SinkHarness", "transport_of",
           "fallback_config"]


class ConformanceError(AssertionError):
    """The sink breaks the contract; the message says where and how to fix it."""


class NotApplicable(Exception):
    """The check does not apply to this sink (its transport, or no opt-in)."""


#: ``retry.timeout_s`` the suite configures (the smallest the core schema allows, at
#: least half a second); a stalled peer must give RETRY after about this long.
TIMEOUT_S = max(0.5, float(SINK_CORE_SCHEMA["retry"]["schema"]["timeout_s"].get("min", 0.5)))


@dataclass(frozen=True)
class Endpoint:
    """Where a sink under test should deliver: handed to ``conformance_config``.

    :ivar transport: ``http``, ``tcp``, ``file`` or ``none``.
    :ivar host: ``127.0.0.1``.
    :ivar port: the receiver's port (or a closed one, for the refused case).
    :ivar path: a file path inside a fresh temporary directory.
    :ivar workdir: that directory (for CA files, state, ...).
    :ivar secret: a canary (32 letters and digits); put it in every secret key of the config.
    """

    transport: str
    host: str
    port: int
    path: str
    workdir: str
    secret: str

    @property
    def address(self) -> str:
        """``host:port``, for socket sinks."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """An ``http://`` URL on the receiver."""
        return f"http://{self.address}/conformance"

    @property
    def secret_url(self) -> str:
        """A URL whose path embeds the canary, for sinks whose URL is the secret (chat webhooks)."""
        return f"http://{self.address}/conformance/{self.secret}"


def transport_of(cls: type) -> str:
    """The transport the suite drives: declared, or inferred from the schema's keys."""
    declared = getattr(cls, "conformance_transport", None)
    if declared:
        return str(declared)
    keys = set(getattr(cls, "CONFIG_SCHEMA", None) or {})
    for key, transport in (("url", "http"), ("address", "tcp"), ("path", "file")):
        if key in keys:
            return transport
    return "none"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once this socket is closed


class SinkHarness:
    """One sink class under test: receivers, configs, instances, captured logs, secrets.

    Everything it starts is stopped by :meth:`close` (sinks closed, receivers stopped).
    """

    def __init__(self, sink_class: type[Sink], workdir: Path | str) -> None:
        self.cls = sink_class
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secret = "cnry" + _secrets.token_hex(14)  # 32 letters and digits, like most API keys
        self.transport = transport_of(sink_class)
        self.opted_in = callable(getattr(sink_class, "conformance_config", None))
        self.logs = CapturedLogs().start()
        self.secrets: set[str] = {self.secret}
        self.texts: list[str] = []  # every reason and repr seen, for the secrets check
        self._http: HTTPReceiver | None = None
        self._tcp: TCPReceiver | None = None
        self._sinks: list[Sink] = []
        self._n = 0

    # ------------------------------------------------------------ receivers
    @property
    def http(self) -> HTTPReceiver:
        if self._http is None:
            self._http = HTTPReceiver(default=self.ok_reply).start()
        return self._http

    @property
    def tcp(self) -> TCPReceiver:
        if self._tcp is None:
            self._tcp = TCPReceiver().start()
        return self._tcp

    @property
    def ok_reply(self) -> Reply:
        """The answer meaning success: the class's ``conformance_ok_reply`` (a Reply or its fields as a dict)."""
        declared = getattr(self.cls, "conformance_ok_reply", None)
        if isinstance(declared, Reply):
            return declared
        if isinstance(declared, dict):
            return Reply(**declared)
        return Reply(200, {"status": "ok"})

    def endpoint(self, *, closed: bool = False) -> Endpoint:
        """An endpoint on the live receiver for this transport, or on a closed port."""
        if closed:
            port = _closed_port()
        elif self.transport == "http":
            port = self.http.port
        elif self.transport == "tcp":
            port = self.tcp.port
        else:
            port = _closed_port()
        self._n += 1
        return Endpoint(self.transport, "127.0.0.1", port, str(self.workdir / f"out-{self._n}.log"),
                        str(self.workdir), self.secret)

    # ------------------------------------------------------------ configs and sinks
    def require_opt_in(self) -> None:
        if not self.opted_in:
            raise NotApplicable(f"{self.cls.__name__} does not define conformance_config(endpoint): "
                                "the suite cannot point it at a receiver, so outcome classification is not checked")

    def require_transport(self, *transports: str) -> None:
        if self.transport not in transports:
            raise NotApplicable(f"transport {self.transport!r}: this check applies to {', '.join(transports)} sinks")

    def raw_config(self, endpoint: Endpoint) -> dict[str, Any]:
        """The sink's own keys for ``endpoint``: its ``conformance_config`` or a fallback from the schema."""
        make = self.cls.conformance_config
        if self.opted_in and make is not None:
            cfg = dict(make(endpoint))
        else:
            cfg = fallback_config(self.cls, endpoint)
        retry = dict(cfg.get("retry") or {})
        retry["timeout_s"] = TIMEOUT_S
        cfg["retry"] = retry
        cfg["type"] = self.cls.type_name
        return cfg

    def config(self, endpoint: Endpoint) -> dict[str, Any]:
        """Validated and normalised exactly as the agent does; ConformanceError listing problems."""
        raw = self.raw_config(endpoint)
        problems: list[Problem] = []
        schema = compose_sink_schema(dict(getattr(self.cls, "CONFIG_SCHEMA", {}) or {}), getattr(self.cls, "DEFAULTS", {}))
        keys = secret_keys(self.cls)
        doc = validate_section(raw, schema, SourceMap(default_file="<conformance>"), ("sinks", "conformance"),
                               problems, keys)
        if doc is not None:
            check = getattr(self.cls, "check_config", None)
            for msg in (check(doc) or []) if check else []:
                problems.append(Problem("<conformance>", 0, "sinks.conformance", str(msg)))
        if doc is None or problems:
            origin = "conformance_config(endpoint)" if self.opted_in else "the fallback config built from the schema"
            raise ConformanceError(f"{origin} does not validate:\n" + "\n".join(f"  - {p}" for p in problems))
        self.secrets |= secret_values(doc, keys)
        return self.cls.derive_config(doc)

    def build(self, endpoint: Endpoint | None = None) -> Sink:
        """Construct the sink for ``endpoint`` (default: the live receiver) with a captured-log context."""
        endpoint = endpoint or self.endpoint()
        doc = self.config(endpoint)
        ctx = make_sink_context("conformance", state_dir=self.workdir / "state", secrets=self.secrets, logs=self.logs)
        try:
            sink = self.cls("conformance", doc, ctx)
        except Exception as exc:
            raise ConformanceError(f"{self.cls.__name__}(name, config, ctx) raised {type(exc).__name__}: {exc} "
                                   "for a configuration that validates") from exc
        self._sinks.append(sink)
        self.texts += [repr(sink), str(sink)]
        return sink

    def send(self, sink: Sink, batch: Sequence[SpooledEvent]) -> Any:
        """Call ``send`` and insist on a Delivery; remember its reason for the secrets check."""
        from agent.sdk.outcome import Delivery

        try:
            outcome = sink.send(batch)
        except Exception as exc:
            raise ConformanceError(f"send() raised {type(exc).__name__}: {exc}; a sink returns Delivery.retry(...) "
                                   "or Delivery.reject(...) for remote failures and never raises") from exc
        if not isinstance(outcome, Delivery):
            raise ConformanceError(f"send() returned {type(outcome).__name__}, not agent.sdk.Delivery")
        self.texts.append(outcome.reason)
        return outcome

    def close(self) -> None:
        for sink in self._sinks:
            try:
                sink.close()
            except Exception:
                pass
        self._sinks.clear()
        for receiver in (self._http, self._tcp):
            if receiver is not None:
                receiver.stop()
        self._http = self._tcp = None
        self.logs.stop()


def fallback_config(cls: type, endpoint: Endpoint) -> dict[str, Any]:
    """A best-effort config from the schema for sinks without ``conformance_config``.

    ``url``/``address``/``path`` point at the endpoint; other required keys get the
    canary (secret keys), their first allowed value, their minimum, or a neutral value.
    """
    schema = dict(getattr(cls, "CONFIG_SCHEMA", None) or {})
    keys = secret_keys(cls)
    cfg: dict[str, Any] = {}
    for key, rules in schema.items():
        if not isinstance(rules, dict):
            continue
        if key == "url":
            cfg[key] = endpoint.secret_url if key in keys else endpoint.url
        elif key == "address":
            cfg[key] = endpoint.address
        elif key == "path":
            cfg[key] = endpoint.path
        elif key == "transport" and endpoint.transport in (rules.get("allowed") or ()):
            cfg[key] = endpoint.transport
        elif rules.get("required"):
            cfg[key] = _neutral(key, rules, keys, endpoint)
    return cfg


def _neutral(key: str, rules: dict[str, Any], secret_keys: frozenset[str], endpoint: Endpoint) -> Any:
    if rules.get("allowed"):
        return rules["allowed"][0]
    kind = rules.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "string":
        return endpoint.secret if key in secret_keys else "conformance"
    if kind in ("integer", "number"):
        return rules.get("min", 1)
    return {"boolean": False, "list": [], "dict": {}}.get(str(kind), "conformance")
