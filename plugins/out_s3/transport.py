"""The S3 transport both sinks share: a boto3 client, uploads (single or multipart) and
the classification of what S3 answers as a :class:`Delivery`.

botocore's own retries are switched off (one attempt per call): the delivery worker
owns retries, backoff and the circuit breaker, and must see every failure. Outcomes:

- ``SlowDown`` (503), ``InternalError`` (500), other 5xx, 429, ``RequestTimeout`` and
  connection errors or timeouts: RETRY, with the peer's ``Retry-After`` when it sent one;
- ``AccessDenied``, ``InvalidAccessKeyId``, ``SignatureDoesNotMatch``, expired tokens,
  a clock S3 finds skewed, a wrong region, ``NoSuchBucket`` and missing credentials:
  REJECT with ``open_circuit``: retrying will not help until someone fixes the
  configuration, and the events stay queued meanwhile;
- any other 4xx: REJECT (the worker dead-letters after isolating the event).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping

from agent.sdk import Delivery, parse_retry_after

__all__ = ["S3Transport", "classify_s3_error"]

#: S3 error codes that mean the configuration (credentials, bucket, region, clock) is wrong.
CONFIGURATION_ERRORS = {
    "AccessDenied": "access denied (the credentials lack s3:PutObject on this bucket)",
    "AllAccessDisabled": "all access to this bucket is disabled",
    "AccountProblem": "a problem with the AWS account",
    "InvalidAccessKeyId": "the access key id is unknown to S3",
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "ExpiredToken": "the session token has expired",
    "InvalidToken": "the session token is not valid",
    "TokenRefreshRequired": "the session token must be refreshed",
    "RequestTimeTooSkewed": "this machine's clock is too far from S3's (sync it with NTP)",
    "NoSuchBucket": "the bucket does not exist",
    "PermanentRedirect": "the bucket is in another region (set region)",
    "AuthorizationHeaderMalformed": "the bucket is in another region (set region)",
    "InvalidBucketName": "the bucket name is not valid",
}
#: Codes S3 documents as transient, whatever their HTTP status.
TRANSIENT_ERRORS = {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "OperationAborted",
                    "Throttling", "ThrottlingException", "RequestLimitExceeded"}


def classify_s3_error(exc: BaseException, redact: Callable[[str], str] = lambda text: text) -> Delivery:
    """The outcome of a boto3 call that raised ``exc`` (botocore's error classes are read by name,
    so this module needs no import of botocore)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore.exceptions.ClientError: S3 answered
        error = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        code = str(error.get("Code") or "")
        status = int(meta.get("HTTPStatusCode") or 0) or None
        message = redact(str(error.get("Message") or ""))[:200]
        headers = meta.get("HTTPHeaders") or {}
        retry_after = parse_retry_after(headers.get("retry-after"))
        if code in ("404", "NotFound") and status == 404:
            code = "NoSuchBucket"  # a HEAD answers without a body: 404 on the bucket is a missing bucket
        if code in ("403", "Forbidden") and status == 403:
            code = "AccessDenied"
        reason = f"HTTP {status}: {code}" + (f": {message}" if message and message != code else "") if status else code
        if code in CONFIGURATION_ERRORS:
            return Delivery.reject(f"{reason} ({CONFIGURATION_ERRORS[code]})", code=status, open_circuit=True,
                                   vendor_code=code)
        if code == "RequestTimeout":  # S3 answers it with 400, yet it is a timeout worth retrying
            return Delivery.retry(reason, retry_after, error_kind="timeout", vendor_code=code)
        if code in TRANSIENT_ERRORS or status is None or status in (408, 425, 429) or status >= 500:
            return Delivery.retry(reason, retry_after, code=status, vendor_code=code or None)
        if status in (401, 403):
            return Delivery.reject(reason, code=status, open_circuit=True, vendor_code=code or None)
        return Delivery.reject(reason, code=status, vendor_code=code or None)
    names = {cls.__name__ for cls in type(exc).__mro__}
    text = redact(str(exc))[:200]
    if names & {"NoCredentialsError", "PartialCredentialsError", "ProfileNotFound", "CredentialRetrievalError"}:
        return Delivery.reject(f"no usable AWS credentials: {text} (set access_key_id/secret_access_key, profile, "
                               "or the environment boto3 reads)", open_circuit=True)
    if names & {"ReadTimeoutError", "ConnectTimeoutError"} or isinstance(exc, TimeoutError):
        return Delivery.retry(f"{type(exc).__name__}: {text}", error_kind="timeout")
    return Delivery.retry(f"{type(exc).__name__}: {text}", error_kind="connection")


