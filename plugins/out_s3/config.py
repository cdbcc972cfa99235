"""Options of the ``s3`` and ``security_lake`` sinks.

Both write objects to an S3 bucket through the same transport, so they share the
connection keys (``bucket``, ``region``, ``endpoint_url``, credentials, multipart);
each adds what shapes its objects. An object is one worker batch: ``batch.max_bytes``
and ``batch.max_wait_s`` are the roll size and age, so the spool keeps the events until
S3 has confirmed the upload.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any, Callable

from agent.sdk import SCHEMA_RULES, Template, TemplateCheck, describe, url_check
from plugins.out_s3.keys import KeyTemplate, TemplateError

__all__ = ["S3_EXTRA_HINT", "S3_SCHEMA", "SECURITY_LAKE_SCHEMA", "S3_DEFAULTS", "SECURITY_LAKE_DEFAULTS",
           "SECRET_KEYS", "s3_missing", "check_s3", "check_security_lake"]

#: What to tell a user whose agent lacks boto3 or pyarrow.
S3_EXTRA_HINT = "install the s3 extra: pip install 'siemrelay[s3]' (boto3, pyarrow)"

SECRET_KEYS = frozenset({"secret_access_key", "session_token", "token", "secret", "password"})



def _endpoint_check(field: str, value: str | None, error: Callable[[str, str], None]) -> None:
    if value is not None:
        url_check(field, value, error)


def _bucket_check(field: str, value: object, error: Callable[[str, str], None]) -> None:
    """S3 bucket naming rules (3-63 characters: lower-case letters, digits, dots, hyphens)."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", str(value)):
        error(field, "not a valid S3 bucket name (3-63 characters: lower-case letters, digits, '.' and '-', "
                     "starting and ending with a letter or digit)")


#: The connection keys both sinks share.
CONNECTION_SCHEMA: dict[str, Any] = {
    "bucket": {"type": "string", "required": True, "check_with": _bucket_check,
               "meta": {**describe("The S3 bucket objects are written to."), "example": "security-events"}},
    "region": {"type": "string", "default": "us-east-1", "regex": r"^[a-z]{2}(-[a-z]+)+-\d+$",
               "meta": describe("AWS region of the bucket (signs the requests; part of the Security Lake layout).")},
    "endpoint_url": {"type": "string", "nullable": True, "default": None, "check_with": _endpoint_check,
                     "meta": describe("Another S3 endpoint (MinIO, Ceph, a VPC endpoint); unset means AWS's for the region.")},
    "path_style": {"type": "boolean", "default": False,
                   "meta": describe("Address buckets in the path (endpoint/bucket/key) rather than the host name; "
                              "most S3-compatible stores need it.")},
    "profile": {"type": "string", "nullable": True, "default": None, "empty": False,
                "meta": describe("A named profile of the AWS config files; unset uses boto3's credential chain "
                           "(environment, web identity, config files, container and instance roles).")},
    "access_key_id": {"type": "string", "nullable": True, "default": None, "empty": False,
                      "meta": describe("Explicit access key id (with secret_access_key), normally ${ENV}; unset uses the chain.")},
    "secret_access_key": {"type": "string", "nullable": True, "default": None, "empty": False,
                          "meta": describe("Explicit secret access key (redacted everywhere).")},
    "session_token": {"type": "string", "nullable": True, "default": None, "empty": False,
                      "meta": describe("Session token of temporary credentials (redacted everywhere).")},
    "multipart_threshold_bytes": {"type": "integer", "default": 16 << 20, "min": 5 << 20,
                                  "meta": describe("Objects at least this large are uploaded in parts (multipart upload).")},
    "part_size_bytes": {"type": "integer", "default": 8 << 20, "min": 5 << 20, "max": 5 << 30,
                        "meta": describe("Size of each part of a multipart upload (S3's minimum is 5 MiB).")},
    "storage_class": {"type": "string", "nullable": True, "default": None,
                      "allowed": ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR",
                                  "REDUCED_REDUNDANCY", None],
                      "meta": describe("Storage class of new objects; unset is the bucket's default (STANDARD).")},
}

PARQUET_COMPRESSION = {"type": "string", "default": "zstd", "allowed": ["zstd", "snappy", "gzip", "none"],
                       "meta": describe("Column compression inside Parquet objects.")}

class KeyTemplateCheck(TemplateCheck):
    """The key rules (placeholders, date parts, no leading '/') checked at the option's own line."""

    def __init__(self, allowed: set[str] | None = None, need_object_id: bool = True) -> None:
        super().__init__(extra=allowed or ())
        self.allowed = allowed
        self.need_object_id = need_object_id

    def parse(self, value: str) -> Template:
        return KeyTemplate(value, allowed=self.allowed, need_object_id=self.need_object_id).written


