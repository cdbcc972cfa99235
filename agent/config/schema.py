"""Core configuration schemas and cerberus validation with errors users can act on.

Every key has a type, a ``default`` or ``required: True``, and ``meta.description``;
``siemrelay plugins`` and the README's reference are generated from these schemas,
and a test fails on any key without a description.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any, Iterable

import cerberus
import cerberus.schema

from agent.config.admin import ADMIN_SCHEMA
from agent.config.loader import Path_t, SourceMap
from agent.errors import Problem
from agent.sdk.proxy import PROXY_SCHEMA
from agent.sdk.secrets import ALWAYS_SECRET_KEYS
from agent.sdk.describe import describe as _d  # the one description helper, short at the many call sites
from agent.sdk.sinkschema import (BATCH_SCHEMA, CIRCUIT_SCHEMA, FLOOD_SCHEMA, RATE_SCHEMA, RETRY_SCHEMA, SINK_CORE_SCHEMA,
                                  compose_sink_schema, with_nested_defaults)

__all__ = [
    "AGENT_SCHEMA", "SOURCE_CORE_SCHEMA", "SINK_CORE_SCHEMA", "ROUTE_SCHEMA", "TOP_SCHEMA",
    "compose_sink_schema", "compose_source_schema", "validate_section", "with_nested_defaults",
    "SECRET_KEY_NAMES", "RETRY_SCHEMA", "BATCH_SCHEMA", "CIRCUIT_SCHEMA", "RATE_SCHEMA", "FLOOD_SCHEMA",
]



#: Keys whose values are never echoed in an error message.
SECRET_KEY_NAMES = ALWAYS_SECRET_KEYS | {"bearer", "value", "url", "query_secret", "key"}

AGENT_SCHEMA: dict[str, Any] = {
    "state_dir": {"type": "string", "default": "./var/state", "empty": False,
                  "meta": _d("Directory for the spool, dead letters and checkpoints; relative paths are relative to the working directory.")},
    "log_level": {"type": "string", "default": "info", "allowed": ["trace", "debug", "info", "warning", "error"],
                  "meta": _d("Least severe log level written.")},
    "log_format": {"type": "string", "default": "auto", "allowed": ["auto", "text", "json"],
                   "meta": _d("auto: readable text on a terminal, JSON lines otherwise (e.g. under systemd).")},
    "routes_dir": {"type": "string", "default": "routes.d",
                   "meta": _d("Directory of extra route files (*.yaml), merged in file-name order; relative to the main config file.")},
    "shutdown_timeout_s": {"type": "number", "default": 8.0, "min": 0.5, "max": 300,
                           "meta": _d("On SIGTERM, how long sinks may take to flush what is in flight before the agent exits.")},
    "spool": {"type": "dict", "default": {}, "meta": _d("The durable per-sink queue on disk."), "schema": {
        "max_bytes": {"type": "integer", "default": 1 << 30, "min": 1 << 16,
                      "meta": _d("Quota of undelivered event bytes; above it sources are paused (backpressure).")},
        "resume_ratio": {"type": "number", "default": 0.9, "min": 0.1, "max": 1.0,
                         "meta": _d("Sources resume once the spool drains below this fraction of max_bytes (low water mark).")},
        "sync": {"type": "string", "default": "full", "allowed": ["full", "normal"],
                 "meta": _d("full: every commit that takes in events is fsynced before its source is answered (survives power loss; a sink's acknowledgements ride on the next such fsync, so a power loss can only make a sink send a few events again); normal: survives a crash of the agent, not of the OS.")},
        "max_batch_events": {"type": "integer", "default": 4096, "min": 1,
                             "meta": _d("Most events written in one group commit.")},
        "history_max_rows": {"type": "integer", "default": 10000, "min": 10,
                             "meta": _d("Delivery attempts kept per sink for `siemrelay deliveries` (oldest dropped first).")},
        "history_max_age_s": {"type": "number", "default": 7 * 86400, "min": 60,
                              "meta": _d("Delivery attempts older than this are dropped.")},
    }},
    "dedup": {"type": "dict", "default": {}, "meta": _d("De-duplication of events by id at intake (vendor redeliveries)."), "schema": {
        "window_s": {"type": "number", "default": 3600, "min": 0,
                     "meta": _d("An event whose id was spooled within this many seconds is acknowledged but not spooled again; 0 disables.")},
        "max_ids": {"type": "integer", "default": 200000, "min": 0,
                    "meta": _d("Most ids remembered (oldest forgotten first).")},
    }},
    "intake": {"type": "dict", "default": {}, "meta": _d("Where sources' batches are decoded, routed and serialised."), "schema": {
        "processes": {"type": ["integer", "string"], "default": "auto", "allowed": ["auto", 0, 1, 2, 3, 4, 5, 6, 7, 8],
                      "meta": _d("Child processes that decode, route and serialise batches, so that work runs on "
                                 "other cores than the spool and the sink workers: 0 does it in the agent's process; "
                                 "auto is 1 when the agent may use two cores or more, else 0 (measured on 2 cores: "
                                 "1.35x the events/s of a file tail for about 28 MB at the peak; a second child "
                                 "there gave a few per cent more for 30 MB more). A source still acknowledges only "
                                 "after its events are committed, in order. Needs a restart to change.")},
        "child_min_bytes": {"type": "integer", "default": 65536, "min": 0,
                            "meta": _d("A batch with fewer bytes than this is prepared in the agent's process: for "
                                       "a few events (an HTTP request's batch) the trip to a child costs more than "
                                       "it saves. 0 sends every batch to a child.")},
        "timeout_s": {"type": "number", "default": 30.0, "min": 1, "max": 600,
                      "meta": _d("A child that holds a batch longer than this is killed and replaced; its batches "
                                 "are prepared in the agent's process.")},
    }},
    "admin": ADMIN_SCHEMA,
    "proxy": {**PROXY_SCHEMA, "meta": _d("Default egress proxy of every HTTP sink (splunk_hec, slack, teams, webhook, "
                                         "sentinel, secops) that has no proxy block of its own.")},
}

SOURCE_CORE_SCHEMA: dict[str, Any] = {
    "type": {"type": "string", "required": True, "meta": _d("Source type, e.g. http, file, syslog.")},
    "enabled": {"type": "boolean", "default": True, "meta": _d("false keeps the section but does not start it.")},
}

ROUTE_SCHEMA: dict[str, Any] = {
    "name": {"type": "string", "required": True, "empty": False,
             "meta": _d("Route name, unique across all rule files; shown in logs, `siemrelay route --explain` and test "
                        "reports. The route named `default` takes every event no other route matched.")},
    "description": {"type": "string", "default": "", "meta": _d("Free text for the humans who own the rule.")},
    "when": {"type": "dict", "default": {}, "nullable": True,
             "meta": _d("Conditions on the event, all of which must hold; empty matches everything. Shortcuts: type, "
                        "vendor_type, source (globs), severity (\">= high\"), score (\">= 70\", \"40..69\"), repository, "
                        "asset, organization (name globs), tags; combinators all, any, not; any field by dotted path with "
                        "eq, ne, in, not_in, glob, regex, exists, contains, <, <=, >, >=. See docs/routing.md.")},
    "to": {"type": "list", "default": [], "schema": {"type": "string"}, "meta": _d("Sinks that receive matching events.")},
    "continue": {"type": "boolean", "default": False,
                 "meta": _d("Keep evaluating later routes after this one matched (first match wins otherwise).")},
    "enabled": {"type": "boolean", "default": True, "meta": _d("false switches the route off (it is still validated).")},
    "transforms": {"type": "list", "default": [], "schema": {"type": "dict"},
                   "meta": _d("Ordered steps applied to what this route's sinks receive, and only to them: drop, set, tag, "
                              "redact, rename.")},
}

TOP_SCHEMA: dict[str, Any] = {
    "agent": {"type": "dict", "default": {}, "meta": _d("Agent-wide settings.")},
    "sources": {"type": "dict", "default": {}, "meta": _d("Inputs by name.")},
    "sinks": {"type": "dict", "default": {}, "meta": _d("Outputs by name.")},
    "routes": {"type": "list", "default": [], "meta": _d("Ordered routing rules.")},
    "decoders": {"type": "dict", "default": {}, "meta": _d("Named decoder configurations that sources refer to by name.")},
    "include": {"type": "list", "default": [], "schema": {"type": "string"},
                "meta": _d("More files (paths or globs, relative to this file) whose sources, sinks and routes are merged in.")},
}


def compose_source_schema(plugin_schema: dict[str, Any]) -> dict[str, Any]:
    """Core source keys plus the plugin's keys."""
    schema = copy.deepcopy(SOURCE_CORE_SCHEMA)
    schema.update(copy.deepcopy(plugin_schema))
    return with_nested_defaults(schema)


