"""Test tooling for siemrelay and its plugins.

- :mod:`agent.testing`: events, a fake clock, raw records, a sink context whose logs
  are captured (re-exported here: ``from agent.testing import make_event``).
- :mod:`agent.testing.receivers`: capturing HTTP and TCP receivers on loopback.
- :mod:`agent.testing.conformance` and :mod:`agent.testing.checks`: the sink conformance
  suite every sink, built-in or third-party, must pass.
- :mod:`agent.testing.pytest_plugin`: the fixtures; opt-in (``pytest -p agent.testing.pytest_plugin``),
  so it never loads into the tests of a project that merely has siemrelay installed.
"""

from __future__ import annotations

from agent.testing.fakes import (CapturedLogs, CapturedRequest, FakeClock, HTTPReceiver, Reply, TCPReceiver,
                                 make_event, make_record, make_sink_context, sample_events, spooled)

__all__ = ["make_event", "spooled", "FakeClock", "make_record", "make_sink_context", "CapturedLogs",
           "HTTPReceiver", "TCPReceiver", "Reply", "CapturedRequest", "sample_events"]
