"""An agent without HTTP sinks does not import ``requests`` (40 ms of start-up, 5 MB of RSS).

The HTTP sink plugins import the SDK's HTTP client, OAuth and cloud API helpers when a
sink is built, not when the plugin is registered; ``url_check``, ``gzip_bytes`` and
``IMDS_ENDPOINT`` live in modules without ``requests``. Checked through the CLI's own
start path (``siemrelay validate`` loads every plugin, the installed third-party one
included, validates and builds the configuration), reading what ``-X importtime`` says
was imported: a file → syslog configuration imports no ``requests`` and no component it
does not name (the built-ins register their types by reference, ``agent.sdk.TypeRef``);
one with a ``webhook`` sink imports ``requests`` when the sink is built.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def _imported(config: Path) -> set[str]:
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "agent", "validate", "-c", str(config)],
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    return {line.rsplit("|", 1)[1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}


def _config(tmp_path: Path, sink: str) -> Path:
    path = tmp_path / "siemrelay.yaml"
    path.write_text(f"""
agent: {{state_dir: {tmp_path}/state}}
sources:
  events: {{type: file, paths: ["{tmp_path}/in.jsonl"]}}
sinks:
  out: {sink}
routes:
  - {{name: all, to: [out]}}
""")
    return path


def test_a_file_to_syslog_agent_never_imports_requests(tmp_path: Path) -> None:
    modules = _imported(_config(tmp_path, '{type: syslog, address: "127.0.0.1:6514", transport: tcp}'))
    # every plugin is loaded (through importlib, which -X importtime does not show); the
    # components are imported when the configuration names them, with what they import
    assert "agent.plugins" in modules
    assert "plugins.out_syslog.encoder" in modules and "plugins.in_tail.lines" in modules
    assert "plugins.out_webhook.encoder" not in modules and "plugins.in_otlp.request" not in modules
    assert "requests" not in modules


def test_an_http_sink_imports_requests_when_it_is_built(tmp_path: Path) -> None:
    modules = _imported(_config(tmp_path, '{type: webhook, url: "https://siem.example/hook"}'))
    assert "requests" in modules
