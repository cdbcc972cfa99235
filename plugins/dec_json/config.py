"""Options of the generic JSON decoders."""

FIELD_NAMES = ("id", "time", "type", "vendor_type", "severity", "score", "title", "description", "source", "tags")
GROUPS = ("asset", "finding", "scan", "repository", "organization", "links", "network", "actor", "action", "outcome",
          "process", "file", "device", "signature")
#: a field-map key: an Event field, or a dotted place inside a group (asset.name, finding.cve, links.vendor)
FIELD_KEY = r"^(" + "|".join(FIELD_NAMES) + r"|(" + "|".join(GROUPS) + r")(\.[A-Za-z0-9_\-]+)+)$"

CONFIG_SCHEMA = {
    "source": {"type": "string", "default": "json",
               "meta": {"description": "Value of the event's `source` when the payload does not name one."}},
    "event_type": {"type": "string", "default": "log",
             "meta": {"description": "Normalised type of events whose payload has no type field (or an unmapped one)."}},
    "fields": {"type": "dict", "default": {}, "keysrules": {"type": "string", "regex": FIELD_KEY},
               "valuesrules": {"type": "string"},
               "meta": {"description": "Event field → dotted path in the payload, e.g. {id: alert.uuid, severity: "
                                       "alert.level, asset.host: host.name, finding.cve: vuln.cve, network.src_ip: src_ip, actor.user: user, "
                                       "action.original: action, tags: labels}; "
                                       "fields not mapped are found by common names (id, timestamp, severity, title, ...)."}},
    "type_map": {"type": "dict", "default": {}, "keysrules": {"type": "string"}, "valuesrules": {"type": "string"},
                 "meta": {"description": "The payload's type value → normalised dotted type, e.g. "
                                         "{NEW_ALERT: finding.new, scan_done: scan.completed}; the original stays in "
                                         "`vendor_type`."}},
    "severity_scale": {"type": "string", "default": "auto", "allowed": ["auto", "name", "cvss", "score"],
                       "meta": {"description": "How a numeric severity (or numeric string) reads: `auto` (a decimal "
                                               "of at most 10 such as 7.5 is CVSS, an integer 0-5 an OCSF id, "
                                               "anything else a 0-100 score), `name` (0-5 OCSF id only), `cvss` "
                                               "(0-10), `score` (0-100); words (`HIGH`, `critical`) work in every scale."}},
}
