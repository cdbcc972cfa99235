"""Documentation generated from the schemas: ``siemrelay plugins``, ``describe``, and
the configuration reference in ``docs/configuration.md`` (a test keeps it in sync)."""

from __future__ import annotations

from typing import Any, Iterator

import yaml

from agent.plugins import PluginInfo, PluginSet
from agent.registry import ComponentType, Kind
from agent.sdk.secrets import secret_keys
from agent.config.schema import AGENT_SCHEMA, SINK_CORE_SCHEMA, compose_sink_schema, compose_source_schema

__all__ = ["schema_rows", "plugins_text", "plugins_json", "describe_type", "reference_markdown", "effective_schema",
           "example_lines", "plugin_location", "env_name"]


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


def plugin_location(module: str) -> str:
    """The directory a plugin's code was imported from (``""`` when unknown)."""
    import sys
    from pathlib import Path

    name = module.split(":", 1)[0].strip()
    mod = sys.modules.get(name)
    path = getattr(mod, "__file__", None) if mod is not None else None
    if not path:
        return ""
    p = Path(path)
    return str(p.parent if p.name == "__init__.py" else p)


def _origin_text(info: PluginInfo) -> str:
    """``built-in`` or ``<distribution> (entry point, <where>)``: where a plugin comes from."""
    if info.origin == "builtin":
        return "built-in"
    where = plugin_location(info.module)
    dist = info.origin.removeprefix("entry point of ").strip()
    if info.origin.startswith("entry point"):
        return f"{dist} {info.version} (entry point {info.name} = {info.module}{', ' + where if where else ''})"
    return f"{info.origin}{' (' + where + ')' if where else ''}"


def _provides(plugins: PluginSet) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ct in plugins.registry:
        out.setdefault(ct.plugin, []).append(f"{ct.kind} {ct.name}")
    return out


def plugins_text(plugins: PluginSet, *, options: bool = True) -> str:
    """What ``siemrelay plugins`` prints: every plugin with its version, where it comes
    from and what it provides; the plugins that failed and why; then every type.

    :param options: also list each type's options (``--brief`` turns this off).
    """
    plugins.import_all()
    provides = _provides(plugins)
    rows = [(p.name, p.version, ", ".join(provides.get(p.name, [])) or "-", _origin_text(p)) for p in plugins.plugins]
    # columns as wide as their longest value (names are never cut); the origin, which can hold a
    # path, comes last so it pushes nothing out of line
    w = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(("NAME", "VERSION", "PROVIDES"))]
    out = ["Plugins:", f"  {'NAME':<{w[0]}}  {'VERSION':<{w[1]}}  {'PROVIDES':<{w[2]}}  ORIGIN"]
    for name, version, what, origin in rows:
        out.append(f"  {name:<{w[0]}}  {version:<{w[1]}}  {what:<{w[2]}}  {origin}")
    if plugins.failures:
        out += ["", "Plugins that failed (skipped; the agent refuses to start only if a configured component needs them):"]
        for f in plugins.failures:
            out.append(f"  {f.plugin:<28} {'FAILED':<10} {f.origin}: {f.error}")
    for kind in ("source", "decoder", "sink"):
        out.append("")
        out.append(f"{kind.capitalize()} types:")
        for name in plugins.registry.names(kind):
            ct = plugins.registry.get(kind, name)
            assert ct is not None
            out.append(f"  {name}  ({ct.plugin}) {ct.description}")
            if not options:
                continue
            for path, typ, default, desc in schema_rows(effective_schema(ct)):
                if path == "type":
                    continue
                out.append(f"      {path:<34} {typ:<14} {default:<16} {desc}")
    out += ["", "Details of one type: siemrelay describe {source|decoder|sink} TYPE"]
    return "\n".join(out) + "\n"


def plugins_json(plugins: PluginSet) -> dict[str, Any]:
    plugins.import_all()
    return {
        "plugins": [{"name": p.name, "version": p.version, "origin": p.origin, "module": p.module,
                     "location": plugin_location(p.module), "provides": _provides(plugins).get(p.name, [])}
                    for p in plugins.plugins],
        "failures": [{"plugin": f.plugin, "origin": f.origin, "error": f.error} for f in plugins.failures],
        "types": [{"kind": ct.kind, "name": ct.name, "plugin": ct.plugin, "version": ct.version,
                   "description": ct.description,
                   "options": [{"key": k, "type": t, "default": d, "description": s} for k, t, d, s in schema_rows(effective_schema(ct))]}
                  for ct in plugins.registry],
    }


def _yaml_value(value: object) -> str:
    """One value as inline YAML (flow style), so a commented line uncomments to valid YAML."""
    text = yaml.safe_dump([value], default_flow_style=True, width=1 << 20, allow_unicode=True).strip()
    return text[1:-1]


def env_name(ct: ComponentType, path: str) -> str:
    """The environment variable an example block names for a value: ``TYPE_KEY_PATH`` in
    capitals (``SPLUNK_HEC_TOKEN``, ``WEBHOOK_HMAC_SECRET``); a secret ``url`` is a webhook
    URL with its key inside (``SLACK_WEBHOOK_URL``). The packaged /etc/default/siemrelay
    uses these names, so an example pastes in unchanged."""
    parts = [ct.name, *path.split(".")]
    if parts[-1] == "url" and path in _secret_keys(ct):
        parts[-1:] = ["webhook", "url"]
    words = "_".join(parts).upper().split("_")
    return "_".join(w for i, w in enumerate(words) if i == 0 or w != words[i - 1])  # WEBHOOK_WEBHOOK_URL -> WEBHOOK_URL


