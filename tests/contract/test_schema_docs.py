"""Every key of every registered type (and of the core) has a description and either a
default or ``required: True``, and every default passes its own rules; `describe`
shows the real defaults. Types are read from the registry, so new plugins are covered."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from agent.testing.checks import default_problems, schema_problems
from agent.config.reference import describe_type, effective_schema
from agent.plugins import load_plugins
from agent.config.schema import AGENT_SCHEMA, ROUTE_SCHEMA, SINK_CORE_SCHEMA, SOURCE_CORE_SCHEMA

_PLUGINS = load_plugins()
TYPES = list(_PLUGINS.registry)
IDS = [f"{ct.kind}:{ct.name}" for ct in TYPES]
CORE = {"agent": AGENT_SCHEMA, "sink": SINK_CORE_SCHEMA, "source": SOURCE_CORE_SCHEMA, "route": ROUTE_SCHEMA}


@pytest.mark.parametrize("ct", TYPES, ids=IDS)
def test_every_key_has_a_description_and_a_default_or_is_required(ct: Any) -> None:
    assert schema_problems(ct.schema) == []


@pytest.mark.parametrize("ct", TYPES, ids=IDS)
def test_every_default_validates(ct: Any) -> None:
    assert default_problems(ct.schema) == []


@pytest.mark.parametrize("name", sorted(CORE))
def test_core_schemas_are_documented_and_their_defaults_valid(name: str) -> None:
    assert schema_problems(CORE[name]) == [] and default_problems(CORE[name]) == []


def test_the_checks_catch_what_they_claim() -> None:
    bad = {"a": {"type": "string"}, "b": {"type": "integer", "default": "x", "meta": {"description": "B."}},
           "c": {"type": "dict", "meta": {"description": "C."}, "schema": {"d": {"type": "string", "default": "y"}}}}
    assert schema_problems(bad) == ["a: no description (add meta: {description: ...})",
                                    "a: neither a default nor required: True", "c.d: no description (add meta: {description: ...})"]
    assert [p.split(":")[0] for p in default_problems(bad)] == ["b"]


def _uncomment(line: str) -> str:
    return line.replace("# ", "", 1)


@pytest.mark.parametrize("ct", [ct for ct in TYPES if ct.kind == "sink"], ids=[i for i in IDS if i.startswith("sink:")])
def test_describe_example_block_shows_every_default(ct: Any) -> None:
    text = describe_type(ct, _PLUGINS)
    block = text.split("\n\n")[-1]
    commented = yaml.safe_load("\n".join(_uncomment(line) if "# required" not in line else line for line in block.splitlines()))
    section = commented["sinks"][f"my_{ct.name}"]
    assert section["type"] == ct.name
    schema = effective_schema(ct)
    for key, rules in schema.items():
        if key == "type":
            continue
        if rules.get("required"):
            assert key in section, f"required key {key} missing from the example"
        elif "default" in rules and not isinstance(rules.get("schema"), dict):
            # a key with meta.example is shown set to it (how to satisfy a cross-key check), others at their default
            assert section[key] == (rules.get("meta") or {}).get("example", rules["default"]), key
