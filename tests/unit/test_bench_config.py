"""The configuration the side-by-side benchmark runs (bench/write_bench_config.py) stays valid.

The harness starts ``siemrelay run`` on it; a schema change that made it invalid would
only show as a failed benchmark run, long after the change. ``siemrelay validate`` is
the same check as start-up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

WRITER = ROOT / "bench" / "write_bench_config.py"


def write(mode_args: list[str]) -> None:
    subprocess.run([sys.executable, str(WRITER), *mode_args], check=True, timeout=30)


@pytest.mark.parametrize("mode", ["file", "http", "syslog"])
def test_the_benchmark_configuration_validates(tmp_path: Path, mode: str) -> None:
    work = tmp_path / "work"
    if mode == "file":
        events = tmp_path / "events.jsonl"
        events.write_text('{"id": "e-1", "title": "t"}\n')
        write(["file", str(events), "127.0.0.1", "6514", str(work)])
    elif mode == "syslog":
        write(["syslog", "127.0.0.1", "6514", "15514", str(work)])
    else:
        write(["http", "127.0.0.1", "6514", "18080", str(work)])
    config = work / "siemrelay.yaml"
    result = run_cli("validate", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = json.loads(config.read_text())
    assert loaded["sinks"]["collector"] == {"type": "syslog", "address": "127.0.0.1:6514", "transport": "tcp",
                                            "framing": "octet"}
    if mode == "http":
        # the load generator repeats bodies: with de-duplication on they would not be forwarded
        assert loaded["agent"]["dedup"]["window_s"] == 0
        assert loaded["sources"]["webhook"]["address"] == "127.0.0.1:18080"
    elif mode == "syslog":
        assert loaded["sources"]["relay"] == {"type": "syslog", "address": "127.0.0.1:15514", "transport": "tcp",
                                              "decoder": "syslog"}
    else:
        assert loaded["sources"]["events"]["read_from"] == "beginning"


def test_the_fan_out_configuration_routes_every_event_to_each_sink(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"id": "e-1", "title": "t"}\n')
    work = tmp_path / "work"
    write(["--sinks", "4", "file", str(events), "127.0.0.1", "6514", str(work)])
    config = work / "siemrelay.yaml"
    result = run_cli("validate", "-c", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = json.loads(config.read_text())
    names = ["collector1", "collector2", "collector3", "collector4"]
    assert sorted(loaded["sinks"]) == names
    assert loaded["routes"] == [{"name": "default", "to": names}]


def test_set_reaches_agent_sink_and_source_keys_and_refuses_other_sections(tmp_path: Path) -> None:
    """What ``bench/ab_side_by_side.py --b-set`` passes on: a setting for version B only."""
    events = tmp_path / "events.jsonl"
    events.write_text('{"id": "e-1", "title": "t"}\n')
    work = tmp_path / "work"
    write(["--set", "agent.intake.processes=0", "--set", 'sinks.collector.encode_in="child"',
           "--set", "sources.events.max_inflight_batches=1", "file", str(events), "127.0.0.1", "6514", str(work)])
    config = work / "siemrelay.yaml"
    assert run_cli("validate", "-c", str(config), cwd=tmp_path).returncode == 0
    loaded = json.loads(config.read_text())
    assert loaded["agent"]["intake"] == {"processes": 0}
    assert loaded["sinks"]["collector"]["encode_in"] == "child"
    assert loaded["sources"]["events"]["max_inflight_batches"] == 1
    refused = subprocess.run([sys.executable, str(WRITER), "--set", "routes.x=1", "file", str(events), "127.0.0.1", "6514",
                              str(tmp_path / "other")], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "expected agent|sinks|sources" in refused.stderr
