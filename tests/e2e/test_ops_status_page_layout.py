"""The status page as an on-call analyst sees it, on a laptop (1280 px) and a phone (390 px).

A real agent, a real HTTP peer and headless Chromium (driven over the DevTools pipe:
the page itself runs no script). First everything is healthy; then the peer goes away
(connection refused) and one source stops sending. Each state is screenshotted at
both widths, and the page must lay out at both: no horizontal scrolling on the phone,
the failing sink first, the summary saying what is wrong, the error in plain words.
Set ``SIEMRELAY_SCREENSHOT_DIR`` to keep the screenshots (docs/images/ comes from there).
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from agent.version import __version__
from tests.conftest import pick_port, require_tool, wait_for, wait_for_port
from tests.peers.chromium import Browser

pytestmark = pytest.mark.e2e

READ = "layout-read-token-123456"
ADMIN = "layout-admin-token-123456"
QUIET_AFTER_S = 4
WIDTHS = (1280, 390)


class _Siem:
    """An HTTP peer that accepts everything and closes each connection after answering, so
    that once it is closed the sink's next connection is refused (no kept-alive socket)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                peer.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


def _png_width(path: Path) -> int:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int(struct.unpack(">I", head[16:20])[0])


def _post(port: int, n: int, tag: str) -> None:
    for i in range(n):
        r = requests.post(f"http://127.0.0.1:{port}/events", json={"id": f"{tag}-{i}", "title": f"{tag} {i}"}, timeout=10)
        assert r.status_code == 200, r.text


def _look(browser: Browser, url: str, width: int, shot: Path) -> dict[str, Any]:
    """Open the page at ``width``, screenshot it, and read back what a person would check."""
    browser.open(url, width)
    browser.screenshot(shot)
    assert _png_width(shot) == width
    return {
        "scroll_width": browser.evaluate("document.documentElement.scrollWidth"),
        "title": browser.evaluate("document.title"),
        "summary": browser.evaluate("document.getElementById('summary').textContent"),
        "first_sink": browser.evaluate("document.querySelector('#sinks tbody tr').dataset.sink"),
        "first_source": browser.evaluate("document.querySelector('#sources tbody tr').dataset.source"),
        "sink_text": browser.evaluate("Object.fromEntries([...document.querySelectorAll('#sinks tbody tr')]"
                                      ".map(r => [r.dataset.sink, r.textContent]))"),
        "source_text": browser.evaluate("Object.fromEntries([...document.querySelectorAll('#sources tbody tr')]"
                                        ".map(r => [r.dataset.source, r.textContent]))"),
        "charts": browser.evaluate("document.querySelectorAll('svg.chart').length"),
        "scripts": browser.evaluate("document.scripts.length"),
    }


def test_status_page_lays_out_on_a_laptop_and_a_phone_healthy_and_failing(tmp_path: Path, agent_process: Any) -> None:
    require_tool("chromium", "chromium")
    receiver = _Siem()
    admin_port, hook_port, scan_port = pick_port(), pick_port(), pick_port()
    config = tmp_path / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", token: "{ADMIN}", read_token: "{READ}",
                   quiet_after_s: {QUIET_AFTER_S}}}
        sources:
          hooks: {{type: http, address: "127.0.0.1:{hook_port}", paths: {{/events: {{decoder: json}}}}}}
          scanner: {{type: http, address: "127.0.0.1:{scan_port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp_path}/out.jsonl}}
          siem:
            type: webhook
            url: "http://127.0.0.1:{receiver.port}/siem"
            batch: {{max_wait_s: 0}}
            retry: {{max_attempts: unlimited, initial_backoff_s: 20, max_backoff_s: 20, jitter: none}}
            circuit_breaker: {{failure_threshold: 3, cooldown_s: 600}}
        routes:
          - {{name: everything, to: [archive, siem]}}
        """))
    shots = tmp_path / "shots"
    shots.mkdir()
    url = f"http://oncall:{READ}@127.0.0.1:{admin_port}/"
    auth = {"Authorization": f"Bearer {READ}"}
    try:
        agent = agent_process(config)
        for port in (admin_port, hook_port, scan_port):
            wait_for_port(port, timeout=30)
        with Browser(tmp_path / "profile") as browser:
            # healthy: both sources sent just now, both sinks delivered everything
            _post(hook_port, 3, "hook")
            _post(scan_port, 2, "scan")
            wait_for(lambda: len(receiver.bodies) >= 1 and all(
                s["queue_depth"] == 0 and s["events_sent"] == 5 for s in
                requests.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks", headers=auth, timeout=10).json()["sinks"]),
                20, what="both sinks to deliver the 5 events")
            healthy = {w: _look(browser, url, w, shots / f"status-healthy-{w}.png") for w in WIDTHS}

            # failing: the SIEM's port closes (connection refused) and the scanner goes quiet
            receiver.close()
            _post(hook_port, 2, "down")
            wait_for(lambda: "connection refused" in (requests.get(f"http://127.0.0.1:{admin_port}/api/v1/sinks/siem",
                                                                   headers=auth, timeout=10).json()["last_error_plain"] or ""),
                     20, what="the siem sink to fail with connection refused")
            wait_for(lambda: any(s["quiet"] for s in requests.get(f"http://127.0.0.1:{admin_port}/api/v1/sources",
                                                                  headers=auth, timeout=10).json()["sources"]),
                     QUIET_AFTER_S + 10, what="the scanner source to be flagged quiet")
            _post(hook_port, 1, "still")  # hooks keeps sending: only the scanner is quiet
            failing = {w: _look(browser, url, w, shots / f"status-failing-{w}.png") for w in WIDTHS}
        assert agent.stop() == 0
    finally:
        receiver.close()

    host = socket.gethostname()
    for case in (healthy, failing):
        for width, seen in case.items():
            assert seen["scroll_width"] <= width, f"the page scrolls sideways at {width} px ({seen['scroll_width']} px wide)"
            assert seen["title"] == f"siemrelay on {host} ({__version__})"
            assert seen["charts"] == 4  # one per sink and per source
            assert seen["scripts"] == 0
    for seen in healthy.values():
        assert seen["summary"] == "all 2 sinks healthy"
        assert "nothing since start" not in seen["source_text"]["scanner"] and "quiet" not in seen["source_text"]["scanner"]
        assert "none" in seen["sink_text"]["siem"]
    for seen in failing.values():
        assert seen["summary"] == "1 of 2 sinks failing · 1 of 2 sources quiet"
        assert seen["first_sink"] == "siem" and seen["first_source"] == "scanner"  # unhealthy first
        siem = seen["sink_text"]["siem"]
        assert f"connection refused by 127.0.0.1:{receiver.port}" in siem, siem
        assert "HTTPConnectionPool" not in siem and "Max retries" not in siem
        assert "retrying in" in siem
        assert "quiet" in seen["source_text"]["scanner"] and "quiet" not in seen["source_text"]["hooks"]
    keep = os.environ.get("SIEMRELAY_SCREENSHOT_DIR")
    if keep:
        for shot in shots.iterdir():
            shutil.copy(shot, Path(keep) / shot.name)
