"""What the CLI writes as YAML (``config --effective``, ``tap --format yaml``) reads back
through PyYAML as the very document it came from, whatever the keys and strings hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml
from hypothesis import given, settings, strategies as st

from agent.cli.config import effective_yaml
from agent.cli.live import format_event

_SECRET_NAMES = {"token", "secret", "password", "read_token"}
keys = st.text(min_size=0, max_size=12).filter(lambda k: k not in _SECRET_NAMES)
scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20)
documents = st.dictionaries(keys, values, max_size=6)


@settings(max_examples=60, deadline=None)
@given(documents)
def test_effective_yaml_reads_back_as_the_document(doc: dict[str, Any]) -> None:
    text = effective_yaml(doc, {}, Path("/"), lambda s: s, {})
    assert yaml.safe_load(text) == (doc or None), text


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(keys, values, max_size=6))
def test_tapped_events_in_yaml_read_back_as_the_event(event: dict[str, Any]) -> None:
    doc = format_event(orjson.dumps(event), "yaml")
    assert doc.startswith("---\n") and yaml.safe_load(doc) == event, doc
