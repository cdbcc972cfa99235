"""``check_config`` only reads the section it checks, for every registered type.

``siemrelay validate`` and a reload run it on sections the agent keeps and compares: a
check that wrote into the section (as the chat sinks' once did, to follow the digest
window) made validation and start-up disagree. Settings that follow from other settings
belong in ``Sink.derive_config``, which returns a new section.

Each type is checked on a section that validates, and again with each value of each of its
choice keys (``format: object``, ``transport: file``, ...) and with a digest window where
it has one: the variants that once made a check write.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

import pytest

from agent.config.loader import SourceMap
from agent.config.schema import compose_sink_schema, compose_source_schema, validate_section, with_nested_defaults
from agent.errors import Problem
from agent.plugins import load_plugins
from agent.registry import ComponentType
from agent.sdk import Sink
from agent.testing.conformance import Endpoint, fallback_config

_PLUGINS = load_plugins(entry_points=False)
TYPES = list(_PLUGINS.registry)
IDS = [f"{ct.kind}:{ct.name}" for ct in TYPES]


def _endpoint(tmp: Path) -> Endpoint:
    """Where a sink's section points; nothing is contacted (port 9 is discard, and nothing is sent)."""
    return Endpoint(transport="http", host="127.0.0.1", port=9, path=str(tmp / "out.log"), workdir=str(tmp),
                    secret="c" * 32)


def _base(ct: ComponentType, tmp: Path) -> dict[str, Any]:
    if ct.kind == "sink":
        make = getattr(ct.cls, "conformance_config", None)
        endpoint = _endpoint(tmp)
        return dict(make(endpoint)) if callable(make) else fallback_config(ct.cls, endpoint)
    neutral = {"list": ["conformance"], "string": "conformance", "integer": 1, "number": 1.0, "dict": {}}
    return {k: neutral[str(r.get("type"))] for k, r in ct.schema.items() if r.get("required")}


def _variants(ct: ComponentType, base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield base
    for key, rules in ct.schema.items():
        for value in rules.get("allowed") or ():
            yield {**base, key: value}
    if "digest" in ct.schema:
        yield {**base, "digest": {"window_s": 60, "max_events": 50}}


def _schema(ct: ComponentType) -> dict[str, Any]:
    if ct.kind == "sink":
        return compose_sink_schema(ct.schema, getattr(ct.cls, "DEFAULTS", {}))
    if ct.kind == "source":
        return compose_source_schema(ct.schema)
    return with_nested_defaults({"type": {"type": "string", "required": True}, **ct.schema})


@pytest.mark.parametrize("ct", TYPES, ids=IDS)
def test_check_config_leaves_the_section_unchanged(ct: ComponentType, tmp_path: Path) -> None:
    checked = 0
    for raw in _variants(ct, _base(ct, tmp_path)):
        problems: list[Problem] = []
        doc = validate_section({"type": ct.name, **raw}, _schema(ct), SourceMap(default_file="<test>"), ("x",), problems)
        if doc is None:
            continue  # a choice that needs other keys: not a section the agent would check
        before = copy.deepcopy(doc)
        ct.cls.check_config(doc)  # type: ignore[attr-defined]
        assert doc == before, f"check_config changed {raw}"
        checked += 1
    assert checked, f"no section of {ct.kind} {ct.name} validated: the test checked nothing"


def test_derived_settings_come_back_in_a_new_section() -> None:
    """What check_config used to write: a digest window drives the chat sink's batch, through
    derive_config, and the validated section stays as the user wrote it."""
    slack = _PLUGINS.registry.get("sink", "slack")
    assert slack is not None
    problems: list[Problem] = []
    doc = validate_section({"type": "slack", "url": "https://hooks.slack.com/services/T/B/X", "digest": {"window_s": 300}},
                           _schema(slack), SourceMap(), ("sinks", "chat"), problems)
    assert doc is not None
    before = copy.deepcopy(doc)
    derived = slack.cls.derive_config(doc)  # type: ignore[attr-defined]
    assert doc == before
    assert (derived["batch"]["max_wait_s"], derived["batch"]["max_events"]) == (300, 1000)
    assert Sink.derive_config(doc) is doc  # the default derives nothing


def test_validation_derives_the_chat_batch_and_a_reload_of_the_same_file_sees_no_change(write_config: Any,
                                                                                         tmp_path: Path) -> None:
    """Through the agent's own path: the worker's section has the digest batch, building the
    sink changes nothing, and validating the same file again (what a reload compares) gives an
    equal section, so a reload does not rebuild the sink and reset its circuit."""
    from agent.config.loader import load_config
    from agent.config.validate import validate_config
    from agent.engine.build import build_sinks

    path = write_config(f"""
        agent: {{state_dir: {tmp_path}/state}}
        sinks:
          chat: {{type: teams, url: "https://example.webhook.office.com/webhookb2/x", digest: {{window_s: 120}}}}
        routes:
          - {{name: all, to: [chat]}}
        """)
    first = validate_config(load_config(path, env={}), _PLUGINS)
    _, section = first.sinks["chat"]
    assert (section["batch"]["max_wait_s"], section["batch"]["max_events"]) == (120, 1000)
    before = copy.deepcopy(section)
    sinks = build_sinks(first, redact=lambda text: text)
    sinks["chat"].close()
    assert section == before
    again = validate_config(load_config(path, env={}), _PLUGINS)
    assert again.sinks["chat"][1] == section