class _Validator(cerberus.Validator):  # type: ignore[misc]  # cerberus ships no type hints
    """cerberus with the ``meta`` rule accepted everywhere (descriptions live there)."""


class _ProvenSchema(cerberus.schema.DefinitionSchema):  # type: ignore[misc]
    """A schema of siemrelay's own (the core's or a built-in plugin's), used without
    cerberus checking it as a schema first.

    cerberus validates every schema it is given against its rules before the first
    document, and on every start that was most of the configuration's validation (about
    40 ms of the 350 a ``siemrelay validate`` takes). Our own schemas do not change
    between starts: ``tests/unit/agent/config/test_schemas_proven.py`` checks each with
    cerberus itself, so a mistake in one fails the suite instead. A third-party plugin's
    schema is still checked at every start.
    """

    def validate(self, schema: object = None) -> None:
        return None


def validate_section(doc: object, schema: dict[str, Any], smap: SourceMap, prefix: Path_t,
                     problems: list[Problem], secret_keys: Iterable[str] = SECRET_KEY_NAMES, *,
                     proven: bool = False) -> dict[str, Any] | None:
    """Validate and normalise one section; append a :class:`Problem` per error.

    :param proven: ``schema`` is siemrelay's own (see :class:`_ProvenSchema`): cerberus
        need not check it as a schema.
    :returns: the normalised document (defaults filled) or ``None`` when invalid.
    """
    if not isinstance(doc, dict):
        problems.append(smap.problem(prefix, f"expected a mapping, found {_describe(doc, prefix, frozenset(secret_keys))}"))
        return None
    try:
        if proven:
            v = _Validator(allow_unknown=False)
            v.schema = _ProvenSchema(v, schema)
        else:
            v = _Validator(schema, allow_unknown=False)
    except cerberus.schema.SchemaError as exc:  # a third-party plugin's mistake: its section cannot be checked
        problems.append(smap.problem(prefix, f"the plugin's configuration schema is not a valid cerberus schema: {exc}"))
        return None
    if v.validate(doc):
        return dict(v.document)
    secrets = frozenset(secret_keys)
    for err in v._errors:
        _flatten(err, schema, smap, prefix, problems, secrets)
    return None


