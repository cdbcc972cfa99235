"""``siemrelay tap`` with several --source/--sink globs and each --format, against a
running agent over its admin API, through the installed command."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest
import requests
import yaml

from tests.conftest import pick_port, wait_for_port


def _config(tmp_path: Path, admin: int, ports: dict[str, int]) -> Path:
    sources = "\n".join(f"  {name}: {{type: http, address: \"127.0.0.1:{port}\", paths: {{/events: {{decoder: json}}}}}}"
                        for name, port in ports.items())
    path = tmp_path / "siemrelay.yaml"
    path.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp_path}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin}"}}
        sources:
        """) + sources + textwrap.dedent(f"""
        sinks:
          sink-a: {{type: file, path: {tmp_path}/a.jsonl}}
          sink-b: {{type: file, path: {tmp_path}/b.jsonl}}
          other: {{type: file, path: {tmp_path}/other.jsonl}}
        routes:
          - {{name: both, when: {{title: "both sinks"}}, to: [sink-a, sink-b]}}
          - {{name: default, to: [other]}}
        """))
    return path


def _tap(config: Path, *args: str, feed: dict[str, list[dict[str, str]]], ports: dict[str, int]) -> str:
    """Run `siemrelay tap ARGS` and post events (round robin over ``feed``) until it exits."""
    exe = Path(sys.executable).parent / "siemrelay"
    proc = subprocess.Popen([str(exe), "tap", "-c", str(config), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    n = 0
    deadline = time.monotonic() + 20
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            for source, events in feed.items():
                body = {**events[n % len(events)], "id": f"{source}-{time.monotonic_ns()}"}  # unique: the agent de-duplicates ids
                requests.post(f"http://127.0.0.1:{ports[source]}/events", json=body, timeout=5)
            n += 1
            time.sleep(0.05)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return out


@pytest.mark.e2e
def test_tap_selects_by_several_globs_and_prints_each_format(tmp_path: Path, agent_process) -> None:  # type: ignore[no-untyped-def]
    admin = pick_port()
    ports = {"web-a": pick_port(), "web-b": pick_port(), "ignored": pick_port()}
    config = _config(tmp_path, admin, ports)
    agent_process(config)
    wait_for_port(admin)
    for port in ports.values():
        wait_for_port(port)
    feed = {name: [{"type": "finding.new", "title": f"from {name}", "severity": "high"}] for name in ports}

    out = _tap(config, "--source", "web-a", "--source", "web-?", "--format", "logfmt", "--limit", "6",
               feed=feed, ports=ports)
    lines = out.splitlines()
    assert len(lines) == 6 and all(line.startswith("id=") for line in lines), out
    titles = {line.split('title="', 1)[1].split('"', 1)[0] for line in lines}
    assert titles == {"from web-a", "from web-b"}, out  # both globs' sources, the third one never

    # an event routed to both selected sinks is printed once
    both = {"web-a": [{"type": "finding.new", "title": "both sinks", "severity": "low"}]}
    out = _tap(config, "--sink", "sink-*", "--format", "yaml", "--limit", "3", feed=both, ports=ports)
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert len(docs) == 3 and len({d["id"] for d in docs}) == 3, out

    out = _tap(config, "--sink", "other", "--limit", "1", feed=feed, ports=ports)
    assert orjson.loads(out)["title"].startswith("from ")

    res = subprocess.run([str(Path(sys.executable).parent / "siemrelay"), "tap", "-c", str(config), "--source", "nope*"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "--source nope* matches no source" in res.stderr and "web-a" in res.stderr
