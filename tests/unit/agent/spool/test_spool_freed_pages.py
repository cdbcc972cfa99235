"""What a delivered segment costs to delete: its pages are freed, not written again.

SQLite built with ``SECURE_DELETE`` (Debian's is) overwrites every page a DELETE frees
with zeros, so each delivered segment's bytes went through the WAL, its fsync and a
checkpoint a second time. The spool opts for ``secure_delete=FAST`` (docs/delivery.md says
what that leaves on disk); this proves it through the spool's own writer thread by the
WAL frames the acknowledging transaction writes.
"""

from __future__ import annotations

from pathlib import Path

from agent.spool.store import Spool

PAGE = 16384  # the spool's page size (agent.spool.db.connect)
FRAME = PAGE + 24  # a WAL frame: its header and one page


def test_deleting_a_delivered_segment_writes_a_few_pages_not_the_segment_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path, sync="full")
    spool.open(["collector"])
    try:
        bit = 1 << spool.bit_of("collector")
        events = [(bit, b'{"n":%d,"pad":"%s"}' % (i, b"x" * 8000)) for i in range(200)]  # one 1.6 MB segment
        spool.append(events)
        wal = spool.path.with_name(spool.path.name + "-wal")
        before = wal.stat().st_size
        spool.ack("collector", len(events))
        assert spool.pending_bytes == 0  # the segment is deleted, not only passed
        reader = spool.reader()
        try:  # nothing left to read, even from before the cursor
            assert reader.read("collector", 0, 1000, 1 << 30)[0] == []
        finally:
            reader.close()
        written = (wal.stat().st_size - before) / FRAME
        segment_pages = sum(len(d) for _, d in events) / PAGE
        assert segment_pages > 90
        assert written < segment_pages / 10, f"the delete wrote {written:.0f} WAL frames for a {segment_pages:.0f}-page segment"
    finally:
        spool.close()
