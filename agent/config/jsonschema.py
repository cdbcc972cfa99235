"""A JSON Schema (draft-07) of the configuration file, generated from the same cerberus
schemas that validate it and that ``docs/configuration.md`` is generated from.

Editors with the YAML language server read it through a first line
``# yaml-language-server: $schema=...`` and then complete keys, show each key's
description and default, and mark typos while the file is typed. It checks the file
as written, before ``${VAR}`` interpolation, so any value may also be a string that
contains a ``${VAR}`` placeholder. ``siemrelay validate`` stays the authority: it also
runs the plugins' cross-field checks, which a schema cannot express.
"""

from __future__ import annotations

from typing import Any, Iterable

from agent.config.schema import AGENT_SCHEMA, ROUTE_SCHEMA, TOP_SCHEMA
from agent.plugins import PluginSet
from agent.registry import ComponentType
from agent.sdk.json_types import JsonValue

__all__ = ["config_json_schema", "rules_to_json_schema", "schema_json", "SCHEMA_ID"]

SCHEMA_ID = "https://siemrelay.dev/schemas/siemrelay.schema.json"

#: A value written as ``${VAR}`` or ``${VAR:-default}`` (any type once interpolated).
PLACEHOLDER_PATTERN = r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}"

_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean", "dict": "object",
          "list": "array", "float": "number"}

JsonSchema = dict[str, Any]


def _types(rules: dict[str, Any]) -> list[str]:
    t = rules.get("type")
    if t is None:
        return []
    names = t if isinstance(t, list) else [t]
    return [_TYPES[n] for n in names if n in _TYPES]


def _anchored(regex: str) -> str:
    """cerberus matches a regex against the whole value; JSON Schema searches: anchor it."""
    return f"^(?:{regex})$"


def rules_to_json_schema(rules: dict[str, Any]) -> JsonSchema:
    """One cerberus field (its rules) as a JSON Schema.

    Scalars that are not strings also accept a ``${VAR}`` string, since the file is
    checked before interpolation.
    """
    out: JsonSchema = {}
    desc = (rules.get("meta") or {}).get("description")
    if desc:
        out["description"] = desc
    if "default" in rules and not callable(rules["default"]):
        out["default"] = rules["default"]
    types = _types(rules)
    body: JsonSchema = {}
    if "object" in types:
        sub = rules.get("schema")
        if isinstance(sub, dict) and sub:
            body.update(_object(sub))
        else:
            if isinstance(rules.get("valuesrules"), dict):
                body["additionalProperties"] = rules_to_json_schema(rules["valuesrules"])
            keys = rules.get("keysrules")
            if isinstance(keys, dict) and keys.get("regex"):
                body["propertyNames"] = {"pattern": _anchored(keys["regex"])}
    if "array" in types:
        item = rules.get("schema")
        if isinstance(item, dict) and item:
            body["items"] = rules_to_json_schema(item)
        if "minlength" in rules:
            body["minItems"] = rules["minlength"]
        if "maxlength" in rules:
            body["maxItems"] = rules["maxlength"]
    if "string" in types:
        if rules.get("regex"):
            body["pattern"] = _anchored(rules["regex"])
        if rules.get("empty") is False:
            body["minLength"] = 1
    if "min" in rules and isinstance(rules["min"], (int, float)):
        body["minimum"] = rules["min"]
    if "max" in rules and isinstance(rules["max"], (int, float)):
        body["maximum"] = rules["max"]
    allowed = rules.get("allowed")
    placeholder: JsonSchema = {"type": "string", "pattern": PLACEHOLDER_PATTERN}
    if allowed:
        enum = list(allowed) + ([None] if rules.get("nullable") else [])
        out["anyOf"] = [{"enum": enum}, placeholder]
        return out
    if types:
        if rules.get("nullable"):
            types = [*types, "null"]
        scalar_only = not ({"object", "array"} & set(types)) and "string" not in types
        if scalar_only or "pattern" in body:  # a number, a boolean or a checked string written as ${VAR}
            out["anyOf"] = [{"type": types if len(types) > 1 else types[0], **body}, placeholder]
            return out
        out["type"] = types if len(types) > 1 else types[0]
    out.update(body)
    return out


