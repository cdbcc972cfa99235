"""Documentation generated from the schemas: ``siemrelay plugins``, ``describe``, and
the configuration reference in ``docs/configuration.md`` (a test keeps it in sync)."""

from __future__ import annotations

from typing import Any, Iterator

from agent.plugins import PluginSet
from agent.registry import ComponentType
from agent.schema import AGENT_SCHEMA, SINK_CORE_SCHEMA, compose_sink_schema, compose_source_schema

__all__ = ["schema_rows", "plugins_text", "plugins_json", "describe_type", "reference_markdown", "effective_schema"]


def effective_schema(ct: ComponentType) -> dict[str, Any]:
    """The schema users write for this type: core keys plus the plugin's, defaults applied."""
    if ct.kind == "sink":
        return compose_sink_schema(ct.schema, getattr(ct.cls, "DEFAULTS", {}))
    if ct.kind == "source":
        return compose_source_schema(ct.schema)
    return dict(ct.schema)


def _type_word(rules: dict[str, Any]) -> str:
    t = rules.get("type", "any")
    return "|".join(t) if isinstance(t, list) else str(t)


def _default_text(rules: dict[str, Any]) -> str:
    if rules.get("required"):
        return "(required)"
    if "default" not in rules:
        return "(none)"
    d = rules["default"]
    if d is None:
        return "null"
    if isinstance(d, bool):
        return "true" if d else "false"
    if isinstance(d, dict) and not d:
        return "{}" if "schema" not in rules else "(see below)"
    return repr(d) if isinstance(d, str) else str(d)


def schema_rows(schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """Yield ``(key path, type, default, description)`` for every key, nested blocks flattened."""
    for key, rules in schema.items():
        if not isinstance(rules, dict):
            continue
        path = f"{prefix}{key}"
        desc = (rules.get("meta") or {}).get("description", "")
        allowed = rules.get("allowed")
        if allowed:
            desc = f"{desc} One of: {', '.join(map(str, allowed))}."
        yield path, _type_word(rules), _default_text(rules), desc
        sub = rules.get("schema")
        if rules.get("type") == "dict" and isinstance(sub, dict):
            yield from schema_rows(sub, path + ".")


def plugins_text(plugins: PluginSet) -> str:
    out = ["Plugins:"]
    for p in plugins.plugins:
        out.append(f"  {p.name:<28} {p.version:<10} {p.origin}")
    for f in plugins.failures:
        out.append(f"  {f.plugin:<28} {'FAILED':<10} {f.origin}: {f.error}")
    for kind in ("source", "decoder", "sink"):
        out.append("")
        out.append(f"{kind.capitalize()} types:")
        for name in plugins.registry.names(kind):  # type: ignore[arg-type]
            ct = plugins.registry.get(kind, name)  # type: ignore[arg-type]
            assert ct is not None
            out.append(f"  {name}  ({ct.plugin}) {ct.description}")
            for path, typ, default, desc in schema_rows(effective_schema(ct)):
                if path == "type":
                    continue
                out.append(f"      {path:<34} {typ:<14} {default:<16} {desc}")
    return "\n".join(out) + "\n"


def plugins_json(plugins: PluginSet) -> dict[str, Any]:
    return {
        "plugins": [{"name": p.name, "version": p.version, "origin": p.origin, "module": p.module} for p in plugins.plugins],
        "failures": [{"plugin": f.plugin, "origin": f.origin, "error": f.error} for f in plugins.failures],
        "types": [{"kind": ct.kind, "name": ct.name, "plugin": ct.plugin, "description": ct.description,
                   "options": [{"key": k, "type": t, "default": d, "description": s} for k, t, d, s in schema_rows(effective_schema(ct))]}
                  for ct in plugins.registry],
    }


def _example(schema: dict[str, Any], indent: str = "    ") -> list[str]:
    lines = []
    for key, rules in schema.items():
        if key in ("type",) or not isinstance(rules, dict):
            continue
        if rules.get("type") == "dict" and isinstance(rules.get("schema"), dict):
            if key in SINK_CORE_SCHEMA:
                continue
            lines.append(f"{indent}{key}:")
            lines.extend(_example(rules["schema"], indent + "  "))
            continue
        value = _default_text(rules)
        if value == "(required)":
            value = "..."
        comment = "  # required" if rules.get("required") else ""
        lines.append(f"{indent}{key}: {value}{comment}")
    return lines


def describe_type(ct: ComponentType) -> str:
    schema = effective_schema(ct)
    rows = [r for r in schema_rows(schema)]
    width = max((len(r[0]) for r in rows), default=10)
    out = [f"{ct.kind} type {ct.name} (plugin {ct.plugin}): {ct.description}", "",
           f"{'KEY':<{width}}  {'TYPE':<14} {'DEFAULT':<16} DESCRIPTION"]
    for path, typ, default, desc in rows:
        out.append(f"{path:<{width}}  {typ:<14} {default:<16} {desc}")
    section = {"source": "sources", "sink": "sinks", "decoder": "decoders"}[ct.kind]
    out += ["", "Example:", f"{section}:", f"  my_{ct.name}:", f"    type: {ct.name}"] + _example(schema)
    return "\n".join(out) + "\n"


def _table(schema: dict[str, Any]) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for path, typ, default, desc in schema_rows(schema):
        lines.append(f"| `{path}` | {typ} | `{default}` | {desc.replace('|', '/')} |")
    return lines


def reference_markdown(plugins: PluginSet) -> str:
    """The configuration reference, generated; ``docs/configuration.md`` must equal it."""
    out = ["# Configuration reference", "",
           "Generated from the schemas by `python -m agent.docs > docs/configuration.md`; a test fails when it is stale.", "",
           "## `agent`", ""] + _table(AGENT_SCHEMA)
    out += ["", "## Keys every sink has", ""] + _table(SINK_CORE_SCHEMA)
    for kind, title in (("source", "Sources"), ("decoder", "Decoders"), ("sink", "Sinks")):
        out += ["", f"## {title}"]
        for name in plugins.registry.names(kind):  # type: ignore[arg-type]
            ct = plugins.registry.get(kind, name)  # type: ignore[arg-type]
            assert ct is not None
            out += ["", f"### {kind} `{name}`", "", ct.description, ""]
            schema = dict(ct.schema) if kind != "sink" else compose_sink_schema(ct.schema, getattr(ct.cls, "DEFAULTS", {}))
            if kind == "sink":
                schema = {k: v for k, v in schema.items() if k not in SINK_CORE_SCHEMA or k in ct.schema}
                defaults = getattr(ct.cls, "DEFAULTS", {})
                if defaults:
                    out += [f"Defaults for the common blocks: `{defaults}`", ""]
            if schema:
                out += _table(schema)
            else:
                out += ["No options."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    from agent.plugins import load_plugins

    sys.stdout.write(reference_markdown(load_plugins(entry_points=False)))
