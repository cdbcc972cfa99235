"""Every registered sink type, built-in or installed, passes the same conformance suite
that third-party authors run (``agent.pytest_plugin.SinkConformance``).

The parametrization is read from the registry at collection time, so a new built-in
under ``plugins/out_*`` (or an installed third-party sink) is covered with no edit here.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent.plugins import load_plugins
from agent.pytest_plugin import SinkConformance

_PLUGINS = load_plugins()
SINK_TYPES = [_PLUGINS.registry.get("sink", name) for name in _PLUGINS.registry.names("sink")]


@pytest.mark.parametrize("name", [ct.name for ct in SINK_TYPES if ct])
def test_sink_is_registered_through_a_plugin(name: str) -> None:
    ct = _PLUGINS.registry.get("sink", name)
    assert ct is not None and ct.plugin, name
    assert ct.cls.type_name == name


class TestEverySink(SinkConformance):
    @pytest.fixture(params=SINK_TYPES, ids=[ct.name for ct in SINK_TYPES if ct])
    def sink_type(self, request: Any) -> Any:
        return request.param.cls
