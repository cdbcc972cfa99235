"""The built-in decoders are found like third-party ones, and their options are documented and valid."""

from __future__ import annotations

import cerberus
import pytest

from agent.plugins import load_plugins
from agent.config.schema import with_nested_defaults

MINE = ("escape", "detectify", "zeropath", "pentest", "json", "ndjson", "cef", "raw", "auto")


@pytest.fixture(scope="module")
def registry():  # type: ignore[no-untyped-def]
    plugins = load_plugins(entry_points=False)
    assert not plugins.failures
    return plugins.registry


@pytest.mark.parametrize("name", MINE)
def test_registered_with_description_and_a_documented_schema(registry, name: str) -> None:  # type: ignore[no-untyped-def]
    ct = registry.get("decoder", name)
    assert ct is not None and ct.plugin.startswith("plugins.dec_")
    assert ct.description
    for key, rule in ct.schema.items():
        assert "type" in rule, key
        assert "default" in rule or rule.get("required"), key
        assert rule.get("meta", {}).get("description"), key
    defaults = cerberus.Validator(with_nested_defaults(ct.schema))
    assert defaults.validate({}), defaults.errors
    ct.cls(defaults.document)  # the defaults build a working decoder
