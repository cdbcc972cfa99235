"""A third-party sink plugin, installed as a package, runs through `siemrelay run`.

The example package under ``examples/siemrelay-pagerduty`` is used as installed (the
project's test command installs it) or, when it is not, pip-installed into a temporary
directory put on ``PYTHONPATH``: either way it is found only through its
``siemrelay`` entry point, exactly as a user's plugin is.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import requests

from agent.testing.receivers import HTTPReceiver, Reply
from tests.conftest import ROOT, run_cli, wait_for, wait_for_port

pytestmark = pytest.mark.e2e

EXAMPLE = ROOT / "examples" / "siemrelay-pagerduty"
ROUTING_KEY = "e2eR0utingKey0123456789abcdefABC"


def _installed() -> bool:
    try:
        dist = importlib.metadata.distribution("siemrelay-pagerduty")
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(ep.group == "siemrelay" and ep.name == "pagerduty" for ep in dist.entry_points)


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment in which `python -m agent` sees the example plugin through its entry point."""
    if _installed():
        yield {}
        return
    target = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--target", str(target), str(EXAMPLE)]
    if importlib.util.find_spec("wheel") is not None:
        cmd.insert(4, "--no-build-isolation")  # offline when the build backend is at hand
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pip could not install the example plugin:\n{done.stderr[-2000:]}"
    yield {"PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}


def test_plugins_lists_the_third_party_plugin_with_version_and_origin(plugin_env: dict[str, str]) -> None:
    done = run_cli("plugins", env=plugin_env)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.strip().startswith("pagerduty "))
    assert "0.1.0" in line
    assert "siemrelay-pagerduty" in line  # the distribution it came from
    assert "pagerduty" in done.stdout.split("Sink types:")[1]


def test_describe_sink_shows_the_schema_and_an_example(plugin_env: dict[str, str]) -> None:
    done = run_cli("describe", "sink", "pagerduty", env=plugin_env)
    assert done.returncode == 0, done.stderr
    assert "routing_key" in done.stdout and "(required)" in done.stdout
    assert "type: pagerduty" in done.stdout
    assert "siemrelay-pagerduty 0.1.0" in done.stdout


def test_events_reach_pagerduty_through_the_agent(plugin_env: dict[str, str], write_config, free_port,
                                                  agent_process, tmp_path: Path) -> None:
    port = free_port()
    with HTTPReceiver() as pagerduty:
        # throttled once: the worker must retry (Retry-After honoured) and lose nothing
        pagerduty.script(Reply(429, {"status": "throttle"}, headers={"Retry-After": "1"}))
        pagerduty.reply_always(Reply(202, {"status": "success", "message": "Event processed"}))
        config = write_config(f"""
            agent:
              state_dir: {tmp_path / "state"}
            sources:
              webhooks:
                type: http
                address: "127.0.0.1:{port}"
                paths:
                  /events: {{decoder: json}}
            sinks:
              oncall:
                type: pagerduty
                url: "{pagerduty.url}/v2/enqueue"
                routing_key: "${{PD_ROUTING_KEY}}"
                retry: {{initial_backoff_s: 0.1, max_backoff_s: 1, jitter: none}}
            routes:
              - name: page
                to: [oncall]
            """)
        agent = agent_process(config, env={**plugin_env, "PD_ROUTING_KEY": ROUTING_KEY})
        wait_for_port(port)
        events = [  # siemrelay's native form, which the json decoder passes through
            {"id": "e2e-1", "time": "2025-01-15T10:00:00Z", "received_at": "2025-01-15T10:00:01Z", "source": "zeropath", "type": "finding.new",
             "severity_id": 5, "title": "SQL injection in /login", "finding": {"id": "F-9"}},
            {"id": "e2e-2", "time": "2025-01-15T11:00:00Z", "received_at": "2025-01-15T11:00:01Z", "source": "zeropath", "type": "finding.resolved",
             "severity_id": 5, "title": "SQL injection fixed", "finding": {"id": "F-9"}},
        ]
        answer = requests.post(f"http://127.0.0.1:{port}/events", json=events, timeout=10)
        assert answer.status_code in (200, 202), answer.text
        seen = wait_for(lambda: [r.json() for r in pagerduty.requests] if len(pagerduty.requests) >= 3 else None,
                        timeout=30, what="the throttled event and both events to reach PagerDuty")
        assert agent.stop() == 0
    delivered = seen[1:]  # the first request was answered 429
    assert seen[0]["dedup_key"] == delivered[0]["dedup_key"]  # the throttled event was sent again
    assert [b["event_action"] for b in delivered] == ["trigger", "resolve"]
    assert delivered[0]["dedup_key"] == delivered[1]["dedup_key"] == "zeropath:F-9"
    assert delivered[0]["payload"]["severity"] == "critical"
    assert all(b["routing_key"] == ROUTING_KEY for b in seen)
    assert ROUTING_KEY not in agent.log


def test_a_configured_sink_from_a_missing_plugin_is_a_startup_error(write_config, tmp_path: Path) -> None:
    config = write_config(f"""
        agent: {{state_dir: {tmp_path / "state"}}}
        sinks:
          oncall: {{type: pagerduty, routing_key: "{ROUTING_KEY}"}}
        routes: [{{name: all, to: [oncall]}}]
        """)
    done = run_cli("validate", "-c", str(config), env={"SIEMRELAY_DISABLED_PLUGINS": "pagerduty"})
    assert done.returncode == 2
    assert "unknown sink type 'pagerduty'" in done.stderr
    assert ROUTING_KEY not in done.stderr
