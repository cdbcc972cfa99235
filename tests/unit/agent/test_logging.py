"""Logging: secrets never reach a log line, in text or JSON form."""

from __future__ import annotations

import io
import json
import os

import orjson
from loguru import logger

from agent.logging import Redactor, setup_logging


def test_redactor_hides_known_secrets_url_credentials_and_webhook_paths():
    r = Redactor(["s3cr3t-token-value"])
    text = r("token s3cr3t-token-value; nats://user:pw@h:4222; https://a:b@x/y?token=abc&z=1; "
             "https://hooks.slack.com/services/T0/B0/xyz; https://acme.webhook.office.com/webhookb2/abc/IncomingWebhook/def")
    for secret in ("s3cr3t-token-value", "user:pw", "a:b@", "token=abc", "T0/B0/xyz", "webhookb2/abc"):
        assert secret not in text
    assert "z=1" in text and "nats://***@h:4222" in text


def test_short_strings_are_not_treated_as_secrets():
    r = Redactor(["abc"])
    assert r("abc def") == "abc def"


def test_json_logs_are_redacted_and_structured():
    stream = io.StringIO()
    redactor = Redactor()
    setup_logging("info", "json", redactor, stream=stream)
    redactor.add(["hunter2-password"])
    logger.bind(component="sink", name="siem").warning("login with hunter2-password failed")
    setup_logging("info", "text", Redactor(), stream=io.StringIO())
    line = orjson.loads(stream.getvalue().splitlines()[-1])
    assert line["level"] == "warning" and line["component"] == "sink" and line["name"] == "siem"
    assert "hunter2" not in line["message"] and "***" in line["message"]


def _log_exception(fmt: str) -> str:
    stream = io.StringIO()
    setup_logging("info", fmt, Redactor(["hunter2-password"]), stream=stream)
    try:
        raise ConnectionError("POST https://hooks.slack.com/services/T0/B0/xyz refused; login hunter2-password")
    except ConnectionError as exc:
        logger.bind(component="sink", name="chat").opt(exception=exc).error("send failed")
    finally:
        setup_logging("info", "text", Redactor(), stream=io.StringIO())
    return stream.getvalue()


def test_exception_texts_are_redacted_in_json_logs():
    line = orjson.loads(_log_exception("json").splitlines()[-1])
    assert line["error"].startswith("ConnectionError: POST https://hooks.slack.com/services/***")
    assert "T0/B0/xyz" not in line["error"] and "hunter2" not in line["error"]


def test_exception_texts_are_redacted_in_text_logs():
    text = _log_exception("text")
    assert "send failed" in text and "ConnectionError: POST https://hooks.slack.com/services/***" in text
    assert "T0/B0/xyz" not in text and "hunter2" not in text


def test_journal_stream_lines_carry_their_syslog_priority(tmp_path, monkeypatch):
    """Under systemd the journal files each line by its ``<N>`` prefix (journalctl -p warning)."""
    path = tmp_path / "journal"
    with open(path, "w") as stream:
        st = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        setup_logging("debug", "json", stream=stream)
        logger.bind(component="t").info("started")
        logger.bind(component="t").warning("sink down")
        logger.bind(component="t").error("cannot write")
    lines = path.read_text().splitlines()
    assert [line[:3] for line in lines] == ["<6>", "<4>", "<3>"]
    assert json.loads(lines[1][3:])["message"] == "sink down"


def test_no_priority_prefix_when_the_stream_is_not_the_journal(tmp_path, monkeypatch):
    """A child that inherited JOURNAL_STREAM but writes elsewhere keeps plain JSON lines."""
    monkeypatch.setenv("JOURNAL_STREAM", "1:2")
    path = tmp_path / "out"
    with open(path, "w") as stream:
        setup_logging("info", "json", stream=stream)
        logger.bind(component="t").warning("x")
    assert path.read_text().startswith("{")
