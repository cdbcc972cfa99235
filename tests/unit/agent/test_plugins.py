"""Plugin loading and lifecycle hooks: a broken plugin disables itself, never the agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loguru import logger

from agent.sdk import hookimpl
from agent.config.validate import validate_config
from agent.config.loader import load_config
from agent.logging import Redactor
from agent.plugins import call_hook_each, load_plugins
from agent.engine.supervisor import Supervisor
from tests.conftest import ROOT, run_cli


class _MisspeltHook:
    @hookimpl
    def register_sink(self, register: Any) -> None:  # the hook is register_sinks
        raise AssertionError("never called")


class _Lifecycle:
    def __init__(self, name: str, calls: list[str], fail: bool = False) -> None:
        self.name, self.calls, self.fail = name, calls, fail

    @hookimpl
    def startup(self, agent: Any) -> None:
        self.calls.append(f"{self.name}.startup")
        if self.fail:
            raise RuntimeError(f"{self.name} cannot start")

    @hookimpl
    def shutdown(self, agent: Any) -> None:
        self.calls.append(f"{self.name}.shutdown")
        if self.fail:
            raise RuntimeError(f"{self.name} cannot stop")


def test_a_hook_that_matches_no_hookspec_is_that_plugins_failure_not_a_crash() -> None:
    ps = load_plugins(entry_points=False, builtins=("plugins.out_file",), extra=[("typo", _MisspeltHook())])
    [failure] = ps.failures
    assert failure.plugin == "typo" and "unknown hook 'register_sink'" in failure.error
    assert "register_sinks" in failure.error  # the valid names, to fix the typo
    assert ps.pm.get_plugin("typo") is None and ps.registry.get("sink", "file") is not None


def test_an_installed_plugin_with_a_misspelt_hook_is_listed_as_failed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "typo_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: typo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[siemrelay]\ntypo = typo_plugin\n")
    (site / "typo_plugin.py").write_text("from agent.sdk import hookimpl\n\n@hookimpl\ndef register_sink(register):\n    pass\n")
    env = {"PYTHONPATH": f"{site}:{ROOT}"}
    done = run_cli("plugins", "--brief", env=env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith("typo "))
    assert "FAILED" in line and "unknown hook 'register_sink'" in line
    config = tmp_path / "c.yaml"
    config.write_text(f"agent: {{state_dir: {tmp_path / 'state'}}}\nsinks: {{out: {{type: stdout}}}}\n"
                      "routes: [{name: default, to: [out]}]\n")
    done = run_cli("validate", "-c", str(config), env=env)
    assert done.returncode == 0, done.stderr
    assert "plugin typo" in done.stdout and "is disabled" in done.stdout


def test_call_hook_each_runs_every_implementation_and_reports_the_failures() -> None:
    calls: list[str] = []
    ps = load_plugins(entry_points=False, builtins=(), extra=[("a", _Lifecycle("a", calls, fail=True)),
                                                            ("b", _Lifecycle("b", calls))])
    failed = call_hook_each(ps.pm, "startup", agent=None)
    assert sorted(calls) == ["a.startup", "b.startup"]
    assert [(name, str(exc)) for name, exc in failed] == [("a", "a cannot start")]


def test_a_raising_startup_or_shutdown_hook_is_logged_and_the_agent_runs_on(tmp_path: Path) -> None:
    calls: list[str] = []
    plugins = load_plugins(entry_points=False, builtins=("plugins.out_file",),
                           extra=[("bad", _Lifecycle("bad", calls, fail=True)), ("good", _Lifecycle("good", calls))])
    config = tmp_path / "c.yaml"
    config.write_text(f"agent: {{state_dir: {tmp_path / 'state'}}}\n"
                      f"sinks: {{out: {{type: file, path: {tmp_path / 'out.jsonl'}}}}}\n"
                      "routes: [{name: default, to: [out]}]\n")
    lines: list[str] = []
    handler = logger.add(lambda m: lines.append(str(m)), level="ERROR", format="{message}")
    try:
        sup = Supervisor(validate_config(load_config(config), plugins), plugins, Redactor())
        sup.start()
        try:
            assert set(sup.workers) == {"out"} and sup.workers["out"]._thread.is_alive()
        finally:
            sup.shutdown()
    finally:
        logger.remove(handler)
    assert sorted(calls) == ["bad.shutdown", "bad.startup", "good.shutdown", "good.startup"]
    assert any("plugin bad's startup hook failed (RuntimeError: bad cannot start)" in line for line in lines), lines
    assert any("plugin bad's shutdown hook failed: RuntimeError: bad cannot stop" in line for line in lines), lines
    assert not any("good" in line for line in lines)


def test_the_decoder_plugins_asked_for_decoders_alone_load_no_source_or_sink_module() -> None:
    """What the preparing child does (the plugins that register decoders, their decoders
    only): ``in_otlp`` registers a decoder beside its source, and the source's HTTP server
    and TLS stay unloaded; ``out_syslog``'s head renderer imports without its sink."""
    import json
    import subprocess
    import sys

    everything = load_plugins(entry_points=False)
    assert "otlp" in everything.registry.names("source") and "syslog" in everything.registry.names("sink")
    decoder_plugins = sorted({ct.plugin for name in everything.registry.names("decoder")
                              if (ct := everything.registry.get("decoder", name)) is not None})
    assert "plugins.in_otlp" in decoder_plugins
    code = ("import json, sys; from agent.plugins import load_plugins; "
            f"ps = load_plugins(entry_points=False, allow={decoder_plugins!r}, kinds=('decoder',)); "
            "import plugins.out_syslog.encoder; "
            "print(json.dumps([sorted(ps.registry.names('decoder')), sorted(ps.registry.names('source')), "
            "sorted(ps.registry.names('sink')), sorted(m for m in ('plugins.in_otlp.source', 'plugins.out_syslog.sink', "
            "'http.server', 'ssl', 'agent.sdk.sockets') if m in sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    decoders, sources, sinks, loaded = json.loads(out.stdout)
    assert set(decoders) == set(everything.registry.names("decoder"))
    assert sources == [] and sinks == [] and loaded == []
