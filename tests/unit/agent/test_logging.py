"""Logging: secrets never reach a log line, in text or JSON form."""

from __future__ import annotations

import io

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