def _object(schema: dict[str, Any]) -> JsonSchema:
    """A cerberus mapping schema as a closed JSON Schema object (unknown keys are errors, as in validate)."""
    props = {k: rules_to_json_schema(r) for k, r in schema.items() if isinstance(r, dict)}
    required = sorted(k for k, r in schema.items() if isinstance(r, dict) and r.get("required") and "default" not in r)
    out: JsonSchema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _components(types: Iterable[ComponentType], what: str) -> JsonSchema:
    """A mapping of names to components whose ``type`` key selects the schema of the rest."""
    from agent.config.reference import effective_schema

    cts = list(types)
    names = [ct.name for ct in cts]
    branches = []
    for ct in cts:
        body = _object(effective_schema(ct) if ct.kind != "decoder" else {"type": {"type": "string", "required": True},
                                                                          **ct.schema})
        body["properties"]["type"] = {"const": ct.name, "description": ct.description}
        body["description"] = f"{ct.kind} type {ct.name}: {ct.description}"
        branches.append({"if": {"properties": {"type": {"const": ct.name}}, "required": ["type"]}, "then": body})
    component: JsonSchema = {
        "type": "object",
        "description": f"One {what}; `type` selects its options (siemrelay describe {what} TYPE).",
        "required": ["type"],
        "properties": {"type": {"enum": names, "description": f"The {what} type."}},
        "allOf": branches,
    }
    return {"type": "object", "additionalProperties": component}


def config_json_schema(plugins: PluginSet) -> JsonSchema:
    """The JSON Schema of a siemrelay configuration file (main file, include or routes.d file)
    with every source, decoder and sink type ``plugins`` provides."""
    plugins.import_all()
    top = {k: rules_to_json_schema(r) for k, r in TOP_SCHEMA.items()}
    top["agent"] = {**rules_to_json_schema(TOP_SCHEMA["agent"]), **_object(AGENT_SCHEMA)}
    top["sources"] = {**top["sources"], **_components(_of(plugins, "source"), "source")}
    top["sinks"] = {**top["sinks"], **_components(_of(plugins, "sink"), "sink")}
    top["decoders"] = {**top["decoders"], **_components(_of(plugins, "decoder"), "decoder")}
    top["routes"] = {**top["routes"], "items": _object(ROUTE_SCHEMA)}
    top["include"] = {**top["include"], "type": ["array", "string"]}
    definitions: dict[str, JsonSchema] = {}
    top = _share_repeats(top, definitions)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "siemrelay configuration",
        "description": "siemrelay.yaml, an included file or a routes.d/*.yaml file. Generated by "
                       "`siemrelay config --json-schema`; `siemrelay validate` is the complete check.",
        "type": "object",
        "properties": top,
        "additionalProperties": False,
        "definitions": definitions,
    }


#: Sub-schemas at least this long (as JSON) that occur twice or more are written once under
#: ``definitions`` and referred to: every sink repeats the retry, batch, TLS and proxy blocks.
_SHARE_MIN_CHARS = 300


def _share_repeats(node: dict[str, JsonSchema], definitions: dict[str, JsonSchema]) -> dict[str, JsonSchema]:
    """Replace repeated large sub-schemas by ``{"$ref": "#/definitions/NAME"}``."""
    import orjson

    def text(value: JsonValue) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)

    counts: dict[bytes, int] = {}

    def count(value: object) -> None:
        if isinstance(value, dict):
            for v in value.values():
                count(v)
            t = text(value)
            if len(t) >= _SHARE_MIN_CHARS:
                counts[t] = counts.get(t, 0) + 1
        elif isinstance(value, list):
            for v in value:
                count(v)

    count(node)
    names: dict[bytes, str] = {}

    def share(value: JsonValue, key: str) -> Any:
        if key in ("default", "enum", "const"):  # data, not schema
            return value
        if isinstance(value, list):
            return [share(v, key) for v in value]
        if not isinstance(value, dict):
            return value
        t = text(value)
        if counts.get(t, 0) >= 2 and key not in ("properties", "definitions"):
            if t not in names:
                name = key if key not in definitions else f"{key}-{len(definitions)}"
                names[t] = name
                definitions[name] = {}  # reserve the name before recursing
                definitions[name] = {k: share(v, k) for k, v in value.items()}
            return {"$ref": f"#/definitions/{names[t]}"}
        return {k: share(v, k) for k, v in value.items()}

    return {k: share(v, k) for k, v in node.items()}


def _of(plugins: PluginSet, kind: str) -> list[ComponentType]:
    return [ct for ct in plugins.registry if ct.kind == kind]




def schema_json(plugins: PluginSet) -> str:
    """The schema as the indented JSON text ``siemrelay config --json-schema`` prints."""
    import orjson

    return orjson.dumps(config_json_schema(plugins), option=orjson.OPT_INDENT_2).decode() + "\n"


if __name__ == "__main__":
    import sys

    from agent.plugins import load_plugins

    sys.stdout.write(schema_json(load_plugins(entry_points=False)))
