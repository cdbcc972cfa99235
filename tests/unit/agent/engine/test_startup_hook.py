"""The ``startup`` hook runs before any source starts, with the sinks' workers running, so what
a hook prepares is in place for the first event; then events flow through as usual."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any, Callable

from agent.config.loader import load_config
from agent.config.validate import validate_config
from agent.engine.supervisor import Supervisor
from agent.logging import Redactor
from agent.plugins import load_plugins
from agent.sdk import hookimpl
from tests.conftest import wait_for


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


class _Preparer:
    """A plugin whose startup hook records what it found and writes a file a test then checks."""

    def __init__(self, port: int, marker: Path) -> None:
        self.port, self.marker = port, marker
        self.seen: dict[str, Any] = {}

    @hookimpl
    def startup(self, agent: Any) -> None:
        self.seen = {"source_listening": _listening(self.port), "workers": sorted(agent.workers),
                     "sources": sorted(agent.sources)}
        self.marker.write_text("prepared", encoding="utf-8")


def test_startup_hooks_run_before_sources_listen_and_after_workers_run(
        tmp_path: Path, free_port: Callable[..., int], write_config: Callable[..., Path]) -> None:
    port = free_port()
    out = tmp_path / "out.jsonl"
    path = write_config(f"""
        agent: {{state_dir: {tmp_path / 'state'}, shutdown_timeout_s: 2}}
        sources:
          web: {{type: http, address: "127.0.0.1:{port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          out: {{type: file, path: {out}, batch: {{max_wait_s: 0}}}}
        routes: [{{name: all, to: [out]}}]
        """)
    probe = _Preparer(port, tmp_path / "prepared")
    plugins = load_plugins(entry_points=False, extra=[("preparer", probe)])
    sup = Supervisor(validate_config(load_config(path, env={}), plugins), plugins, Redactor())
    sup.start()
    try:
        assert probe.seen == {"source_listening": False, "workers": ["out"], "sources": ["web"]}
        assert (tmp_path / "prepared").read_text(encoding="utf-8") == "prepared"
        assert _listening(port)  # sources started once the hook returned
        body = json.dumps({"id": "after-startup", "title": "first event"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/events", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status in (200, 202)
        wait_for(lambda: out.exists() and "after-startup" in out.read_text(encoding="utf-8"), timeout=5.0,
                 what="the event in the file sink")
    finally:
        sup.shutdown()
