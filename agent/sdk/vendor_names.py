"""The vendors' documented names that tell their webhook payloads apart.

Each list belongs to one vendor decoder (``escape``, ``pentest``, ``detectify``), and
``decoder: auto`` keys its shape detection on the same lists. They live here, once,
because a plugin never imports another plugin: both sides read them from the SDK, so
a name added for a vendor is recognised by ``auto`` the moment its decoder accepts it.
"""

from __future__ import annotations

__all__ = ["ESCAPE_RESOURCES", "PENTEST_EVENT_TYPES", "DETECTIFY_LEGACY_TYPES"]

#: the root arrays of an Escape export (each item becomes an event)
ESCAPE_RESOURCES = ("issues", "assets", "scans", "profiles", "locations", "integrations")
#: the pentest platforms' ten webhook event types
PENTEST_EVENT_TYPES = ("finding_added", "finding_verified", "phase_changed", "engagement_completed",
                       "engagement_signed", "critical_finding", "retest_completed", "report_ready", "surface_changed",
                       "monitor_alert")
#: Detectify's legacy webhook ``type`` values (the current API names ``event_type`` instead)
DETECTIFY_LEGACY_TYPES = ("event_scan_started", "event_scan_finished", "event_finding_high", "event_finding_medium")
