"""Options of the generic JSON decoders."""

FIELD_NAMES = ("id", "time", "type", "vendor_type", "severity", "score", "title", "description", "source")

CONFIG_SCHEMA = {
    "source": {"type": "string", "default": "json",
               "meta": {"description": "Value of the event's `source` when the payload does not name one."}},
    "event_type": {"type": "string", "default": "log",
             "meta": {"description": "Normalised type of events whose payload has no type field."}},
    "fields": {"type": "dict", "default": {}, "keysrules": {"type": "string", "allowed": list(FIELD_NAMES)},
               "valuesrules": {"type": "string"},
               "meta": {"description": "Event field → dotted path in the payload, e.g. {id: alert.uuid, severity: alert.level}; "
                                       "fields not mapped are found by common names (id, timestamp, severity, title, ...)."}},
}