def _placeholder(ct: ComponentType, path: str, rules: dict[str, Any]) -> str:
    """A value for a required key: its ``meta.example``, or a ``${ENV}`` placeholder the
    user fills in the environment (a secret's only proper place), or a typed hint."""
    key = path.rsplit(".", 1)[-1]
    example = (rules.get("meta") or {}).get("example")
    if example is not None:
        return _yaml_value(example)
    if rules.get("allowed"):
        return _yaml_value(rules["allowed"][0])
    kind = rules.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "list" and rules.get("minlength"):
        return _yaml_value([f"<{key}>"])
    if key in _secret_keys(ct) or kind == "string":
        return "${" + env_name(ct, path) + "}"
    return {"list": "[]", "dict": "{}", "integer": str(rules.get("min", 0)), "number": str(rules.get("min", 0)),
            "boolean": "false"}.get(str(kind), f'"<{key}>"')


def _secret_keys(ct: ComponentType) -> set[str]:
    return set(secret_keys(ct.cls))


def example_lines(ct: ComponentType, schema: dict[str, Any], indent: str = "    ", commented: bool = False,
                  prefix: str = "") -> list[str]:
    """The example block's body: required keys set, every other key commented out at its default.

    Removing the first ``# `` of any line gives valid YAML with that key at its default;
    a secret's line ends with the ``${ENV}`` placeholder to write instead.
    """
    lines = []
    for key, rules in schema.items():
        if key == "type" or not isinstance(rules, dict):
            continue
        path = f"{prefix}{key}"
        required = bool(rules.get("required")) and not commented
        if rules.get("type") == "dict" and isinstance(rules.get("schema"), dict):
            lines.append(f"{indent}{key}:" if required else f"{indent}# {key}:")
            lines += example_lines(ct, rules["schema"], indent + "  ", commented=not required, prefix=path + ".")
        elif required:
            lines.append(f"{indent}{key}: {_placeholder(ct, path, rules)}  # required")
        elif not commented and (rules.get("meta") or {}).get("example") is not None:
            lines.append(f"{indent}{key}: {_placeholder(ct, path, rules)}  # required (here, or another way the check accepts)")
        elif "default" in rules:
            hint = f"  # secret: ${{{env_name(ct, path)}}}" if key in _secret_keys(ct) and _is_string(rules) else ""
            lines.append(f"{indent}# {key}: {_yaml_value(rules['default'])}{hint}")
    return lines


def _is_string(rules: dict[str, Any]) -> bool:
    kind = rules.get("type")
    return kind == "string" or isinstance(kind, list) and "string" in kind


def describe_type(ct: ComponentType, plugins: PluginSet | None = None) -> str:
    """What ``siemrelay describe KIND TYPE`` prints: the options table and an example block."""
    full = effective_schema(ct)
    own = [k for k in full if k in ct.schema]  # the type's own keys first, then the common ones
    schema = {k: full[k] for k in ["type", *own, *(k for k in full if k not in own and k != "type")] if k in full}
    rows = [r for r in schema_rows(schema)]
    width = max((len(r[0]) for r in rows), default=10)
    secrets = _secret_keys(ct)
    info = next((p for p in (plugins.plugins if plugins else []) if p.name == ct.plugin), None)
    origin = _origin_text(info) if info else (f"{ct.plugin} {ct.version}".strip())
    out = [f"{ct.kind} type {ct.name}: {ct.description}", f"plugin: {ct.plugin}, from {origin}", "",
           f"{'KEY':<{width}}  {'TYPE':<14} {'DEFAULT':<16} DESCRIPTION"]
    for path, typ, default, desc in rows:
        if path.rsplit(".", 1)[-1] in secrets:
            desc = f"{desc} Secret: redacted in logs and errors."
        out.append(f"{path:<{width}}  {typ:<14} {default:<16} {desc}")
    section = {"source": "sources", "sink": "sinks", "decoder": "decoders"}[ct.kind]
    out += ["", "Example (required keys set; the others are shown commented out at their defaults):", "",
            f"{section}:", f"  my_{ct.name}:", f"    type: {ct.name}"] + example_lines(ct, schema)
    return "\n".join(out) + "\n"


def _table(schema: dict[str, Any]) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    for path, typ, default, desc in schema_rows(schema):
        lines.append(f"| `{path}` | {typ} | `{default}` | {desc.replace('|', '/')} |")
    return lines


def reference_markdown(plugins: PluginSet) -> str:
    """The configuration reference, generated; ``docs/configuration.md`` must equal it."""
    plugins.import_all()
    out = ["# Configuration reference", "",
           "Generated from the schemas by `python -m agent.config.reference > docs/configuration.md`; a test fails when it is stale.", "",
           "## `agent`", ""] + _table(AGENT_SCHEMA)
    out += ["", "## Keys every sink has", ""] + _table(SINK_CORE_SCHEMA)
    sections: tuple[tuple[Kind, str], ...] = (("source", "Sources"), ("decoder", "Decoders"), ("sink", "Sinks"))
    for kind, title in sections:
        out += ["", f"## {title}"]
        for name in plugins.registry.names(kind):
            ct = plugins.registry.get(kind, name)
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
