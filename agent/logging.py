"""The one place loguru is configured, and the redactor every log line passes through."""

from __future__ import annotations

import os
import re
import sys
import threading
from typing import TYPE_CHECKING, Any, Iterable, Mapping, TextIO

import orjson
from loguru import logger

if TYPE_CHECKING:
    from loguru import Message, Record

__all__ = ["Redactor", "setup_logging", "journal_priority", "writes_to_journal"]

#: syslog priorities of loguru's levels, as journald reads them from a ``<N>`` line prefix
_PRIORITIES = {"TRACE": 7, "DEBUG": 7, "INFO": 6, "SUCCESS": 5, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


def journal_priority(level_name: str) -> int:
    """The syslog priority (0-7) journald files a loguru level under; unknown levels are notices."""
    return _PRIORITIES.get(level_name.upper(), 5)


def writes_to_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is the journal stream systemd connected the service to.

    systemd sets ``JOURNAL_STREAM=<device>:<inode>`` for a service whose stdout or
    stderr goes to the journal; comparing it with the stream's own file (not merely
    checking that the variable exists) keeps a child that inherited the environment
    but writes to a terminal or a pipe from getting ``<N>`` prefixes.
    """
    env = os.environ if environ is None else environ
    dev, _, ino = env.get("JOURNAL_STREAM", "").partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


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


def _json_sink(stream: TextIO, redact: Redactor, journal: bool) -> Any:
    def write(message: "Message") -> None:
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
        prefix = f"<{journal_priority(rec['level'].name)}>" if journal else ""
        stream.write(prefix + orjson.dumps(out, default=str).decode() + "\n")
        stream.flush()

    return write


def setup_logging(level: str = "info", fmt: str = "auto", redactor: Redactor | None = None,
                  stream: TextIO | None = None) -> None:
    """(Re)configure loguru: text on a terminal, JSON lines otherwise, secrets redacted.

    Under systemd, when the stream is the journal, every line starts with its syslog
    priority (``<4>`` for a warning), so ``journalctl -u siemrelay -p warning`` shows
    warnings and errors only.
    """
    stream = stream or sys.stderr
    redact = redactor or Redactor()
    journal = writes_to_journal(stream)
    logger.remove()
    if fmt == "auto":
        fmt = "text" if stream.isatty() else "json"

    def patch(record: "Record") -> None:
        record["message"] = redact(record["message"])
        for k, v in list(record["extra"].items()):
            if isinstance(v, str):
                record["extra"][k] = redact(v)

    logger.configure(patcher=patch)
    if fmt == "json":
        logger.add(_json_sink(stream, redact, journal), level=level.upper(), backtrace=False, diagnose=False)
    else:
        def write_text(message: "Message") -> None:
            # the formatted line with its traceback, if any: exception texts are redacted too
            text = redact(str(message))
            if journal:  # journald reads one entry per line: each line carries the priority
                prefix = f"<{journal_priority(message.record['level'].name)}>"
                text = "".join(prefix + line for line in text.splitlines(keepends=True))
            stream.write(text)
            stream.flush()

        logger.add(write_text, level=level.upper(), backtrace=False, diagnose=False, colorize=stream.isatty(),
                   format="<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
                          "<cyan>{extra[component]}</cyan>{extra[name_]} {message}")
        def patch_text(record: "Record") -> None:
            patch(record)
            _name(record)

        logger.configure(extra={"component": "agent", "name_": ""}, patcher=patch_text)


def _name(record: "Record") -> None:
    name = record["extra"].get("name")
    record["extra"]["name_"] = f"[{name}]" if name else ""
