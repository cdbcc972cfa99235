"""`siemrelay sinks` says why a sink fails in plain words, from the running agent and offline.

The status page already translated ``HTTPConnectionPool(...): Max retries exceeded`` into
``connection refused by HOST:PORT``; the command line printed the raw text. This drives a
real agent whose webhook peer is a closed loopback port.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import requests

from tests.conftest import pick_port, run_cli, wait_for, wait_for_port

pytestmark = pytest.mark.e2e


def test_sinks_prints_the_last_error_in_plain_words_live_and_offline(tmp_path: Path, agent_process) -> None:  # type: ignore[no-untyped-def]
    admin_port, hook_port, dead_port = pick_port(), pick_port(), pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}"}}
        sources:
          hooks: {{type: http, address: "127.0.0.1:{hook_port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          siem:
            type: webhook
            url: http://127.0.0.1:{dead_port}/in
            retry: {{initial_backoff_s: 0.2, max_backoff_s: 1, timeout_s: 1}}
        routes:
          - {{name: default, to: [siem]}}
        """))
    agent = agent_process(config)
    wait_for_port(admin_port)
    wait_for_port(hook_port)
    r = requests.post(f"http://127.0.0.1:{hook_port}/events", json={"id": "e1", "title": "t"}, timeout=5)
    assert r.status_code == 200

    words = f"connection refused by 127.0.0.1:{dead_port}"
    live: list[str] = []

    def shown() -> bool:
        res = run_cli("sinks", "-c", str(config))
        live[:] = [res.stdout]
        return words in res.stdout

    wait_for(shown, what="the sink's plain-words error in `siemrelay sinks`")
    assert "Max retries exceeded" not in live[0] and "HTTPConnectionPool" not in live[0]
    assert agent.stop() == 0

    offline = run_cli("sinks", "-c", str(config))  # no agent answers: read from the spool
    assert offline.returncode == 0, offline.stderr
    assert words in offline.stdout and "HTTPConnectionPool" not in offline.stdout, offline.stdout
