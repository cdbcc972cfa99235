"""Options of the ``zeropath`` decoder."""

CONFIG_SCHEMA = {
    "strict": {"type": "boolean", "default": True,
               "meta": {"description": "Check each event type's documented required fields (a SCAN_FAILED without "
                                       "event.error is dead-lettered with that reason); false maps whatever is there."}},
}
