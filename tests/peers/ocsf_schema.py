"""The independent OCSF validator: the OCSF schema compiled to JSON Schema 2020-12 by the
``ocsf-json-schema`` package, run by ``jsonschema``; neither shares code with siemrelay."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jsonschema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from agent.sdk.ocsf import OCSF_VERSION

__all__ = ["ocsf_errors"]


@lru_cache(maxsize=1)
def _schema() -> OcsfJsonSchemaEmbedded:
    return OcsfJsonSchemaEmbedded(get_ocsf_schema(version=OCSF_VERSION))


@lru_cache(maxsize=32)
def _validator(class_uid: int) -> jsonschema.Draft202012Validator:
    name = _schema().lookup_class_name_from_uid(class_uid=class_uid)
    return jsonschema.Draft202012Validator(_schema().get_class_schema(class_name=name, profiles=[]))


def ocsf_errors(obj: dict[str, Any]) -> list[str]:
    """Every schema error of an OCSF event of its ``class_uid``, as 'path: message' strings."""
    return [f"{'.'.join(map(str, e.path))}: {e.message[:200]}" for e in _validator(int(obj["class_uid"])).iter_errors(obj)]
