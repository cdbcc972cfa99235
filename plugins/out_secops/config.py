"""Options of the ``secops`` sink (Google Security Operations, Chronicle API ``logs.import``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from agent.sdk import PROXY_SCHEMA, SCHEMA_RULES, TLS_SCHEMA, tls_check, url_check
from agent.sdk import describe as _d

__all__ = ["CONFIG_SCHEMA", "check_config", "LEGACY_MAX_BYTES"]

#: The legacy Ingestion API's request size limit (unstructuredlogentries:batchCreate: 1 MB).
LEGACY_MAX_BYTES = 1_000_000


def _optional_url(field: str, value: str | None, error: Callable[[str, str], None]) -> None:
    if value is not None:
        url_check(field, value, error)


CONFIG_SCHEMA: dict[str, Any] = {
    "region": {"type": "string", "required": True, "regex": r"^[a-z0-9-]{2,30}$",
               "meta": _d("Location of the SecOps instance (us, europe, europe-west2, asia-southeast1, ...).", "us")},
    "api": {"type": "string", "default": "import", "allowed": ["import", "legacy_unstructured"],
            "meta": _d("import: the Chronicle API's logs.import; legacy_unstructured: the legacy Ingestion API's "
                       "unstructuredlogentries:batchCreate (malachiteingestion-pa, no project, 1 MB per request).")},
    "project": {"type": "string", "nullable": True, "default": None, "regex": r"^[a-z0-9-]{4,40}$",
                "meta": _d("Google Cloud project the SecOps instance is bound to; required with api: import.",
                           "my-secops-project")},
    "instance": {"type": "string", "required": True, "empty": False,
                 "meta": _d("SecOps instance (customer) id, a UUID; the legacy API's customer_id.",
                            "00000000-0000-0000-0000-000000000000")},
    "log_type": {"type": "string", "required": True, "regex": r"^[A-Z0-9_]{2,64}$",
                 "meta": _d("Log type the parser is chosen by: a custom type for siemrelay's JSON, or a vendor's own.",
                            "SIEMRELAY_JSON")},
    "credentials_file": {"type": "string", "required": True, "empty": False,
                         "meta": _d("Service-account key file (JSON) of an account with the Chronicle API Editor role "
                                    "(permission chronicle.logs.import).", "/etc/siemrelay/secops-sa.json")},
    "namespace": {"type": "string", "nullable": True, "default": None,
                  "meta": _d("Environment namespace given to every log.")},
    "labels": {"type": "dict", "default": {}, "keysrules": {"type": "string", "empty": False},
               "valuesrules": {"type": "string"}, "meta": _d("Ingestion labels {key: value} given to every log.")},
    "forwarder": {"type": "string", "nullable": True, "default": None,
                  "meta": _d("Forwarder resource name (projects/.../forwarders/ID) to attribute the import to; optional.")},
    "endpoint": {"type": "string", "nullable": True, "default": None, "check_with": _optional_url,
                 "meta": _d("API root; default the regional endpoint https://chronicle.<region>.rep.googleapis.com "
                            "(api: legacy_unstructured: https://malachiteingestion-pa.googleapis.com for us, else "
                            "https://<region>-malachiteingestion-pa.googleapis.com).")},
    "api_version": {"type": "string", "default": "v1alpha", "allowed": ["v1alpha", "v1beta", "v1"],
                    "meta": _d("Chronicle API version.")},
    "max_request_bytes": {"type": "integer", "default": 1_000_000, "min": 10_000, "max": 4_000_000,
                          "meta": _d("Largest request body; a bigger batch is split by the worker before it is sent "
                                     "(the legacy API takes 1,000,000 bytes at most).")},
    "schema": SCHEMA_RULES,
    "tls": TLS_SCHEMA,
    "proxy": PROXY_SCHEMA,
}


def check_config(config: dict[str, Any]) -> list[str]:
    """Cross-field checks of a ``secops`` section."""
    problems = tls_check(config.get("tls") or {}, server=False)
    if config.get("api", "import") == "import" and not config.get("project"):
        problems.append("project: required with api: import (the Chronicle API names the instance by its project)")
    if config.get("api") == "legacy_unstructured":
        if int(config.get("max_request_bytes") or 0) > LEGACY_MAX_BYTES:
            problems.append(f"max_request_bytes: the legacy Ingestion API takes {LEGACY_MAX_BYTES} bytes per request "
                            "at most")
        if config.get("forwarder"):
            problems.append("forwarder: only with api: import")
    path = Path(config.get("credentials_file") or "")
    if not path.is_file():
        problems.append(f"credentials_file: cannot read {path}")
    return problems
