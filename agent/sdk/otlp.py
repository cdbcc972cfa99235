"""OpenTelemetry logs (OTLP) helpers shared by the ``otlp`` sink and the ``otlp`` source.

Both directions need the same three things: the official protobuf messages (from the
optional ``opentelemetry-proto`` package, so an agent without the ``otlp`` extra never
imports protobuf), the conversion between OTLP ``AnyValue`` and plain Python values,
and one severity mapping between OCSF severity ids and OTLP ``SeverityNumber``.
Keeping them here means what the sink writes is exactly what the source reads.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["OTLP_EXTRA_HINT", "otlp_missing", "otlp_modules", "OtlpModules", "to_any_value", "from_any_value",
           "key_values", "attributes_dict", "otlp_severity", "ocsf_severity", "flatten"]

#: What to tell a user whose agent lacks the protobuf messages.
OTLP_EXTRA_HINT = "install the otlp extra: pip install 'siemrelay[otlp]' (opentelemetry-proto)"

#: OCSF severity id → OTLP SeverityNumber (the first number of each OTLP range):
#: unknown → UNSPECIFIED, info → INFO, low → INFO4, medium → WARN, high → ERROR, critical → FATAL.
_TO_OTLP = {0: 0, 1: 9, 2: 12, 3: 13, 4: 17, 5: 21}


class OtlpModules:
    """The generated message modules, imported once per sink or source (no global cache)."""

    def __init__(self) -> None:
        self.common: ModuleType = importlib.import_module("opentelemetry.proto.common.v1.common_pb2")
        self.logs: ModuleType = importlib.import_module("opentelemetry.proto.logs.v1.logs_pb2")
        self.service: ModuleType = importlib.import_module("opentelemetry.proto.collector.logs.v1.logs_service_pb2")
        self.json_format: ModuleType = importlib.import_module("google.protobuf.json_format")
        self.message_error: type[Exception] = importlib.import_module("google.protobuf.message").DecodeError


def otlp_missing() -> str | None:
    """A configuration problem when the protobuf messages are not installed, else ``None``."""
    try:
        OtlpModules()
    except ImportError:
        return f"OTLP needs the OpenTelemetry protobuf messages: {OTLP_EXTRA_HINT}"
    return None


def otlp_modules() -> OtlpModules:
    """Import the messages; :raises ImportError: with the extra to install."""
    try:
        return OtlpModules()
    except ImportError as exc:
        raise ImportError(f"{exc}; {OTLP_EXTRA_HINT}") from None


def to_any_value(value: Any, out: "AnyValue") -> None:  # Any: JSON, narrowed by exact type() checks mypy does not follow
    """Fill ``out`` from a JSON-like Python value (dicts become kvlists, lists arrays)."""
    kind = type(value)  # exact types first: this runs for every attribute of every event
    if kind is str:
        out.string_value = value
    elif value is None:
        return  # an empty AnyValue is OTLP's null
    elif kind is bool:
        out.bool_value = value
    elif kind is int:
        if -(1 << 63) <= value < (1 << 63):
            out.int_value = value
        else:
            out.string_value = str(value)  # beyond int64: keep the digits rather than fail
    elif kind is float:
        out.double_value = value
    elif isinstance(value, dict):
        kvs = out.kvlist_value.values
        out.kvlist_value.SetInParent()
        for k, v in value.items():
            kv = kvs.add()
            kv.key = str(k)
            to_any_value(v, kv.value)
    elif isinstance(value, (list, tuple)):
        out.array_value.SetInParent()
        values = out.array_value.values
        for item in value:
            to_any_value(item, values.add())
    elif isinstance(value, (bytes, bytearray)):
        out.bytes_value = bytes(value)
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, int):
        out.int_value = int(value)
    elif isinstance(value, float):
        out.double_value = float(value)
    elif isinstance(value, str):
        out.string_value = str(value)
    else:
        out.string_value = str(value)


def from_any_value(value: "AnyValue") -> Any:
    """The Python value of an ``AnyValue`` (kvlists become dicts, arrays lists, unset None)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {kv.key: from_any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [from_any_value(v) for v in value.array_value.values]
    return getattr(value, kind)


def key_values(pairs: Iterable[tuple[str, Any]], out: Any) -> None:  # Any: a protobuf repeated field (lazy import)
    """Append ``(key, value)`` pairs to a repeated ``KeyValue`` field, skipping None values."""
    for key, value in pairs:
        if value is None:
            continue
        kv: KeyValue = out.add()
        kv.key = key
        to_any_value(value, kv.value)


def attributes_dict(attributes: Iterable["KeyValue"]) -> dict[str, Any]:
    """A repeated ``KeyValue`` as a dict (a repeated key keeps its last value)."""
    return {kv.key: from_any_value(kv.value) for kv in attributes}


def otlp_severity(severity_id: int) -> int:
    """OTLP ``SeverityNumber`` of an OCSF severity id (unknown ids → UNSPECIFIED)."""
    return _TO_OTLP.get(int(severity_id), 0)


def ocsf_severity(number: int) -> int:
    """OCSF severity id of an OTLP ``SeverityNumber``.

    TRACE, DEBUG and INFO (1-12) are info, except INFO4 (12, what the sink writes for
    low); WARN (13-16) is medium, ERROR (17-20) high, FATAL (21-24) critical; 0 or
    out of range is unknown.
    """
    if number == 12:
        return 2
    if 1 <= number <= 11:
        return 1
    if 13 <= number <= 16:
        return 3
    if 17 <= number <= 20:
        return 4
    if 21 <= number <= 24:
        return 5
    return 0


def flatten(prefix: str, value: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Dotted ``(prefix.key.sub, leaf)`` pairs of a nested dict; lists stay whole (arrays)."""
    for key, item in value.items():
        name = f"{prefix}.{key}"
        if type(item) is dict and item:
            yield from flatten(name, item)
        else:
            yield name, item
