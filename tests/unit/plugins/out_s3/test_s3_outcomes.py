"""What S3 answers, as the delivery worker sees it: S3's documented error codes (built as
botocore raises them) classified into RETRY / REJECT / REJECT-and-open-the-circuit, and
the configuration mistakes ``siemrelay validate`` names by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from agent.sdk.outcome import Status
from plugins.out_s3.transport import classify_s3_error
from tests.conftest import run_cli


def s3_error(status: int, code: str, retry_after: str | None = None) -> ClientError:
    headers = {"retry-after": retry_after} if retry_after else {}
    return ClientError({"Error": {"Code": code, "Message": f"{code} message"},
                        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers}}, "PutObject")


@pytest.mark.parametrize("status,code,outcome,circuit", [
    (503, "SlowDown", Status.RETRY, False),
    (500, "InternalError", Status.RETRY, False),
    (503, "ServiceUnavailable", Status.RETRY, False),
    (400, "RequestTimeout", Status.RETRY, False),
    (403, "AccessDenied", Status.REJECT, True),
    (403, "InvalidAccessKeyId", Status.REJECT, True),
    (403, "SignatureDoesNotMatch", Status.REJECT, True),
    (400, "ExpiredToken", Status.REJECT, True),
    (403, "RequestTimeTooSkewed", Status.REJECT, True),
    (404, "NoSuchBucket", Status.REJECT, True),
    (404, "404", Status.REJECT, True),  # HeadBucket: no body, so no code
    (301, "PermanentRedirect", Status.REJECT, True),
    (400, "InvalidArgument", Status.REJECT, False),
    (400, "EntityTooLarge", Status.REJECT, False),
])
def test_s3_error_codes_are_classified(status: int, code: str, outcome: Status, circuit: bool) -> None:
    result = classify_s3_error(s3_error(status, code))
    assert (result.status, result.open_circuit) == (outcome, circuit)
    assert str(status) in result.reason
    if code == "RequestTimeout":
        assert result.error_kind == "timeout" and result.http_status is None  # retried under retry_on: timeout


def test_slowdown_keeps_the_retry_after_s3_sent() -> None:
    result = classify_s3_error(s3_error(503, "SlowDown", retry_after="4"))
    assert result.status is Status.RETRY and result.retry_after == 4.0 and result.vendor_code == "SlowDown"


def test_transport_failures_are_retried_and_missing_credentials_open_the_circuit() -> None:
    refused = classify_s3_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:9/b/k"))
    assert refused.status is Status.RETRY and refused.error_kind == "connection"
    slow = classify_s3_error(ReadTimeoutError(endpoint_url="http://127.0.0.1:9/b/k"))
    assert slow.status is Status.RETRY and slow.error_kind == "timeout"
    none = classify_s3_error(NoCredentialsError())
    assert none.status is Status.REJECT and none.open_circuit and "access_key_id" in none.reason


def test_secrets_in_an_error_message_are_redacted() -> None:
    result = classify_s3_error(s3_error(403, "SignatureDoesNotMatch"), lambda t: t.replace("message", "***"))
    assert "message" not in result.reason


def test_validate_names_the_file_line_key_and_the_nearest_placeholder(tmp_path: Path) -> None:
    cfg = tmp_path / "siemrelay.yaml"
    cfg.write_text('sinks:\n  lake:\n    type: s3\n    bucket: good-bucket\n    key: "logs/{{ sourc }}/x"\n'
                   "  arch:\n    type: s3\n    bucket: good-bucket\n    access_key_id: AKIAEXAMPLE\n"
                   "  sl:\n    type: security_lake\n    bucket: lake-bucket\n    source_name: x\n    account_id: '12'\n"
                   "routes:\n  - {name: all, to: [lake, arch, sl]}\n")
    res = run_cli("validate", "-c", str(cfg))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{cfg}:5: sinks.lake.key: the placeholder {{{{ sourc }}}}" in res.stderr
    assert "did you mean {{ source }}?" in res.stderr
    assert "access_key_id and secret_access_key go together" in res.stderr
    assert f"{cfg}:14: sinks.sl.account_id" in res.stderr


def test_a_missing_extra_is_a_configuration_problem_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from plugins.out_s3.config import check_s3, check_security_lake

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a))
    for check, extra in ((check_s3, {"key": "x/{{ object_id }}"}), (check_security_lake, {"source_name": "x"})):
        problems = check({"bucket": "b-b-b", "multipart_threshold_bytes": 16 << 20, "part_size_bytes": 8 << 20, **extra})
        assert problems == ["the S3 sinks need pyarrow: install the s3 extra: pip install 'siemrelay[s3]' (boto3, pyarrow)"]


def test_a_batch_that_cannot_be_encoded_is_refused_so_the_worker_isolates_the_event(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.testing import make_event, spooled
    from plugins.out_s3.sink import S3Sink
    from tests.peers.sink_factory import make_sink

    sink = make_sink(S3Sink, {"bucket": "b-b-b", "format": "parquet", "endpoint_url": "http://127.0.0.1:9"})
    monkeypatch.setattr(sink, "encode_batch", lambda batch: (_ for _ in ()).throw(TypeError("Recursion limit reached")))
    outcome = sink.send(spooled([make_event()]))
    sink.close()
    assert outcome.status is Status.REJECT and not outcome.open_circuit  # dead-lettered alone, not retried for ever
    assert outcome.reason == "cannot encode as Parquet: TypeError: Recursion limit reached"
