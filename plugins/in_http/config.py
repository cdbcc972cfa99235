"""Options of the ``http`` source."""

from agent.net import ADDRESS_RULES

PATH_SCHEMA = {
    "decoder": {"type": ["string", "dict"], "default": "json",
                "meta": {"description": "Decoder for bodies posted to this path (a type name, a named decoder, or {type: ..., options})."}},
}

CONFIG_SCHEMA = {
    "address": {**ADDRESS_RULES, "default": "127.0.0.1:8080",
                "meta": {"description": "Listen address, host:port ([::1]:8080 for IPv6)."}},
    "paths": {"type": "dict", "default": {"/events": {"decoder": "json"}},
              "keysrules": {"type": "string", "regex": "^/.*"},
              "valuesrules": {"type": "dict", "schema": PATH_SCHEMA},
              "meta": {"description": "URL paths that accept POSTs, each with its decoder."}},
    "max_body_bytes": {"type": "integer", "default": 10 * 1024 * 1024, "min": 1,
                       "meta": {"description": "Larger bodies are refused with 413 without being read."}},
    "submit_timeout_s": {"type": "number", "default": 2.0, "min": 0, "max": 9,
                         "meta": {"description": "How long a request waits for spool space before it is answered 503."}},
    "retry_after_s": {"type": "integer", "default": 5, "min": 1,
                      "meta": {"description": "Retry-After sent with 503 when the spool is full."}},
    "dedup": {"type": "boolean", "default": True,
              "meta": {"description": "Acknowledge but do not forward again an event whose id was seen within agent.dedup.window_s."}},
}
