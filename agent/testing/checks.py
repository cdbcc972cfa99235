"""The individual checks of the sink conformance suite (see :mod:`agent.testing.conformance`).

Every check takes a :class:`agent.testing.harness.SinkHarness`, raises
:class:`ConformanceError` with an actionable message when the sink breaks the
contract, and :class:`NotApplicable` when the check does not apply to it. The schema
helpers (:func:`schema_problems`, :func:`default_problems`) are also used by
siemrelay's own tests over every registered type.
"""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence
from unittest import mock

import cerberus

from agent.sdk.decoder import PLUGIN_API_VERSION
from agent.sdk.outcome import Delivery, Status
from agent.model import Event
from agent.testing.receivers import Reply
from agent.config.schema import SINK_CORE_SCHEMA
from agent.sdk.sink import Sink, SpooledEvent
from agent.testing import sample_events, spooled
from agent.testing.harness import TIMEOUT_S, ConformanceError, Endpoint, NotApplicable, SinkHarness

__all__ = ["ConformanceError", "NotApplicable", "schema_problems", "default_problems", "common_default_problems"]


# ----------------------------------------------------------------------------- schema
def schema_problems(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key needs ``meta.description`` and either a ``default`` or ``required: True``."""
    problems: list[str] = []
    for key, rules in (schema or {}).items():
        path = f"{prefix}{key}"
        if not isinstance(rules, dict):
            problems.append(f"{path}: rules must be a mapping, found {type(rules).__name__}")
            continue
        desc = (rules.get("meta") or {}).get("description") if isinstance(rules.get("meta"), dict) else None
        if not isinstance(desc, str) or not desc.strip():
            problems.append(f"{path}: no description (add meta: {{description: ...}})")
        sub = rules.get("schema")
        auto_default = rules.get("type") == "dict" and isinstance(sub, dict)  # the core defaults it to {}
        if rules.get("required") and "default" in rules:
            problems.append(f"{path}: both required and a default; a key is one or the other")
        elif not rules.get("required") and "default" not in rules and "default_setter" not in rules and not auto_default:
            problems.append(f"{path}: neither a default nor required: True")
        if rules.get("type") == "dict" and isinstance(sub, dict):
            problems += schema_problems(sub, path + ".")
        elif isinstance(sub, dict) and sub.get("type") == "dict" and isinstance(sub.get("schema"), dict):
            problems += schema_problems(sub["schema"], path + "[].")
        values = rules.get("valuesrules")
        if isinstance(values, dict) and isinstance(values.get("schema"), dict):
            problems += schema_problems(values["schema"], path + ".*.")
    return problems


def _bare(rules: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rules.items() if k not in ("required", "default", "default_setter")}


def default_problems(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every default must satisfy its own key's rules (type, allowed, min/max, regex...)."""
    problems: list[str] = []
    for key, rules in (schema or {}).items():
        if not isinstance(rules, dict):
            continue
        path = f"{prefix}{key}"
        if "default" in rules:
            v = cerberus.Validator({key: _bare(rules)}, allow_unknown=False)
            if not v.validate({key: rules["default"]}):
                problems.append(f"{path}: the default {rules['default']!r} does not validate: {v.errors.get(key, v.errors)}")
        sub = rules.get("schema")
        if rules.get("type") == "dict" and isinstance(sub, dict):
            problems += default_problems(sub, path + ".")
    return problems


def common_default_problems(cls: type) -> list[str]:
    """``DEFAULTS`` may only name known blocks and keys, with values their rules accept."""
    defaults = getattr(cls, "DEFAULTS", {}) or {}
    if not isinstance(defaults, dict):
        return [f"DEFAULTS must be a mapping of block → {{key: value}}, found {type(defaults).__name__}"]
    own = dict(getattr(cls, "CONFIG_SCHEMA", {}) or {})
    problems = []
    for block, values in defaults.items():
        rules = SINK_CORE_SCHEMA.get(block) or own.get(block)
        sub = rules.get("schema") if isinstance(rules, dict) else None
        if not isinstance(sub, dict):
            blocks = sorted(k for k, r in SINK_CORE_SCHEMA.items() if isinstance(r.get("schema"), dict))
            problems.append(f"DEFAULTS[{block!r}]: not a block of keys (blocks: {', '.join(blocks)})")
            continue
        if not isinstance(values, dict):
            problems.append(f"DEFAULTS[{block!r}] must be a mapping of key → default")
            continue
        for key, value in values.items():
            if key not in sub:
                problems.append(f"DEFAULTS[{block!r}][{key!r}]: unknown key (keys: {', '.join(sorted(sub))})")
                continue
            v = cerberus.Validator({key: _bare(sub[key])})
            if not v.validate({key: value}):
                problems.append(f"DEFAULTS[{block!r}][{key!r}] = {value!r} does not validate: {v.errors[key]}")
    return problems


def _fail_if(problems: list[str], what: str) -> None:
    if problems:
        raise ConformanceError(f"{what}:\n" + "\n".join(f"  - {p}" for p in problems))


def check_declaration(h: SinkHarness) -> None:
    cls = h.cls
    problems = []
    if not (isinstance(cls, type) and issubclass(cls, Sink)):
        raise ConformanceError(f"{cls!r} is not a subclass of agent.sinks.Sink")
    name = getattr(cls, "type_name", None)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        problems.append(f"type_name must be a lower-case snake_case name, found {name!r}")
    desc = getattr(cls, "description", "")
    if not isinstance(desc, str) or not desc.strip() or "\n" in desc.strip():
        problems.append("description must be one non-empty line (shown by `siemrelay plugins`)")
    if getattr(cls, "api_version", None) != PLUGIN_API_VERSION:
        problems.append(f"api_version is {getattr(cls, 'api_version', None)!r}; this siemrelay speaks {PLUGIN_API_VERSION}")
    keys: Any = getattr(cls, "SECRET_KEYS", frozenset())
    if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
        problems.append("SECRET_KEYS must be a set of key names, e.g. frozenset({'token'})")
    if not isinstance(getattr(cls, "CONFIG_SCHEMA", None), dict):
        problems.append("CONFIG_SCHEMA must be a dict of cerberus rules")
    _fail_if(problems, f"{cls.__name__} does not declare the sink contract")


def check_keys_documented(h: SinkHarness) -> None:
    _fail_if(schema_problems(dict(h.cls.CONFIG_SCHEMA)), f"{h.cls.__name__}.CONFIG_SCHEMA is not fully documented")


def check_defaults_validate(h: SinkHarness) -> None:
    _fail_if(default_problems(dict(h.cls.CONFIG_SCHEMA)), f"{h.cls.__name__}.CONFIG_SCHEMA has defaults its own rules refuse")


def check_common_defaults(h: SinkHarness) -> None:
    _fail_if(common_default_problems(h.cls), f"{h.cls.__name__}.DEFAULTS is wrong")


def check_config_validates(h: SinkHarness) -> None:
    h.require_opt_in()
    h.build()


def _instance(h: SinkHarness, endpoint: Endpoint | None = None) -> Sink:
    """Build the sink; without the opt-in a fallback that fails is 'not applicable', not a failure."""
    try:
        return h.build(endpoint)
    except ConformanceError as exc:
        if h.opted_in:
            raise
        raise NotApplicable(f"could not build {h.cls.__name__} from its schema alone ({exc}); "
                            "define conformance_config(endpoint)") from None


@contextmanager
def _no_network_and_moving_clock(offset: float) -> Iterator[None]:
    real_time = time.time

    def refuse(*_: object, **__: object) -> None:
        raise ConformanceError("encode_batch() opened a network connection; an encoder is a pure function of the batch")

    with mock.patch.object(socket.socket, "connect", refuse), mock.patch.object(socket, "create_connection", refuse), \
            mock.patch("time.time", lambda: real_time() + offset):
        yield


def check_encoder_pure(h: SinkHarness) -> None:
    sink = _instance(h)
    encode = getattr(sink, "encode_batch", None) or getattr(sink, "encode", None)
    if not callable(encode):
        raise NotApplicable(f"{h.cls.__name__} exposes no encode_batch(batch) method, so its encoder cannot be "
                            "checked for purity; expose the pure encoder as encode_batch(batch) and call it from send()")
    events = sample_events()
    before = [e.to_json() for e in events]
    copies = [Event.from_json(b) for b in before]

    def run(batch: Sequence[SpooledEvent], offset: float) -> Any:
        with _no_network_and_moving_clock(offset):
            out = encode(batch)
        return list(out) if hasattr(out, "__next__") else out

    first = run(spooled(events), 0.0)
    second = run(spooled(copies), 86400.0 * 3)
    if first != second:
        raise ConformanceError("encode_batch() gave different output for the same events (clock moved 3 days between "
                               "the calls): it must depend on the events and the config only, e.g. use event.time, not now()")
    if [e.to_json() for e in events] != before:
        raise ConformanceError("encode_batch() modified the events it was given; copy before changing anything")
    if not first and first != 0:
        raise ConformanceError("encode_batch() of six events returned nothing")


def check_empty_batch(h: SinkHarness) -> None:
    sink = _instance(h)
    outcome = h.send(sink, [])
    if outcome.status is not Status.OK:
        raise ConformanceError(f"send([]) must return OK and do nothing, got {outcome}")
    if h.transport == "http" and h.http.requests:
        raise ConformanceError(f"send([]) made {len(h.http.requests)} HTTP request(s); an empty batch sends nothing")


def _expect(outcome: Delivery, status: Status, situation: str) -> None:
    if outcome.status is not status:
        raise ConformanceError(f"{situation}: expected {status.name}, got {outcome.status.name} ({outcome.reason!r})")


def check_ok(h: SinkHarness) -> None:
    h.require_opt_in()
    h.require_transport("http", "tcp", "file", "none")  # "external": the sink needs its own peer (NATS)
    sink = _instance(h)
    sink.open()
    outcome = h.send(sink, spooled(sample_events()[:3]))
    _expect(outcome, Status.OK, "a peer that accepts the batch")
    if h.transport == "http" and not h.http.requests:
        raise ConformanceError("send() returned OK but the receiver got no request")
    if h.transport == "tcp":
        h.tcp.wait_for_bytes(1, timeout=5)


def check_connection_refused(h: SinkHarness) -> None:
    h.require_opt_in()
    h.require_transport("http", "tcp")
    sink = _instance(h, h.endpoint(closed=True))
    try:
        sink.open()
    except Exception:  # the worker tolerates open() failing and retries; send() must still answer
        pass
    _expect(h.send(sink, spooled(sample_events()[:1])), Status.RETRY, "connection refused")


def check_timeout(h: SinkHarness) -> None:
    h.require_opt_in()
    h.require_transport("http")
    ok = h.ok_reply
    h.http.reply_always(Reply(ok.status, ok.body, ok.headers, stall=True, stall_s=3 * TIMEOUT_S))
    sink = _instance(h)
    try:
        outcome = h.send(sink, spooled(sample_events()[:1]))
    finally:
        h.http.release()
    _expect(outcome, Status.RETRY, f"a peer that does not answer (retry.timeout_s is {TIMEOUT_S}; the sink must "
                                   "use it as its request timeout)")


def check_http_status(h: SinkHarness, code: int) -> None:
    h.require_opt_in()
    h.require_transport("http")
    headers = {"Retry-After": "7"} if code == 429 else {}
    h.http.reply_always(Reply(code, headers=headers, echo=code < 500))
    sink = _instance(h)
    outcome = h.send(sink, spooled(sample_events()[:1]))
    if code in (408, 429) or code >= 500:
        _expect(outcome, Status.RETRY, f"HTTP {code}")
    else:
        _expect(outcome, Status.REJECT, f"HTTP {code}")
    if code == 429 and (outcome.retry_after is None or abs(outcome.retry_after - 7) > 0.5):
        raise ConformanceError(f"HTTP 429 with Retry-After: 7 must give retry_after=7, got {outcome.retry_after!r} "
                               "(agent.delivery.parse_retry_after reads the header)")


def check_healthcheck(h: SinkHarness) -> None:
    endpoints: list[Any] = [None]
    if h.opted_in and h.transport in ("http", "tcp"):
        endpoints.append(h.endpoint(closed=True))
    for endpoint in endpoints:
        sink = _instance(h, endpoint)
        where = "a closed port" if endpoint is not None else "a live receiver"
        try:
            outcome = sink.healthcheck()
        except Exception as exc:
            raise ConformanceError(f"healthcheck() against {where} raised {type(exc).__name__}: {exc}; "
                                   "return a Delivery instead") from exc
        if not isinstance(outcome, Delivery):
            raise ConformanceError(f"healthcheck() returned {type(outcome).__name__}, not Delivery")
        h.texts.append(outcome.reason)


def check_close_idempotent(h: SinkHarness) -> None:
    for used in (False, True):
        sink = _instance(h)
        if used:
            try:
                sink.open()
            except Exception:
                pass
            if h.opted_in:
                h.send(sink, spooled(sample_events()[:1]))
        for attempt in ("first", "second"):
            try:
                sink.close()
            except Exception as exc:
                raise ConformanceError(f"close() raised {type(exc).__name__} on the {attempt} call"
                                       f"{' after a send' if used else ' of an unused sink'}: {exc}; "
                                       "close() must be safe to call more than once") from exc


def check_secrets(h: SinkHarness) -> None:
    sink = _instance(h)
    h.send(sink, [])
    try:
        h.texts.append(sink.healthcheck().reason)
    except Exception as exc:
        h.texts.append(str(exc))
    if h.opted_in and h.transport == "http":
        for reply in (Reply(400, echo=True), Reply(500, {"error": "conformance"}), h.ok_reply):
            h.http.reply_always(reply)
            h.send(sink, spooled(sample_events()[:1]))
    if h.opted_in and h.transport in ("http", "tcp"):
        h.send(_instance(h, h.endpoint(closed=True)), spooled(sample_events()[:1]))
    sink.close()
    places = [("repr(sink) or a Delivery reason", t) for t in h.texts] + [("a log line", t) for t in h.logs.lines]
    leaks = [f"{where}: {text[:300]!r}" for where, text in places for s in h.secrets if s and s in text]
    _fail_if(leaks, "a secret value appeared where it must not (pass such text through ctx.redact)")
