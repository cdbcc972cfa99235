"""The ``cef`` sink: CEF (ArcSight) or LEEF 2.0 (QRadar) over syslog TCP/TLS/UDP or to a file."""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import orjson

from agent.sdk import (FACILITIES, TRUNCATION_MARKER, SinkContext, SocketSink, SpooledEvent, rfc3164_header,
                       rfc5424_header, truncate_utf8)
from plugins.out_cef.config import CONFIG_SCHEMA, check_config
from plugins.out_cef.encoder import CefFormat, encode_cef, encode_leef


def build_line(doc: Mapping[str, Any], fmt: CefFormat, *, header: str, leef: bool, facility: int,
               hostname: str, app_name: str, max_bytes: int = 0, leef_version: str = "2.0") -> bytes:
    """One complete message (syslog header + CEF/LEEF text), unframed; pure.

    Over ``max_bytes`` the ``msg`` extension is shortened first (it is the free text);
    if that is not enough the message is cut at a character boundary. Either cut ends
    with :data:`agent.sdk.TRUNCATION_MARKER`, so the analyst sees it.
    """
    if header == "rfc5424":
        prefix = rfc5424_header(facility, doc, hostname, app_name, "-", "-") + " - "
    elif header == "rfc3164":
        prefix = rfc3164_header(facility, doc, hostname) + " "
    else:
        prefix = ""
    encode = (functools.partial(encode_leef, version=leef_version) if leef else encode_cef)
    line = (prefix + encode(fmt, doc)).encode("utf-8")
    if not max_bytes or len(line) <= max_bytes:
        return line
    description = doc.get("description")
    if isinstance(description, str) and description:
        over = len(line) - max_bytes
        keep = max(0, min(len(description), 1023) - over)
        while True:
            line = (prefix + encode(fmt, doc, keep)).encode("utf-8")
            if len(line) <= max_bytes or keep == 0:
                break
            keep = max(0, keep - max(1, len(line) - max_bytes))
    if len(line) > max_bytes:
        marker = TRUNCATION_MARKER.encode("utf-8")
        line = truncate_utf8(line, max_bytes - len(marker))
        # never end on half an escape sequence: an odd run of trailing backslashes
        # ends with a lone escape character (an even run is escaped backslashes)
        if (len(line) - len(line.rstrip(b"\\"))) % 2:
            line = line[:-1]
        line += marker
    return line


class CefSink(SocketSink):
    type_name = "cef"
    description = "ArcSight CEF or QRadar LEEF 2.0 over syslog (TCP, TLS, UDP) or to a file."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    check_config = staticmethod(check_config)

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.format = CefFormat(config["device_vendor"], config["device_product"], config["device_version"],
                                header_from_event=config["header_from_event"], extensions=config["extensions"],
                                custom_strings=config["custom_strings"], relay=config["relay_extensions"],
                                leef_keys=config["leef_keys"], leef_custom_keys=config["leef_custom_keys"])
        self.header = config["header"]
        self.leef = config["format"] in ("leef", "leef1")
        self.leef_version = "1.0" if config["format"] == "leef1" else "2.0"
        self.facility = FACILITIES[config["facility"]]
        self.hostname = config.get("hostname") or ctx.hostname
        self.app_name = config["app_name"]

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> list[bytes]:
        loads, frame = orjson.loads, self.frame
        kw = dict(header=self.header, leef=self.leef, facility=self.facility, hostname=self.hostname,
                  app_name=self.app_name, max_bytes=self.max_bytes, leef_version=self.leef_version)
        fmt = self.format
        return [frame(build_line(loads(item.data), fmt, **kw)) for item in batch]
