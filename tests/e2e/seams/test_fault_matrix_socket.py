"""Fault matrix of the socket and file sinks, through the real delivery worker.

config → router → spool → worker → sink → a real syslog-ng (``syslog`` and ``cef`` over
TCP), or the file system (``file``). The faults these transports have: the collector
is not listening (connection refused), the collector goes away between batches and
comes back (reset), the file cannot be written. HTTP statuses do not exist here; what
must hold is the same: every event arrives once, in order, nothing is dead-lettered,
and the circuit opens while the peer is away.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.testing import make_event
from tests.conftest import pick_port, wait_for
from tests.peers.pipeline import HookClock, Pipeline
from tests.peers.syslog_ng import SyslogNg

pytestmark = pytest.mark.e2e

TIMES = 3
_TITLE = re.compile(r"seam-\d{3}")


def config(sink: str) -> str:
    return f"""
agent: {{state_dir: "{{state_dir}}"}}
sinks:
  out:
{sink}
    batch: {{max_events: 4, max_wait_s: 0}}
    retry: {{jitter: none, initial_backoff_s: 1, multiplier: 2, max_backoff_s: 4, timeout_s: 2}}
    circuit_breaker: {{failure_threshold: 2, cooldown_s: 5}}
routes:
  - {{name: all, to: [out]}}
"""


def collector(work: Path, port: int, out: Path) -> SyslogNg:
    body = (f'source s {{ network(ip("127.0.0.1") port({port}) transport("tcp") flags(no-parse)); }};\n'
            f'destination d {{ file("{out}" template("$MESSAGE\\n")); }};\nlog {{ source(s); destination(d); }};\n')
    return SyslogNg(body, work, [("127.0.0.1", port)])


def titles(path: Path, count: int) -> list[str]:
    def ready() -> list[str] | None:
        found = _TITLE.findall(path.read_text(encoding="utf-8")) if path.exists() else []
        unique = list(dict.fromkeys(found))
        return unique if len(unique) >= count else None
    return wait_for(ready, 15, what=f"{count} events at the collector")


@pytest.mark.parametrize("sink_type,extra", [("syslog", "    framing: lf\n    msg_format: text"),
                                             ("cef", "    header: none\n    framing: lf")])
@pytest.mark.parametrize("fault", ["refused", "reset"])
def test_collector_away_then_back_delivers_everything_once(tmp_path: Path, sink_type: str, extra: str,
                                                           fault: str) -> None:
    port = pick_port()
    out = tmp_path / "received.log"
    sng = collector(tmp_path / "sng", port, out)
    clock = HookClock()
    events = [make_event(title=f"seam-{i:03d}", id=f"ev-{i:03d}") for i in range(8)]
    first, rest = events[:4], events[4:]
    text = config(f"    type: {sink_type}\n    address: \"127.0.0.1:{port}\"\n    transport: tcp\n{extra}")
    if fault == "reset":  # the collector delivers a batch, then goes away
        sng.start()
    with Pipeline(tmp_path, text, clock=clock) as p:
        try:
            if fault == "reset":
                p.submit(first)
                p.run()
                titles(out, 4)
                sng.stop()
            p.submit(first if fault == "refused" else rest)
            if fault == "refused":
                p.submit(rest)

            def bring_back() -> None:
                if len(clock.sleeps) == TIMES:
                    sng.start()
            clock.hook = bring_back
            worker = p.run()
            got = titles(out, 8)
        finally:
            sng.stop()
        assert got == [e.title for e in events]
        assert p.dead_letters() == []
        assert worker.circuit.opened_count >= 1 and worker.circuit.state == "closed"
        failures = [h for h in p.history() if not h["success"]]
        assert len(failures) >= 2 and all(h["code"] is None for h in failures)


def test_file_sink_unwritable_then_fixed(tmp_path: Path) -> None:
    blocked = tmp_path / "out"
    blocked.write_text("a file where the sink's directory should be")
    clock = HookClock()

    def fix() -> None:
        if len(clock.sleeps) == TIMES:
            blocked.unlink()
            blocked.mkdir()
    clock.hook = fix
    events = [make_event(title=f"seam-{i:03d}", id=f"ev-{i:03d}") for i in range(6)]
    with Pipeline(tmp_path, config(f"    type: file\n    path: \"{blocked}/events.jsonl\""), clock=clock) as p:
        p.submit(events)
        worker = p.run()
        lines = (blocked / "events.jsonl").read_text().splitlines()
        assert [json.loads(x)["title"] for x in lines] == [e.title for e in events]
        assert p.dead_letters() == []
        assert worker.circuit.opened_count >= 1 and worker.circuit.state == "closed"
