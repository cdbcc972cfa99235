"""Options of the ``detectify`` decoder."""

CONFIG_SCHEMA = {
    "legacy": {"type": "boolean", "default": True,
               "meta": {"description": "Also accept the legacy scan-profile messages (event_scan_started, "
                                       "event_scan_finished, event_finding_high, event_finding_medium)."}},
}