def _schema_at(schema: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    current: Any = schema
    for step in path:
        rules = current.get(step) if isinstance(current, dict) else None
        if not isinstance(rules, dict):
            return {}
        current = rules.get("schema", {})
        if current.get("type") == "dict" and "schema" in current:  # list of dicts
            current = current["schema"]
    return current if isinstance(current, dict) else {}


def _flatten(err: Any,  # Any: cerberus' ValidationError (cerberus ships no types)
             schema: dict[str, Any], smap: SourceMap, prefix: Path_t,
             problems: list[Problem], secrets: frozenset[str]) -> None:
    if err.is_group_error and err.child_errors:
        for child in err.child_errors:
            _flatten(child, schema, smap, prefix, problems, secrets)
        return
    path = tuple(err.document_path)
    full = prefix + path
    key = path[-1] if path else ""
    if err.code == cerberus.errors.UNKNOWN_FIELD.code:
        allowed = sorted(k for k in _schema_at(schema, path[:-1]) if isinstance(k, str))
        hint = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        msg = "unknown key"
        if hint:
            msg += f"; did you mean {hint[0]!r}?"
        elif allowed:
            msg += f" (valid keys here: {', '.join(allowed)})"
        problems.append(smap.problem(full, msg))
        return
    found = _describe(err.value, path, secrets)
    rule = err.rule
    if rule == "required":
        msg = "required key is missing"
    elif rule == "type":
        expected = err.constraint if isinstance(err.constraint, str) else " or ".join(err.constraint)
        msg = f"expected {_TYPE_WORDS.get(expected, expected)}, found {found}"
    elif rule == "allowed":
        msg = f"expected one of {', '.join(map(str, err.constraint))}, found {found}"
    elif rule in ("min", "max"):
        word = "at least" if rule == "min" else "at most"
        msg = f"expected {word} {err.constraint}, found {found}"
    elif rule in ("minlength", "maxlength"):
        word = "at least" if rule == "minlength" else "at most"
        msg = f"expected {word} {err.constraint} items/characters, found {found}"
    elif rule == "empty":
        msg = "must not be empty"
    elif rule == "regex":
        msg = f"does not match the expected pattern {err.constraint}, found {found}"
    else:
        handler = cerberus.errors.BasicErrorHandler()
        msg = f"{handler._format_message(key, err)}, found {found}"
    problems.append(smap.problem(full, msg))


_TYPE_WORDS = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
               "dict": "a mapping", "list": "a list"}


def _describe(value: object, path: tuple[Any, ...], secrets: frozenset[str]) -> str:
    name = type(value).__name__
    kind = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "mapping",
            "list": "list", "NoneType": "nothing (null)"}.get(name, name)
    if value is None or isinstance(value, (dict, list)):
        return kind
    if path and str(path[-1]) in secrets:
        return f"{kind} (value hidden)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"
