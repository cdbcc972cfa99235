"""Options of the ``cef`` decoder."""

CONFIG_SCHEMA = {
    "source": {"type": "string", "default": "cef",
               "meta": {"description": "Value of the events' `source`; the CEF device vendor and product are kept in "
                                       "`asset.vendor` and `asset.product`."}},
    "event_type": {"type": "string", "default": "alert",
                   "meta": {"description": "Normalised type of CEF events (a CEF line carries no type of its own)."}},
}
