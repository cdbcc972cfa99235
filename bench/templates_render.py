"""Cost of filling an option template per event: the old ``expand`` (single-brace syntax,
scanned character by character on every call) against ``parse_template`` once and
``Template.render`` per event, on the templates the sinks' examples use.

    python bench/templates_render.py [events]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.sdk import expand, parse_template  # noqa: E402
from agent.testing import make_event  # noqa: E402

CASES = [  # (old spelling, new spelling)
    ("{type}", "{{ type }}"),                                         # syslog msgid default
    ("logs-siemrelay-{source}", "logs-siemrelay-{{ source }}"),       # elasticsearch index
    ("[{severity}] {title}", "[{{ severity }}] {{ title }}"),         # syslog text_template default
    ("{asset.host}", "{{ asset.host }}"),                             # splunk_hec / syslog host
    ("siemrelay", "siemrelay"),                                       # a literal (splunk_hec source default)
]


def per_second(fn: object, docs: list[dict[str, object]]) -> float:
    start = time.perf_counter()
    for doc in docs:
        fn(doc)  # type: ignore[operator]
    return len(docs) / (time.perf_counter() - start)


def main(n: int = 200_000) -> None:
    docs = [make_event(source=f"vendor{i % 7}", asset={"host": f"web{i % 13}", "name": "shop"}).to_dict() for i in range(1000)]
    docs = (docs * (n // len(docs) + 1))[:n]
    print(f"{n} events, renders per second (one core)")
    for old, new in CASES:
        template = parse_template(new)
        assert template.render(docs[0]) == expand(old, docs[0]), (old, new)
        a = per_second(lambda d, t=old: expand(t, d), docs)
        b = per_second(template.render, docs)
        print(f"  {new!r:34} expand {a / 1e6:5.2f} M/s   Template.render {b / 1e6:5.2f} M/s   x{b / a:4.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
