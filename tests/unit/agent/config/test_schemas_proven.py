"""Our own configuration schemas are valid cerberus schemas: what lets the agent skip checking them.

cerberus checks every schema it is given before it validates a document; for siemrelay's
own schemas (the core sections and every built-in plugin's, as the configuration
composes them) that check is skipped at run time (``agent.config.schema._ProvenSchema``)
because these tests make it here, with cerberus itself. A third-party plugin's schema
is still checked at every start, and one cerberus refuses is a configuration error
naming the section, not a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cerberus
import pytest

from agent.config.schema import (AGENT_SCHEMA, ROUTE_SCHEMA, TOP_SCHEMA, compose_source_schema, validate_section,
                                 with_nested_defaults)
from agent.config.loader import LoadedConfig, SourceMap, load_yaml_text
from agent.config.validate import validate_config
from agent.errors import ConfigError, Problem
from agent.plugins import load_plugins
from agent.sdk import Delivery, Sink, hookimpl
from agent.sdk.sinkschema import compose_sink_schema

PLUGINS = load_plugins(entry_points=False)


def _proven_schemas() -> list[tuple[str, dict[str, Any]]]:
    """Every schema validated with ``proven=True``, as the configuration builds it."""
    schemas = [("top", with_nested_defaults(TOP_SCHEMA)), ("agent", with_nested_defaults(AGENT_SCHEMA)),
               ("route", with_nested_defaults(ROUTE_SCHEMA))]
    for ct in PLUGINS.registry:
        assert PLUGINS.is_builtin(ct.plugin), ct
        if ct.kind == "sink":
            schemas.append((f"sink {ct.name}", compose_sink_schema(ct.schema, getattr(ct.cls, "DEFAULTS", {}))))
        elif ct.kind == "source":
            schemas.append((f"source {ct.name}", compose_source_schema(ct.schema)))
        else:
            schemas.append((f"decoder {ct.name}",
                            with_nested_defaults({"type": {"type": "string", "required": True}, **ct.schema})))
    return schemas


@pytest.mark.parametrize("name,schema", _proven_schemas(), ids=[n for n, _ in _proven_schemas()])
def test_every_schema_of_our_own_is_a_valid_cerberus_schema(name: str, schema: dict[str, Any]) -> None:
    class Checked(cerberus.Validator):  # a fresh class: no schema cached as valid by an earlier test
        pass

    Checked(schema)  # raises cerberus.schema.SchemaError for a rule cerberus does not know


def test_the_built_in_plugins_are_all_of_them() -> None:
    """The parametrised test above covers every type the agent ships (none failed to load)."""
    assert not PLUGINS.failures
    assert {"syslog", "splunk_hec", "file"} <= set(PLUGINS.registry.names("sink"))
    assert {"json", "syslog"} <= set(PLUGINS.registry.names("decoder"))


class _BadSchemaSink(Sink):
    type_name = "bad_schema"
    CONFIG_SCHEMA = {"level": {"type": "no-such-type"}}

    def send(self, batch: Any) -> Delivery:
        return Delivery.success("")


class _ThirdParty:
    @hookimpl
    def register_sinks(self, register: Any) -> None:
        register(_BadSchemaSink)


def test_a_third_party_schema_cerberus_refuses_is_a_configuration_error_naming_the_sink() -> None:
    plugins = load_plugins(entry_points=False, builtins=("plugins.out_file",), extra=[("acme", _ThirdParty())])
    assert not plugins.is_builtin("acme") and plugins.is_builtin("plugins.out_file")
    data, smap = load_yaml_text("sinks:\n  mine:\n    type: bad_schema\n    level: 3\n", "main.yaml")
    with pytest.raises(ConfigError) as err:
        validate_config(LoadedConfig(Path("main.yaml"), data, smap, [Path("main.yaml")], set()), plugins)
    [problem] = [p for p in err.value.problems if "schema" in p.message]
    assert problem.line == 2 and problem.path == "sinks.mine" and "not a valid cerberus schema" in problem.message and "no-such-type" in problem.message


def test_a_proven_schema_still_validates_documents() -> None:
    """Skipping the schema's own check changes nothing about the documents it checks."""
    problems: list[Problem] = []
    smap = SourceMap(default_file="main.yaml")
    schema = with_nested_defaults(AGENT_SCHEMA)
    assert validate_section({"log_level": "loud"}, schema, smap, ("agent",), problems, proven=True) is None
    proven = [p.message for p in problems]
    problems.clear()
    assert validate_section({"log_level": "loud"}, schema, smap, ("agent",), problems) is None
    assert proven == [p.message for p in problems] and proven
    doc = validate_section({}, schema, smap, ("agent",), [], proven=True)
    assert doc is not None and doc["log_level"] == validate_section({}, schema, smap, ("agent",), [])["log_level"]
