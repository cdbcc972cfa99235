"""The one place loguru is configured, and the redactor every log line passes through."""

from __future__ import annotations

import re
import sys
import threading
from typing import Any, Iterable, TextIO

import orjson
from loguru import logger

__all__ = ["Redactor", "setup_logging"]


class Redactor:
    """Replace known secrets, and URL credentials and query secrets, with ``***``."""

    _URL_SECRET = re.compile(r"(?i)((?:token|secret|key|sig|signature|password|code)=)[^&\s\"']+")
    _URL_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
    _WEBHOOK_PATH = re.compile(r"(?i)(https://(?:hooks\.slack\.com/services|[\w.-]*webhook\.office\.com/webhookb2|[\w.-]*logic\.azure\.com[^\s]*?/workflows)/)[^\s\"']+")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            merged = set(self._secrets) | {s for s in secrets if isinstance(s, str) and len(s) >= 4}
            self._secrets = sorted(merged, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "***")
        if "=" in text:
            text = self._URL_SECRET.sub(r"\1***", text)
        if "://" in text:
            text = self._URL_USERINFO.sub(r"\1***@", text)
            text = self._WEBHOOK_PATH.sub(r"\1***", text)
        return text


def _json_sink(stream: TextIO, redact: Redactor) -> Any:
    def write(message: Any) -> None:
        rec = message.record
        out: dict[str, Any] = {
            "time": rec["time"].isoformat(),
            "level": rec["level"].name.lower(),
            "message": rec["message"],
        }
        for k, v in rec["extra"].items():
            out[k] = v
        if rec["exception"] is not None:
            exc = rec["exception"]
            # an exception's text is not a log message: it passes the redactor here
            # (a requests error quotes the whole URL, webhook secret path included)
            out["error"] = redact(f"{exc.type.__name__}: {exc.value}") if exc.type else ""
        stream.write(orjson.dumps(out, default=str).decode() + "\n")
        stream.flush()

    return write


def setup_logging(level: str = "info", fmt: str = "auto", redactor: Redactor | None = None,
                  stream: TextIO | None = None) -> None:
    """(Re)configure loguru: text on a terminal, JSON lines otherwise, secrets redacted."""
    stream = stream or sys.stderr
    redact = redactor or Redactor()
    logger.remove()
    if fmt == "auto":
        fmt = "text" if stream.isatty() else "json"

    def patch(record: Any) -> None:
        record["message"] = redact(record["message"])
        for k, v in list(record["extra"].items()):
            if isinstance(v, str):
                record["extra"][k] = redact(v)

    logger.configure(patcher=patch)
    if fmt == "json":
        logger.add(_json_sink(stream, redact), level=level.upper(), backtrace=False, diagnose=False)
    else:
        def write_text(message: Any) -> None:
            # the formatted line with its traceback, if any: exception texts are redacted too
            stream.write(redact(str(message)))
            stream.flush()

        logger.add(write_text, level=level.upper(), backtrace=False, diagnose=False, colorize=stream.isatty(),
                   format="<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
                          "<cyan>{extra[component]}</cyan>{extra[name_]} {message}")
        def patch_text(record: Any) -> None:
            patch(record)
            _name(record)

        logger.configure(extra={"component": "agent", "name_": ""}, patcher=patch_text)


def _name(record: Any) -> None:
    name = record["extra"].get("name")
    record["extra"]["name_"] = f"[{name}]" if name else ""
