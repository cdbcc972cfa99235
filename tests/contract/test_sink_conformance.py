"""Every registered sink type, built-in or installed, passes the conformance suite that
third-party authors run (``agent.testing.conformance``, ``agent.testing.pytest_plugin.SinkConformance``).

The parametrization is read from the registry at collection time, so a new built-in
under ``plugins/out_*`` (or an installed third-party sink) is covered with no edit here.
Only the checks that apply to a sink's transport are generated (HTTP status handling
means nothing to a file sink), and each generated check must pass: a sink that loses
its ``conformance_config`` or its ``encode_batch`` fails here instead of being skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.testing.conformance import CHECKS, run_conformance, transport_of
from agent.plugins import load_plugins

_PLUGINS = load_plugins()
SINKS = {name: _PLUGINS.registry.get("sink", name).cls for name in _PLUGINS.registry.names("sink")}  # type: ignore[union-attr]

#: Transports each check applies to; a check not listed applies to every sink.
#: "external" is a sink that needs its own kind of peer (NATS): its outcomes are
#: tested against the real server in that plugin's own tests.
APPLIES_TO = {
    "ok": {"http", "tcp", "file", "none"},
    "connection_refused": {"http", "tcp"},
    "timeout": {"http"},
    "http_429": {"http"}, "http_500": {"http"}, "http_503": {"http"}, "http_400": {"http"}, "http_403": {"http"},
}

CASES = [(sink, check) for sink, cls in SINKS.items() for check, _ in CHECKS
         if check not in APPLIES_TO or transport_of(cls) in APPLIES_TO[check]]


def test_built_in_sinks_are_all_covered() -> None:
    builtin = {name for name, cls in SINKS.items() if cls.__module__.startswith("plugins.")}
    assert {"file", "stdout", "cef", "syslog", "splunk_hec", "slack", "teams", "webhook", "nats", "sentinel", "secops"} <= builtin
    for name in builtin:
        assert hasattr(SINKS[name], "conformance_config"), f"{name} does not opt into the conformance suite"


@pytest.mark.parametrize("name", sorted(SINKS))
def test_sink_is_registered_through_a_plugin(name: str) -> None:
    ct = _PLUGINS.registry.get("sink", name)
    assert ct is not None and ct.plugin, name
    assert ct.cls.type_name == name


@pytest.mark.parametrize("sink,check", CASES, ids=[f"{s}-{c}" for s, c in CASES])
def test_sink_passes_conformance_check(sink: str, check: str, tmp_path: Path) -> None:
    result = run_conformance(SINKS[sink], tmp_path, only=[check])[check]
    assert result == "ok", f"{sink} ({transport_of(SINKS[sink])}): {check}: {result}"
