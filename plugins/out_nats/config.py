"""Options of the ``nats`` sink: connection, subject, stream and payload form."""

from __future__ import annotations

import re
from typing import Any

from agent.sdk import (NATS_CONNECTION_SCHEMA, NATS_NAME_RE, NATS_STREAM_SCHEMA, Template, TemplateCheck, nats_connection_checks,
                       nats_stream_checks)

#: A subject once its placeholders are filled: dot-separated tokens without white space or wildcards.
_SUBJECT_SHAPE = re.compile(r"^[^\s.*>{}]+(?:\.[^\s.*>{}]+)*$")


def subject_shape(template: Template) -> str | None:
    """What is wrong with a subject template's literal parts (a placeholder always fills one token's worth)."""
    shape = "".join(p if isinstance(p, str) else "x" for p in template.parts)
    if _SUBJECT_SHAPE.match(shape):
        return None
    return ("a subject is dot-separated tokens without spaces or the wildcards * and >, e.g. "
            "siem.events.{{ source }}.{{ severity }}")


CONFIG_SCHEMA: dict[str, Any] = {
    **NATS_CONNECTION_SCHEMA,
    "subject": {"type": "string", "required": True, "empty": False, "check_with": TemplateCheck(shape=subject_shape),
                "meta": {"description": "Subject each event is published to; {{ path }} placeholders take the event's "
                                        "value (e.g. siem.events.{{ source }}.{{ severity }}), characters other than "
                                        "letters, digits, '_' and '-' become '_'."}},
    "stream": {"type": "string", "nullable": True, "default": None, "regex": NATS_NAME_RE,
               "meta": {"description": "Stream expected to store the subject: publishes are refused if another stream "
                                       "would (Nats-Expected-Stream); required with create_stream."}},
    "create_stream": NATS_STREAM_SCHEMA,
    "msg_id": {"type": "boolean", "default": True,
               "meta": {"description": "Send the event id as Nats-Msg-Id so the server drops a re-published event "
                                       "within the stream's duplicate window."}},
    "schema": {"type": "string", "default": "native", "allowed": ["native", "ocsf"],
               "meta": {"description": "Payload form: native (siemrelay's Event JSON, what a relay's json decoder reads) "
                                       "or ocsf (OCSF JSON, for other consumers of the stream)."}},
    "headers": {"type": "dict", "default": {}, "keysrules": {"type": "string", "regex": r"^[!-9;-~]+$"},
                "valuesrules": {"type": "string", "regex": r"^[^\r\n]*$"},
                "meta": {"description": "Extra NATS headers added to every message."}},
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Checks across keys: authentication, TLS files, stream creation, OCSF support."""
    problems = nats_connection_checks(config) + nats_stream_checks(config)
    if config.get("schema") == "ocsf":
        from plugins.out_nats.encoder import ocsf_available

        if not ocsf_available():
            problems.append("schema: ocsf needs OCSF rendering (agent.render or agent.ocsf), which this installation lacks")
    for key in config.get("headers") or {}:
        if key.lower().startswith("nats-"):
            problems.append(f"headers: {key} is reserved for the NATS server and the msg_id option")
    return problems
