"""``agent.sdk``: every name it offers resolves, and importing it loads only what is asked for.

The SDK imports each name's module on first use (PEP 562), so a process that only
decodes (the preparing child) does not load TLS, HTTP, NATS or YAML through it. These
run in a fresh interpreter: this one has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import agent.sdk


def _fresh(code: str) -> object:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


def test_every_exported_name_resolves_to_what_its_module_defines() -> None:
    import importlib

    for name in agent.sdk.__all__:
        value = getattr(agent.sdk, name)
        if name == "AGENT_VERSION":
            continue
        module, own = agent.sdk._LAZY[name]
        assert value is getattr(importlib.import_module(module), own), name


def test_importing_the_sdk_or_a_decoder_name_loads_no_tls_http_nats_or_yaml() -> None:
    loaded = _fresh("import json, sys; from agent.sdk import Decoder, DecodeError, Event, RawRecord, Register, hookimpl; "
                    "print(json.dumps(sorted(m for m in ('ssl', 'asyncio', 'http.server', 'requests', 'yaml', 'sqlite3', "
                    "'agent.sdk.nats_connection', 'agent.sdk.tls', 'agent.sdk.sockets') if m in sys.modules)))")
    assert loaded == []


def test_render_and_describe_stay_functions_after_their_modules_are_imported() -> None:
    """Both share their name with their module: importing ``agent.sdk.render`` must not
    make ``from agent.sdk import render`` give the module."""
    kinds = _fresh("import json, agent.sdk.render, agent.sdk.describe; from agent.sdk import render, describe; "
                   "print(json.dumps([type(render).__name__, type(describe).__name__]))")
    assert kinds == ["function", "function"]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        agent.sdk.NoSuchThing  # noqa: B018


def test_the_names_type_checkers_see_are_the_names_the_sdk_serves() -> None:
    """The ``TYPE_CHECKING`` block (what mypy reads) and ``_EXPORTS`` (what ``__getattr__``
    serves) list the same names from the same modules, so neither drifts from the other."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(agent.sdk.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    seen: dict[str, tuple[str, str]] = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                seen[alias.asname or alias.name] = (str(node.module), alias.name)
        elif isinstance(node, ast.Assign):  # NATS_NAME_RE = NAME_RE: the SDK's own name for an imported one
            [target] = node.targets
            assert isinstance(target, ast.Name) and isinstance(node.value, ast.Name)
            seen[target.id] = seen.pop(node.value.id)
    assert seen == agent.sdk._LAZY
