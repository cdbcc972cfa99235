"""A broken plugin is reported and skipped; it is fatal only when a configured
component needs a type it would have provided."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent.sdk import hookimpl
from agent.config.validate import validate_config
from agent.config.loader import load_config
from agent.sdk.outcome import Delivery
from agent.errors import ConfigError
from agent.plugins import load_plugins
from agent.sdk.sink import Sink
from tests.conftest import ROOT, run_cli


class _Dup(Sink):
    type_name = "file"  # already the built-in's
    description = "an impostor"

    def send(self, batch: Any) -> Delivery:
        return Delivery.success()


class _Old(Sink):
    type_name = "from_the_future"
    description = "written for another plugin API"
    api_version = 99

    def send(self, batch: Any) -> Delivery:
        return Delivery.success()


def _plugin(cls: type | None = None, exc: Exception | None = None) -> object:
    class P:
        @hookimpl
        def register_sinks(self, register: Any) -> None:
            if exc is not None:
                raise exc
            register(cls)

    return P()


def _load(*extra: tuple[str, object]) -> Any:
    return load_plugins(entry_points=False, builtins=("plugins.out_file",), extra=list(extra))


def test_a_raising_hook_is_reported_and_the_rest_runs() -> None:
    ps = _load(("exploding", _plugin(exc=RuntimeError("boom"))))
    [failure] = ps.failures
    assert failure.plugin == "exploding" and "RuntimeError" in failure.error and "boom" in failure.error
    assert ps.registry.get("sink", "file") is not None


def test_a_wrong_api_version_is_refused_naming_the_plugin() -> None:
    ps = _load(("futuristic", _plugin(_Old)))
    [failure] = ps.failures
    assert "'futuristic'" in failure.error and "version 99" in failure.error
    assert ps.registry.get("sink", "from_the_future") is None


def test_a_duplicate_type_name_is_refused_naming_both_plugins() -> None:
    ps = _load(("impostor", _plugin(_Dup)))
    [failure] = ps.failures
    assert "'plugins.out_file'" in failure.error and "'impostor'" in failure.error
    assert ps.registry.get("sink", "file").plugin == "plugins.out_file"  # the first one stays


def _config(tmp_path: Path, sink_type: str) -> Any:
    path = tmp_path / "siemrelay.yaml"
    path.write_text(textwrap.dedent(f"""
        agent: {{state_dir: {tmp_path / 'state'}}}
        sinks:
          out: {{type: {sink_type}, path: {tmp_path / 'out.jsonl'}}}
        routes: [{{name: all, to: [out]}}]
        """))
    return load_config(path)


def test_a_failed_plugin_is_harmless_when_nothing_needs_it(tmp_path: Path) -> None:
    ps = _load(("exploding", _plugin(exc=RuntimeError("boom"))))
    cfg = validate_config(_config(tmp_path, "file"), ps)
    assert set(cfg.sinks) == {"out"}


def test_a_configured_type_from_a_failed_plugin_is_fatal_and_says_why(tmp_path: Path) -> None:
    ps = _load(("futuristic", _plugin(_Old)))
    with pytest.raises(ConfigError) as err:
        validate_config(_config(tmp_path, "from_the_future"), ps)
    text = str(err.value)
    assert "unknown sink type 'from_the_future'" in text
    assert "plugins that failed to load" in text and "futuristic" in text and "version 99" in text


@pytest.fixture
def broken_distribution(tmp_path: Path) -> dict[str, str]:
    """An installed distribution whose entry point module fails to import."""
    site = tmp_path / "site"
    (site / "broken_plugin-2.0.dist-info").mkdir(parents=True)
    (site / "broken_plugin-2.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 2.0\n")
    (site / "broken_plugin-2.0.dist-info" / "entry_points.txt").write_text("[siemrelay]\nbroken = broken_plugin\n")
    (site / "broken_plugin.py").write_text("import a_module_that_is_not_installed\n")
    return {"PYTHONPATH": f"{site}:{ROOT}"}


def test_a_plugin_that_fails_to_import_is_listed_as_failed(broken_distribution: dict[str, str]) -> None:
    done = run_cli("plugins", "--brief", env=broken_distribution)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith("broken "))
    assert "FAILED" in line and "broken-plugin" in line and "a_module_that_is_not_installed" in line


def test_validate_warns_about_the_failed_plugin_but_passes(broken_distribution: dict[str, str], tmp_path: Path) -> None:
    _config(tmp_path, "file")
    done = run_cli("validate", "-c", str(tmp_path / "siemrelay.yaml"), env=broken_distribution)
    assert done.returncode == 0, done.stderr
    assert "plugin broken" in done.stdout and "disabled" in done.stdout


def test_validate_fails_when_the_config_needs_the_failed_plugin(broken_distribution: dict[str, str], tmp_path: Path) -> None:
    _config(tmp_path, "broken_sink")
    done = run_cli("validate", "-c", str(tmp_path / "siemrelay.yaml"), env=broken_distribution)
    assert done.returncode == 2
    assert "unknown sink type 'broken_sink'" in done.stderr
    assert "broken (ModuleNotFoundError" in done.stderr
