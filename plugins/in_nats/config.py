"""Options of the ``nats`` source: connection, stream, durable consumer and flow control."""

from __future__ import annotations

from typing import Any

from agent.sdk import NATS_CONNECTION_SCHEMA, NATS_NAME_RE, NATS_STREAM_SCHEMA, nats_connection_checks, nats_stream_checks

CONFIG_SCHEMA: dict[str, Any] = {
    **NATS_CONNECTION_SCHEMA,
    "stream": {"type": "string", "required": True, "regex": NATS_NAME_RE,
               "meta": {"description": "Stream to consume."}},
    "durable": {"type": "string", "default": "siemrelay", "regex": NATS_NAME_RE,
                "meta": {"description": "Durable consumer name; every relay agent with the same name shares it, so the "
                                        "pool splits the stream (each message goes to one relay)."}},
    "subject": {"type": "string", "nullable": True, "default": None, "regex": r"^[^\s]+$",
                "meta": {"description": "Filter subject of the consumer (wildcards allowed); default: the whole stream."}},
    "create_stream": NATS_STREAM_SCHEMA,
    "decoder": {"type": ["string", "dict"], "default": "json",
                "meta": {"description": "Decoder for message payloads; json passes native siemrelay events through unchanged."}},
    "deliver_policy": {"type": "string", "default": "all", "allowed": ["all", "new", "last"],
                       "meta": {"description": "Where a newly created consumer starts: all stored messages, only new ones, "
                                               "or the last one. An existing consumer keeps its position."}},
    "fetch_batch": {"type": "integer", "default": 256, "min": 1, "max": 10000,
                    "meta": {"description": "Most messages pulled (and spooled in one commit) at a time."}},
    "fetch_wait_s": {"type": "number", "default": 1.0, "min": 0.05, "max": 60,
                     "meta": {"description": "How long one pull waits for messages when the stream is idle."}},
    "max_ack_pending": {"type": "integer", "default": 1024, "min": 1,
                        "meta": {"description": "Messages delivered but not yet acknowledged, over the whole pool; the "
                                                "server stops delivering at this bound (set on consumer creation)."}},
    "ack_wait_s": {"type": "number", "default": 30.0, "min": 1,
                   "meta": {"description": "A message not acknowledged within this time (a relay died) is redelivered, "
                                           "to any relay of the pool."}},
    "max_deliver": {"type": "integer", "default": -1, "min": -1,
                    "meta": {"description": "Deliveries of one message before the server gives up on it (-1: never; "
                                            "undecodable messages go to dead letters and are acknowledged anyway)."}},
    "submit_timeout_s": {"type": "number", "default": 2.0, "min": 0, "max": 60,
                         "meta": {"description": "How long a pulled batch waits for spool space before it is handed back."}},
    "nak_delay_s": {"type": "number", "default": 5.0, "min": 0, "max": 3600,
                    "meta": {"description": "When the spool is full: the batch is negatively acknowledged with this "
                                            "redelivery delay, and this relay pauses pulling as long."}},
    "dedup": {"type": "boolean", "default": True,
              "meta": {"description": "Acknowledge but do not spool again an event whose id this agent spooled within "
                                      "agent.dedup.window_s (redeliveries)."}},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Checks across keys: authentication, TLS files, and timings that would cause redeliveries."""
    problems = nats_connection_checks(config) + nats_stream_checks(config)
    if config.get("create_stream") is not None and not (config["create_stream"].get("subjects") or config.get("subject")):
        problems.append("create_stream needs subjects (or subject) to know what the stream stores")
    wait = float(config.get("ack_wait_s", 30.0))
    if float(config.get("submit_timeout_s", 2.0)) + float(config.get("fetch_wait_s", 1.0)) >= wait:
        problems.append(f"submit_timeout_s + fetch_wait_s must stay below ack_wait_s ({wait:g}s), "
                        "or pulled messages are redelivered to other relays while this one still holds them")
    return problems
