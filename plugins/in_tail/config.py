"""Options of the ``file`` source."""

CONFIG_SCHEMA = {
    "paths": {"type": "list", "required": True, "minlength": 1, "schema": {"type": "string"},
              "meta": {"description": "Files to follow, as globs (new matching files are picked up while running)."}},
    "exclude": {"type": "list", "default": [], "schema": {"type": "string"},
                "meta": {"description": "Globs of files not to follow."}},
    "read_from": {"type": "string", "default": "beginning", "allowed": ["beginning", "end"],
                  "meta": {"description": "Where to start in a file seen for the first time."}},
    "decoder": {"type": ["string", "dict"], "default": "json",
                "meta": {"description": "Decoder applied to each line."}},
    "max_line_bytes": {"type": "integer", "default": 1024 * 1024, "min": 64,
                       "meta": {"description": "Longer lines are truncated to this size and flagged `truncated`."}},
    "poll_interval_s": {"type": "number", "default": 0.25, "min": 0.01,
                        "meta": {"description": "How often files are checked for new data, rotation and new matches."}},
    "batch_lines": {"type": "integer", "default": 2000, "min": 1,
                    "meta": {"description": "Most lines submitted (and checkpointed) at once."}},
}
