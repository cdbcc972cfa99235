"""The hooks are the plugin API: each is documented with its signature in
docs/writing-plugins.md and has a ``test_hook_<name>`` (datasette's two meta-tests),
and each test below shows the hook doing what its docstring promises."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from agent.sdk import hookimpl, hookspecs
from agent.config.validate import validate_config
from agent.config.loader import load_config
from agent.sdk.decoder import Decoder
from agent.logging import Redactor
from agent.plugins import load_plugins
from agent.engine.supervisor import Supervisor
from agent.sdk.sink import Sink
from agent.sdk.source import Source
from agent.sdk.outcome import Delivery
from tests.conftest import ROOT

HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec"))
GUIDE = ROOT / "docs" / "writing-plugins.md"


def test_there_are_hooks() -> None:
    assert {"register_sources", "register_decoders", "register_sinks", "startup", "shutdown"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook: str) -> None:
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = re.compile(rf"^#+ .*`{re.escape(hook)}\({re.escape(params)}\)`", re.MULTILINE)
    assert heading.search(GUIDE.read_text(encoding="utf-8")), \
        f"docs/writing-plugins.md needs a heading with `{hook}({params})`"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    pattern = re.compile(rf"^\s*def test_hook_{hook}\b", re.MULTILINE)
    found = [p for p in (ROOT / "tests").rglob("test_*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert found, f"no test_hook_{hook} anywhere under tests/"


# ----------------------------------------------------------------------------- the hooks themselves
class _Src(Source):
    type_name = "hook_probe_source"
    description = "probe"

    def start(self) -> None: ...
    def stop(self) -> None: ...


class _Dec(Decoder):
    type_name = "hook_probe_decoder"
    description = "probe"

    def decode(self, record: Any) -> list[Any]:
        return []


class _Snk(Sink):
    type_name = "hook_probe_sink"
    description = "probe"

    def send(self, batch: Any) -> Delivery:
        return Delivery.success()


def _load(plugin: object) -> Any:
    return load_plugins(entry_points=False, builtins=("plugins.out_file",), extra=[("probe", plugin)])


def test_hook_register_sources() -> None:
    class P:
        @hookimpl
        def register_sources(self, register: Any) -> None:
            register(_Src)

    ps = _load(P())
    assert ps.registry.get("source", "hook_probe_source").cls is _Src
    assert ps.registry.get("source", "hook_probe_source").plugin == "probe"


def test_hook_register_decoders() -> None:
    class P:
        @hookimpl
        def register_decoders(self, register: Any) -> None:
            register(_Dec)

    assert _load(P()).registry.get("decoder", "hook_probe_decoder").cls is _Dec


def test_hook_register_sinks() -> None:
    class P:
        @hookimpl
        def register_sinks(self, register: Any) -> None:
            register(_Snk)

    ps = _load(P())
    assert ps.registry.get("sink", "hook_probe_sink").cls is _Snk
    assert ps.registry.get("sink", "file") is not None  # the built-in is still there
    assert not ps.failures


class _Lifecycle:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, bool]] = []

    @hookimpl
    def startup(self, agent: Any) -> None:
        self.calls.append(("startup", agent, bool(agent.workers)))

    @hookimpl
    def shutdown(self, agent: Any) -> None:
        self.calls.append(("shutdown", agent, bool(agent.workers)))


@pytest.fixture
def supervisor_with(tmp_path: Path, write_config: Any) -> Any:
    def make(plugin: object) -> Supervisor:
        path = write_config(f"""
            agent: {{state_dir: {tmp_path / 'state'}}}
            sinks:
              out: {{type: file, path: {tmp_path / 'out.jsonl'}}}
            routes: [{{name: all, to: [out]}}]
            """)
        plugins = _load(plugin)
        return Supervisor(validate_config(load_config(path), plugins), plugins, Redactor())

    return make


def test_hook_startup(supervisor_with: Any) -> None:
    probe = _Lifecycle()
    sup = supervisor_with(probe)
    sup.start()
    try:
        assert probe.calls == [("startup", sup, True)]  # once, with the workers running
    finally:
        sup.shutdown()


def test_hook_shutdown(supervisor_with: Any) -> None:
    probe = _Lifecycle()
    sup = supervisor_with(probe)
    sup.start()
    sup.shutdown()
    assert [c[0] for c in probe.calls] == ["startup", "shutdown"]
    assert probe.calls[1][1] is sup and probe.calls[1][2] is False  # after the sinks were stopped
