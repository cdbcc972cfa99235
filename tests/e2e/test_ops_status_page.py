"""The status page in a real browser (Debian's headless Chromium): what a person on call would see."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from tests.conftest import pick_port, require_tool, wait_for, wait_for_port
from tests.unit.agent.admin_support import Receiver

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
READ = "page-read-token-123456"
ADMIN = "page-admin-token-123456"
HOSTILE = '<img src=x onerror="document.title=1">'


class _Text(HTMLParser):
    """Visible text per table row, and every element name (to spot injected markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.tags: list[str] = []
        self._row: str | None = None
        self._skip = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append(tag)
        a = dict(attrs)
        if tag in ("style", "script", "title"):
            self._skip += 1
        if tag == "tr":
            key = a.get("data-sink") or a.get("data-source") or a.get("data-dead-letter")
            self._row = key
            if key is not None:
                self.rows[key] = []

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in ("style", "script", "title"):
            self._skip -= 1
        if tag == "tr":
            self._row = None

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._skip or not data.strip():
            return
        self.text.append(data.strip())
        if self._row is not None:
            self.rows[self._row].append(data.strip())


def _dump_dom(url: str, profile: Path) -> str:
    chromium = CHROMIUM or require_tool("chromium", "chromium")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--dump-dom", url]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.e2e
def test_status_page_shows_sinks_sources_and_dead_letters(tmp_path: Path, agent_process):  # type: ignore[no-untyped-def]
    receiver = Receiver(503)
    receiver.error_body = HOSTILE.encode()
    try:
        admin_port, hook_port = pick_port(), pick_port()
        config = tmp_path / "siemrelay.yaml"
        config.write_text(textwrap.dedent(f"""\
            agent:
              state_dir: {tmp_path}/state
              admin: {{enabled: true, address: "127.0.0.1:{admin_port}", token: "{ADMIN}", read_token: "{READ}"}}
            sources:
              hooks: {{type: http, address: "127.0.0.1:{hook_port}", paths: {{/events: {{decoder: json}}}}}}
            sinks:
              archive: {{type: file, path: {tmp_path}/out.jsonl}}
              siem:
                type: webhook
                url: "http://127.0.0.1:{receiver.port}/siem"
                circuit_breaker: {{failure_threshold: 1, cooldown_s: 600}}
            routes:
              - {{name: default, to: [archive, siem]}}
            """))
        agent = agent_process(config)
        wait_for_port(admin_port)
        wait_for_port(hook_port)
        for i in range(2):
            r = requests.post(f"http://127.0.0.1:{hook_port}/events", json={"id": f"page-{i}", "title": "t"}, timeout=10)
            assert r.status_code == 200
        bad = requests.post(f"http://127.0.0.1:{hook_port}/events", data=b'{"broken": ', timeout=10,
                            headers={"Content-Type": "application/json"})
        assert bad.status_code == 400
        auth = {"Authorization": f"Bearer {READ}"}
        wait_for(lambda: any(s["state"] == "circuit_open" and s["queue_depth"] == 2 for s in
                             requests.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks", headers=auth, timeout=10).json()["sinks"]),
                 what="the siem sink's circuit to open with 2 queued")

        html = _dump_dom(f"http://oncall:{READ}@127.0.0.1:{admin_port}/", tmp_path / "profile")
        page = _Text()
        page.feed(html)
        siem, archive, hooks = page.rows["siem"], page.rows["archive"], page.rows["hooks"]
        assert siem[:3] == ["siem", "webhook", "circuit open"]
        assert "2" in siem and any("HTTP 503" in cell for cell in siem)
        assert archive[:3] == ["archive", "file", "ok"] and "2" in archive
        assert hooks[:3] == ["hooks", "http", "running"] and any(cell.endswith("/s") for cell in hooks)
        dead = [cells for key, cells in page.rows.items() if key.isdigit()]
        assert dead and any("decode: hooks" in cells for cells in dead)
        assert "signed in as read" in " ".join(page.text)
        # the peer's hostile error text is shown as text, never run or rendered as markup
        assert any(HOSTILE in cell for cell in siem)
        assert "img" not in page.tags and "script" not in page.tags

        anonymous = _dump_dom(f"http://127.0.0.1:{admin_port}/", tmp_path / "profile2")
        assert "siem" not in anonymous and "webhook" not in anonymous
        assert agent.stop() == 0
    finally:
        receiver.close()
