"""Options of the ``file`` source."""

from __future__ import annotations

import re
from typing import Any

from agent.sdk import describe



CONFIG_SCHEMA: dict[str, Any] = {
    "paths": {"type": "list", "required": True, "minlength": 1, "schema": {"type": "string"},
              "meta": describe("Files to follow, as globs (** matches directories at any depth; new matching files are picked up while running).")},
    "exclude": {"type": "list", "default": [], "schema": {"type": "string"},
                "meta": describe("Globs of files not to follow (e.g. *.gz).")},
    "read_from": {"type": "string", "default": "beginning", "allowed": ["beginning", "end"],
                  "meta": describe("Where to start in a file seen for the first time at start-up (files that appear later are read whole).")},
    "decoder": {"type": ["string", "dict"], "default": "json",
                "meta": describe("Decoder applied to each line (json, cef, syslog, raw, or a vendor decoder).")},
    "max_line_bytes": {"type": "integer", "default": 1024 * 1024, "min": 64,
                       "meta": describe("Longer lines are truncated to this size, flagged `truncated` and counted.")},
    "partial_flush_s": {"type": "number", "default": 5.0, "min": 0,
                        "meta": describe("A last line without its newline is held until completed, or emitted after it stayed unchanged this long (0: hold until completed).")},
    "rotate_wait_s": {"type": "number", "default": 5.0, "min": 0,
                      "meta": describe("A file no matching name holds any more (rotated away or deleted) is read to its end and kept open this long after it last grew.")},
    "multiline": {"type": "dict", "default": {}, "meta": describe("Join continuation lines (stack traces) to the line that starts the record."),
                  "schema": {
                      "start_pattern": {"type": "string", "nullable": True, "default": None,
                                        "meta": describe("Regular expression matching the first line of a record; unset disables joining.")},
                      "max_lines": {"type": "integer", "default": 500, "min": 1,
                                    "meta": describe("Most lines in one record; a longer group is cut into several.")},
                      "flush_s": {"type": "number", "default": 2.0, "min": 0,
                                  "meta": describe("The last group is emitted once the file did not grow for this long.")},
                  }},
    "poll_interval_s": {"type": "number", "default": 0.25, "min": 0.01,
                        "meta": describe("How often files are checked for new data, rotation and new matches (the fallback where change notifications are unavailable).")},
    "notify": {"type": "boolean", "default": True,
               "meta": describe("Use change notifications (inotify on Linux) to find new and rotated files at once; polling stays the fallback.")},
    "batch_lines": {"type": "integer", "default": 1000, "min": 1,
                    "meta": describe("Most lines submitted (and checkpointed) at once. Larger batches bought no throughput "
                                     "past 1,000 and cost memory in both processes (2,000: about 25 MB more at the peak).")},
    "max_inflight_batches": {"type": "integer", "default": 4, "min": 1, "max": 64,
                             "meta": describe("Batches that may wait for the spool's commit at once: the next batch is read and decoded "
                                              "while the ones before are committed. The checkpoint moves past a batch only once it "
                                              "and every batch before it are committed (1: wait for each commit before reading on).")},
    "checkpoint_sync_s": {"type": "number", "default": 1.0, "min": 0,
                          "meta": describe("The checkpoint is written after every committed batch (a crash or kill -9 reads again only the "
                                           "batches in flight) and fsynced at most this often, and whenever a file is added or let go: "
                                           "after a power loss, what was committed in the last this-many seconds is read again "
                                           "(0: fsync after every batch).")},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """A start pattern that does not compile is named at validation time."""
    pattern = (config.get("multiline") or {}).get("start_pattern")
    if pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            return [f"multiline.start_pattern: not a valid regular expression: {exc}"]
    return []
