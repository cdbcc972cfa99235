"""Options of the ``escape`` decoder."""

from typing import Any

from agent.sdk import ESCAPE_RESOURCES

#: the export arrays this decoder reads (the SDK's list, which `auto` keys on too)
RESOURCES = ESCAPE_RESOURCES

CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "resources": {"type": "list", "default": list(RESOURCES), "schema": {"type": "string", "allowed": list(RESOURCES)},
                  "meta": {"description": "Root arrays of the export that become events (one per item); the others "
                                          "are read, checked and skipped."}},
    "max_items": {"type": "integer", "default": 10000, "min": 1,
                  "meta": {"description": "Most resources one export may carry; a bigger export is refused whole "
                                          "(dead-lettered) rather than flooding the spool."}},
}
