"""A line a crash left half written in the ``file`` sink's output is not glued to the next event.

A ``kill -9`` can interrupt the sink's write of a batch (the kernel returns a short
write to a dying process), leaving the output's last line without its newline. That
batch was not acknowledged, so after the restart it is written again; appended after
the fragment, its first event used to be glued to it into one unparseable line (the
file pipeline's kill -9 test found it now and then). The real agent, started on such
a file, moves the fragment aside and writes every event on a line of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.e2e


def test_restart_after_a_torn_write_keeps_every_output_line_whole(tmp_path: Path, agent_process) -> None:
    out = tmp_path / "out" / "events.jsonl"
    out.parent.mkdir()
    whole = json.dumps({"id": "before-the-crash"}) + "\n"
    fragment = '{"id": "torn-by-the-crash", "title": "half wri'
    out.write_text(whole + fragment)
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": f"line-{i}", "title": "t"}) + "\n" for i in range(50)))
    config = tmp_path / "siemrelay.yaml"
    config.write_text(f"""
agent: {{state_dir: {tmp_path}/state}}
sources:
  events: {{type: file, paths: ["{tmp_path}/in.jsonl"], read_from: beginning}}
sinks:
  archive: {{type: file, path: "{out}", fsync: false}}
routes:
  - {{name: all, to: [archive]}}
""")
    agent = agent_process(config)

    def lines() -> list[str]:
        return out.read_text().splitlines()

    wait_for(lambda: len(lines()) >= 51 and out.read_text().endswith("\n"), 60, what="every event in the output")
    assert agent.stop() == 0
    records = [json.loads(line) for line in lines()]  # every line parses: nothing glued to the fragment
    assert records[0] == {"id": "before-the-crash"}
    assert sorted(r["id"] for r in records[1:]) == sorted(f"line-{i}" for i in range(50))
    assert (tmp_path / "out" / "events.jsonl.torn").read_text() == fragment + "\n"
    assert "moved to" in agent.log and "half written" in agent.log