S3_SCHEMA: dict[str, Any] = {
    **CONNECTION_SCHEMA,
    "key": {"type": "string", "default": "siemrelay/{{ source }}/{{ year }}/{{ month }}/{{ day }}/{{ object_id }}",
            "empty": False, "check_with": KeyTemplateCheck(),
            "meta": describe("Object key template: {{ path }} names a field of the event (source, type, asset.name), "
                       "{{ year }} {{ month }} {{ day }} {{ hour }} {{ minute }} the event's UTC time, {{ object_id }} "
                       "the object's deterministic name; the extension (.jsonl.gz, .jsonl, .parquet) is appended.")},
    "format": {"type": "string", "default": "jsonl", "allowed": ["jsonl", "parquet"],
               "meta": describe("Object format: jsonl (one JSON event per line) or parquet (columnar, pyarrow).")},
    "schema": SCHEMA_RULES,
    "gzip": {"type": "boolean", "default": True, "meta": describe("Compress jsonl objects with gzip (Content-Encoding: gzip, .jsonl.gz).")},
    "parquet_compression": PARQUET_COMPRESSION,
}

SECURITY_LAKE_SCHEMA: dict[str, Any] = {
    **CONNECTION_SCHEMA,
    "bucket": {**CONNECTION_SCHEMA["bucket"],
               "meta": {**describe("The Security Lake bucket (aws-security-data-lake-REGION-...)."),
                        "example": "aws-security-data-lake-us-east-1-abcdefghij"}},
    "source_name": {"type": "string", "required": True, "regex": r"^[A-Za-z0-9_\-{} .]{1,128}$",
                    "check_with": KeyTemplateCheck({"class_uid", "class_name"}, need_object_id=False),
                    "meta": {**describe("The custom source's name (objects go under ext/SOURCE/); {{ class_uid }} and "
                                  "{{ class_name }} make one custom source per OCSF class, as Security Lake expects."),
                             "example": "siemrelay-{{ class_name }}"}},
    "account_id": {"type": "string", "required": True, "regex": r"^\d{12}$",
                   "meta": {**describe("The AWS account id of the custom source (the accountId= partition)."),
                            "example": "123456789012"}},
    "parquet_compression": PARQUET_COMPRESSION,
}

#: One object per batch: the batch limits are the roll size and age. 32 MiB of native
#: JSON (what the spool measures) becomes an object of a few MiB, and bounds what one
#: sink holds in memory while it encodes (the events, their OCSF form and the columns).
S3_DEFAULTS: dict[str, dict[str, Any]] = {
    "batch": {"max_events": 100000, "max_bytes": 32 << 20, "max_wait_s": 300.0},
    "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 300.0, "timeout_s": 30.0},
}
SECURITY_LAKE_DEFAULTS = S3_DEFAULTS


def s3_missing() -> str | None:
    """A configuration problem when boto3 or pyarrow is not installed, else ``None``."""
    absent = [name for name in ("boto3", "pyarrow") if importlib.util.find_spec(name) is None]
    if absent:
        return f"the S3 sinks need {' and '.join(absent)}: {S3_EXTRA_HINT}"
    return None


def _credential_problems(config: dict[str, Any]) -> list[str]:
    problems = []
    if bool(config.get("access_key_id")) != bool(config.get("secret_access_key")):
        problems.append("access_key_id and secret_access_key go together: set both, or neither to use the credential chain")
    if config.get("profile") and config.get("access_key_id"):
        problems.append("profile and access_key_id are both set; choose one source of credentials")
    if config.get("session_token") and not config.get("access_key_id"):
        problems.append("session_token is set without access_key_id and secret_access_key")
    if int(config.get("part_size_bytes") or 0) > int(config.get("multipart_threshold_bytes") or 0):
        problems.append("part_size_bytes is larger than multipart_threshold_bytes")
    missing = s3_missing()
    if missing:
        problems.append(missing)
    return problems


def check_s3(config: dict[str, Any]) -> list[str]:
    """Credentials that go together, a key template that names real fields, the extra installed."""
    problems = _credential_problems(config)
    try:
        KeyTemplate(str(config.get("key") or ""))
    except TemplateError as exc:
        problems.append(f"key: {exc}")
    return problems


def check_security_lake(config: dict[str, Any]) -> list[str]:
    """Credentials that go together, a source name whose placeholders are class_uid/class_name only."""
    problems = _credential_problems(config)
    try:
        KeyTemplate(str(config.get("source_name") or ""), allowed={"class_uid", "class_name"}, need_object_id=False)
    except TemplateError as exc:
        problems.append(f"source_name: {exc}")
    return problems