class S3Transport:
    """A boto3 S3 client for one sink (thread-safe; one worker thread uses it).

    :param config: the sink's validated section (connection keys, ``retry.timeout_s``).
    :param redact: the sink's redactor, extended with the explicit secret keys.
    """

    def __init__(self, config: dict[str, Any], redact: Callable[[str], str]) -> None:
        boto3 = importlib.import_module("boto3")
        botocore_config = importlib.import_module("botocore.config")
        self.bucket = str(config["bucket"])
        self.redact = redact
        self.threshold = int(config["multipart_threshold_bytes"])
        self.part_size = int(config["part_size_bytes"])
        self.storage_class = config.get("storage_class")
        timeout = float(config["retry"]["timeout_s"])
        session = boto3.session.Session(profile_name=config.get("profile") or None,
                                        aws_access_key_id=config.get("access_key_id") or None,
                                        aws_secret_access_key=config.get("secret_access_key") or None,
                                        aws_session_token=config.get("session_token") or None)
        self.client = session.client(
            "s3", region_name=config["region"], endpoint_url=config.get("endpoint_url") or None,
            config=botocore_config.Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                          connect_timeout=timeout, read_timeout=timeout,
                                          s3={"addressing_style": "path" if config.get("path_style") else "auto"},
                                          user_agent_extra="siemrelay"))

    def put(self, key: str, body: bytes, content_type: str, content_encoding: str | None) -> Delivery:
        """Upload one object (in parts when it reaches the multipart threshold); OK only on S3's 200."""
        extra: dict[str, str] = {"ContentType": content_type}
        if content_encoding:
            extra["ContentEncoding"] = content_encoding
        if self.storage_class:
            extra["StorageClass"] = str(self.storage_class)
        try:
            if len(body) >= self.threshold:
                return self._multipart(key, body, extra)
            answer = self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        except Exception as exc:  # boto3 raises for every remote failure: turned into an outcome here
            return classify_s3_error(exc, self.redact)
        return Delivery.success(f"HTTP {_status(answer)}: {key} ({len(body)} bytes)", code=_status(answer))

    def _multipart(self, key: str, body: bytes, extra: dict[str, str]) -> Delivery:
        """CreateMultipartUpload, UploadPart per ``part_size``, CompleteMultipartUpload; aborted on failure
        (so no orphan parts are billed), and the whole object is uploaded again by the retry."""
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        upload_id = upload["UploadId"]
        try:
            parts = []
            for number, offset in enumerate(range(0, len(body), self.part_size), start=1):
                answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                                 Body=body[offset:offset + self.part_size])
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
            answer = self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                           MultipartUpload={"Parts": parts})
        except Exception:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:  # S3 expires abandoned uploads by lifecycle rule; the first error is the one to report
                pass
            raise
        return Delivery.success(f"HTTP {_status(answer)}: {key} ({len(body)} bytes in {len(parts)} parts)",
                                code=_status(answer))

    def head_bucket(self) -> Delivery:
        """HeadBucket: the bucket exists and the credentials may use it."""
        try:
            answer = self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            return classify_s3_error(exc, self.redact)
        return Delivery.success(f"HTTP {_status(answer)}: bucket {self.bucket} is reachable", code=_status(answer))

    def close(self) -> None:
        self.client.close()


def _status(answer: Mapping[str, Any] | None) -> int:
    return int(((answer or {}).get("ResponseMetadata") or {}).get("HTTPStatusCode") or 200)
