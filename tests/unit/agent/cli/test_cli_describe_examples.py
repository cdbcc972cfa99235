"""Every ``siemrelay describe`` example block validates as printed.

Each type's block is pasted into a configuration (a route to a sink, a sink for a
source, a source for a decoder) and run through ``siemrelay validate``'s own entry
point with its ``${VAR}`` placeholders set, the way a user would paste it; and the
variable names are those the packaged /etc/default/siemrelay lists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from agent.cli.main import main
from agent.config.reference import describe_type
from agent.plugins import PluginSet, load_plugins
from tests.conftest import ROOT

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECTION = {"source": "sources", "sink": "sinks", "decoder": "decoders"}


@pytest.fixture(scope="module")
def plugins() -> PluginSet:
    return load_plugins()


@pytest.fixture(autouse=True)
def _keep_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() configures loguru on the captured stderr; keep the process-wide handlers as they are."""
    monkeypatch.setattr("agent.logging.setup_logging", lambda *args, **kwargs: None)


def _value(name: str) -> str:
    """A value of the right shape for a placeholder, from its name."""
    if name.endswith("URL"):
        return "https://hooks.example.com/services/T000/B000/placeholder"
    return "0123456789abcdef0123456789abcdef"  # also a 32-character routing key


def example_block(text: str, section: str) -> str:
    return text[text.index(f"\n\n{section}:\n") + 2:]


def _config(kind: str, name: str, block: str, tmp_path: Path) -> str:
    head = f"agent: {{state_dir: {tmp_path / 'state'}}}\n"
    if kind == "sink":
        return head + block + f"routes: [{{name: default, to: [my_{name}]}}]\n"
    tail = "sinks: {out: {type: stdout}}\nroutes: [{name: default, to: [out]}]\n"
    if kind == "source":
        return head + block + tail
    return head + block + f"sources: {{f: {{type: file, paths: ['{tmp_path}/*.x'], decoder: my_{name}}}}}\n" + tail


def test_every_describe_example_validates_as_printed(plugins: PluginSet, tmp_path: Path, capsys: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agent.plugins.load_plugins", lambda *args, **kwargs: plugins)  # loaded once, not per type
    checked = []
    for ct in plugins.registry:
        block = example_block(describe_type(ct, plugins), _SECTION[ct.kind])
        for var in _VAR.findall(block):
            monkeypatch.setenv(var, _value(var))
        path = tmp_path / f"{ct.kind}-{ct.name}.yaml"
        path.write_text(_config(ct.kind, ct.name, block, tmp_path))
        code = main(["validate", "-c", str(path)])
        out = capsys.readouterr()
        # a file the example names (a service-account key) that this machine lacks is not the example's fault
        missing = re.fullmatch(r"siemrelay: .*: [\w.]+: cannot read (/\S+)\n", out.err.replace("\n  - ", " "), re.S)
        assert code == 0 or (missing and not Path(missing[1]).exists()), f"{ct.kind} {ct.name}:\n{block}\n{out.err}"
        checked.append(ct.name)
    assert {"splunk_hec", "slack", "syslog", "webhook", "http", "file"} <= set(checked)


def test_examples_use_the_variable_names_of_the_packaged_environment_file(plugins: PluginSet) -> None:
    packaged = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / "packaging" / "deb" / "debian" / "siemrelay.default").read_text(), re.M))
    used = {var for ct in plugins.registry for var in _VAR.findall(describe_type(ct, plugins))}
    component_vars = {v for v in packaged if not v.startswith("SIEMRELAY_")}
    assert component_vars and component_vars <= used, f"not named by any describe example: {sorted(component_vars - used)}"
