"""Types registered by reference (``agent.sdk.TypeRef``): named at load, imported when needed.

The built-ins register every type this way, so an agent imports the components its
configuration names and not the others (a file-to-syslog agent loads no OTLP, NATS, S3,
Sentinel or HTTP server module: about 4 MB of its RSS). A reference that cannot be
imported, or names a class that is not what was registered, is an error where the type
is used: ``validate`` names the file and line, ``siemrelay plugins`` lists it as failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent.config.validate import validate_config
from agent.errors import ConfigError
from agent.plugins import load_plugins
from agent.registry import ComponentRegistry, RegistryError
from agent.sdk import TypeRef, hookimpl
from tests.conftest import ROOT, run_cli
from tests.contract.test_plugin_loading import _config


def _plugin(*refs: TypeRef) -> object:
    class P:
        @hookimpl
        def register_sinks(self, register: Any) -> None:
            for ref in refs:
                register(ref)

    return P()


def test_a_reference_is_imported_only_when_its_class_is_needed() -> None:
    code = ("import json, sys; from agent.plugins import load_plugins; ps = load_plugins(entry_points=False); "
            "ct = ps.registry.get('sink', 'sentinel'); before = 'plugins.out_sentinel.sink' in sys.modules; "
            "name = ct.cls.__name__; print(json.dumps([before, name, 'plugins.out_sentinel.sink' in sys.modules, "
            "'plugins.out_s3.sink' in sys.modules, 'plugins.in_otlp.source' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == [False, "SentinelSink", True, False, False]


def test_an_agent_validating_a_file_to_syslog_config_imports_no_other_component(tmp_path: Path) -> None:
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""
        agent: {{state_dir: {tmp_path / 'state'}}}
        sources:
          events: {{type: file, paths: ["{tmp_path}/in.jsonl"], decoder: json}}
        sinks:
          collector: {{type: syslog, address: "127.0.0.1:6514", transport: tcp}}
        routes: [{{name: all, to: [collector]}}]
        """))
    code = ("import json, sys; from agent.plugins import load_plugins; from agent.config.loader import load_config; "
            "from agent.config.validate import validate_config; "
            f"validate_config(load_config({str(config)!r}), load_plugins(entry_points=False)); "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('plugins.') and m.count('.') == 2)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, cwd=ROOT)
    loaded = {m.split(".")[1] for m in json.loads(out.stdout)}
    assert loaded == {"in_tail", "out_syslog"}, loaded  # the json decoder is imported when the source builds it


def test_a_reference_to_a_missing_module_is_a_problem_where_the_config_names_it(tmp_path: Path) -> None:
    ps = load_plugins(entry_points=False, builtins=("plugins.out_file",),
                      extra=[("lazy", _plugin(TypeRef("ghost", "no_such_module_here:GhostSink")))])
    assert ps.registry.get("sink", "ghost") is not None and not ps.failures  # named, not yet imported
    with pytest.raises(ConfigError) as err:
        validate_config(_config(tmp_path, "ghost"), ps)
    [problem] = err.value.problems
    assert problem.file.endswith("siemrelay.yaml") and problem.line == 4 and problem.path == "sinks.out.type"
    assert "'lazy'" in problem.message and "no_such_module_here" in problem.message and "ModuleNotFoundError" in problem.message
    validate_config(_config(tmp_path, "file"), ps)  # harmless when nothing names it


def test_a_reference_to_a_class_of_another_name_or_kind_is_refused() -> None:
    registry = ComponentRegistry()
    registry.add("sink", TypeRef("sysloggy", "plugins.out_syslog.sink:SyslogSink"), "p")
    registry.add("source", TypeRef("syslog", "plugins.out_syslog.sink:SyslogSink"), "p")
    with pytest.raises(RegistryError, match="'sysloggy'.*is type 'syslog'"):
        registry.get("sink", "sysloggy").cls  # type: ignore[union-attr]  # noqa: B018
    with pytest.raises(RegistryError, match="not a subclass"):
        registry.get("source", "syslog").cls  # type: ignore[union-attr]  # noqa: B018
    with pytest.raises(RegistryError, match="module:Class"):
        registry.add("sink", TypeRef("bad name", "x"), "p")


def test_another_class_under_a_registered_name_is_a_duplicate_and_the_same_one_is_harmless() -> None:
    ps = load_plugins(entry_points=False, builtins=("plugins.out_syslog",),
                      extra=[("again", _plugin(TypeRef("syslog", "plugins.out_syslog.sink:SyslogSink"))),
                             ("copycat", _plugin(TypeRef("syslog", "plugins.out_file.sink:FileSink")))])
    [failure] = ps.failures
    assert "registered twice" in failure.error and "'copycat'" in failure.error
    assert ps.registry.get("sink", "syslog").plugin == "plugins.out_syslog"  # type: ignore[union-attr]


def test_plugins_lists_a_reference_that_cannot_be_imported_as_a_failure() -> None:
    from agent.config.reference import plugins_json

    ps = load_plugins(entry_points=False, builtins=("plugins.out_file",),
                      extra=[("lazy", _plugin(TypeRef("ghost", "no_such_module_here:GhostSink")))])
    listed = plugins_json(ps)
    assert "ghost" not in [t["name"] for t in listed["types"]] and "file" in [t["name"] for t in listed["types"]]
    [failure] = listed["failures"]
    assert failure["plugin"] == "lazy" and "no_such_module_here" in failure["error"]


@pytest.fixture
def lazy_distribution(tmp_path: Path) -> dict[str, str]:
    """An installed distribution whose plugin registers a sink by reference to a module
    that fails to import (its dependency is missing), and a working one beside it."""
    site = tmp_path / "site"
    info = site / "lazy_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lazy-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[siemrelay]\nlazy = lazy_plugin\n")
    (site / "lazy_plugin.py").write_text(textwrap.dedent("""\
        from agent.sdk import TypeRef, hookimpl

        @hookimpl
        def register_sinks(register):
            register(TypeRef("ghost", "lazy_plugin_ghost:GhostSink"))
        """))
    (site / "lazy_plugin_ghost.py").write_text("import a_module_that_is_not_installed\n")
    return {"PYTHONPATH": f"{site}:{ROOT}"}


def test_the_cli_reports_an_unimportable_reference_where_it_is_used(lazy_distribution: dict[str, str], tmp_path: Path) -> None:
    """Through the commands a user runs, with the plugin installed: ``validate`` passes a
    configuration that does not name the type, fails one that does with its file, line and
    key, and ``plugins`` lists the type as its plugin's failure."""
    config = tmp_path / "siemrelay.yaml"
    _config(tmp_path, "file")
    assert run_cli("validate", "-c", str(config), env=lazy_distribution).returncode == 0
    _config(tmp_path, "ghost")
    done = run_cli("validate", "-c", str(config), env=lazy_distribution)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{config}:4: sinks.out.type:" in done.stderr and "a_module_that_is_not_installed" in done.stderr
    assert "Traceback" not in done.stderr
    listed = run_cli("plugins", "--brief", env=lazy_distribution)
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if line.strip().startswith("lazy ") and "FAILED" in line]
    assert "sink type ghost" in line and "a_module_that_is_not_installed" in line
    assert not any(line.strip().startswith("ghost ") for line in listed.stdout.splitlines())  # not among the types
