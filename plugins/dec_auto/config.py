"""Options of the ``auto`` decoder."""

CONFIG_SCHEMA = {
    "unknown_json": {"type": "string", "default": "json", "allowed": ["json", "reject"],
                     "meta": {"description": "JSON that matches no known vendor: `json` maps it with the generic JSON "
                                             "decoder, `reject` dead-letters it."}},
    "unknown_text": {"type": "string", "default": "raw", "allowed": ["raw", "accept", "reject"],
                     "meta": {"description": "Text that is neither JSON, CEF nor syslog: `raw` makes one event per line but "
                                             "dead-letters a bare JSON null, true, false or string and an HTML page (an error "
                                             "page is not an event); `accept` makes lines of those too; `reject` dead-letters "
                                             "all such text."}},
}
