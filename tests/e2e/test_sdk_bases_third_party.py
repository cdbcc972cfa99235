"""A third-party author reuses the SDK's socket sink base exactly as docs/writing-plugins.md
shows, and the sink it gets delivers to a real syslog-ng.

The example is taken from the document itself (so the guide cannot drift from the SDK),
defined outside ``plugins/`` the way another package would define it, registered through
the same hook as any plugin, validated and built by the agent's own code, and driven by a
delivery worker over TCP to syslog-ng, which parses each RFC 5424 message (octet counting).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from loguru import logger

from agent.config.loader import load_config
from agent.delivery.worker import SinkWorker
from agent.config.validate import validate_config
from agent.engine.build import build_sinks
from agent.plugins import load_plugins
from agent.sdk import Register, hookimpl
from agent.spool.store import Spool
from agent.testing import make_event
from tests.conftest import ROOT, pick_port, wait_for
from tests.peers.syslog_ng import SyslogNg

pytestmark = pytest.mark.e2e

GUIDE = ROOT / "docs" / "writing-plugins.md"


def guide_socket_sink() -> type:
    """The ``MyLineSink`` example of the guide's "Reusing the built-ins' bases" section."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("## Reusing the built-ins' bases"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "the guide lost its socket sink example"
    namespace: dict[str, Any] = {"__name__": "third_party_lines"}
    exec(compile(code.group(1), str(GUIDE), "exec"), namespace)  # noqa: S102 - our own document
    return namespace["MyLineSink"]  # type: ignore[no-any-return]


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port, out = pick_port(), tmp_path / "received.jsonl"
    body = f"""
source s_in {{ syslog(ip("127.0.0.1") port({port}) transport("tcp")); }};
destination d_out {{ file("{out}" template("$(format-json app=$PROGRAM host=$HOST msg=$MESSAGE)\\n")); }};
log {{ source(s_in); destination(d_out); }};
"""
    with SyslogNg(body, tmp_path / "sng", [("127.0.0.1", port)]):
        yield port, out


def test_a_third_party_socket_sink_from_the_guide_delivers_to_syslog_ng(collector: tuple[int, Path], tmp_path: Path,
                                                                       write_config: Any) -> None:
    port, out = collector
    sink_class = guide_socket_sink()

    class ThirdParty:
        @staticmethod
        @hookimpl
        def register_sinks(register: Register) -> None:
            register(sink_class)

    plugins = load_plugins(entry_points=False, extra=[("third-party-lines", ThirdParty)])
    path = write_config(f"""
        agent: {{state_dir: {tmp_path}/state}}
        sinks:
          lines: {{type: my_lines, address: "127.0.0.1:{port}"}}
        routes:
          - {{name: all, to: [lines]}}
        """)
    cfg = validate_config(load_config(path, env={}), plugins)
    sink = build_sinks(cfg, redact=lambda text: text)["lines"]
    spool = Spool(tmp_path / "spool")
    spool.open(["lines"])
    spool.append([(1 << spool.bit_of("lines"), make_event(id=f"e{i}", title=f"third-party line {i}").to_json())
                  for i in range(5)])
    worker = SinkWorker(sink, spool, cfg.sinks["lines"][1], logger.bind(component="sink", name="lines"))
    sink.open()
    worker.start()
    try:
        lines = wait_for(lambda: (lambda got: got if len(got) == 5 else None)(
            out.read_text().splitlines() if out.exists() else []), timeout=15, what="five messages at syslog-ng")
    finally:
        worker.stop(None)
        assert worker.join(10.0)
        sink.close()
        spool.close()
    received = [json.loads(line) for line in lines]
    assert [r["msg"] for r in received] == [f"third-party line {i}" for i in range(5)]
    assert {r["app"] for r in received} == {"mytool"}
