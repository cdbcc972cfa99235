"""Cost of neutralising control characters: encode-only throughput of the syslog and cef sinks.

No network: ``encode_batch`` alone, on one core, for clean events and for events whose
every text field carries NUL, C0 and C1 controls. Run it on two commits to compare.

    python bench/encoders_neutralise.py [events]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.testing import make_event, spooled  # noqa: E402
from plugins.out_cef.sink import CefSink  # noqa: E402
from plugins.out_syslog.sink import SyslogSink  # noqa: E402
from tests.peers.sink_factory import make_sink  # noqa: E402


def events(n: int, dirty: bool) -> list:
    noise = "\x00\x1b[2J\x85\r\n" if dirty else ""
    return [make_event(title=f"Reflected XSS{noise} in search {i}", description="Reflected XSS in the search parameter; " * 6 + noise,
                       asset={"name": "shop" + noise, "host": "shop.example"},
                       finding={"id": f"F-{i}{noise}", "category": "xss", "cvss": 6.1},
                       repository={"name": "org/shop"}, links={"vendor": f"https://vendor.example/f/{i}"}) for i in range(n)]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    sinks = {"syslog json": make_sink(SyslogSink, {"address": "127.0.0.1:9", "hostname": "relay"}),
             "syslog text lf": make_sink(SyslogSink, {"address": "127.0.0.1:9", "hostname": "relay", "framing": "lf",
                                                      "msg_format": "text"}),
             "cef lf": make_sink(CefSink, {"address": "127.0.0.1:9", "hostname": "relay"}),
             "leef lf": make_sink(CefSink, {"address": "127.0.0.1:9", "hostname": "relay", "format": "leef"})}
    for dirty in (False, True):
        batch = spooled(events(n, dirty))
        for name, sink in sinks.items():
            best = 0.0
            for _ in range(3):
                start = time.perf_counter()
                for i in range(0, n, 1000):
                    sink.encode_batch(batch[i:i + 1000])
                best = max(best, n / (time.perf_counter() - start))
            print(f"{name:16} {'controls' if dirty else 'clean':9} {best:>10,.0f} events/s")


if __name__ == "__main__":
    main()
