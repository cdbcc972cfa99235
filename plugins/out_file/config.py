"""Options of the ``file`` sink."""

from agent.sdk import SCHEMA_RULES

CONFIG_SCHEMA = {
    "path": {"type": "string", "required": True, "empty": False,
             "meta": {"description": "File the events are appended to, one JSON object per line."}},
    "rotate_bytes": {"type": "integer", "default": 100 * 1024 * 1024, "min": 0,
                     "meta": {"description": "Rotate when the file would grow past this size (0 = never): path → path.1 → path.2 ..."}},
    "keep": {"type": "integer", "default": 5, "min": 1, "max": 1000,
             "meta": {"description": "Rotated files kept (path.1 … path.N); older ones are deleted."}},
    "fsync": {"type": "boolean", "default": True,
              "meta": {"description": "fsync after each batch before acknowledging it (survives power loss)."}},
    "schema": SCHEMA_RULES,
}
