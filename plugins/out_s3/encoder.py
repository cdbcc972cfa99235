"""Pure encoders of the S3 sinks: a batch of spooled events → the objects to upload.

One batch becomes one object per group: per rendered key prefix for ``s3``, per
(custom source, OCSF class, event day) for ``security_lake``, whose objects must hold
one OCSF class each. Nothing here reads the clock or the network: the same events
always give the same keys and the same bytes (gzip with a zero mtime; Parquet without
timestamps), which is what makes a re-upload after a crash an overwrite.

Parquet columns are built one top-level field at a time from the union of the
events' fields, so an event that lacks a field has a null there; ``None``, empty maps
and empty lists are left out first (Parquet cannot store a struct without fields). A
value whose type disagrees with the same field of another event in the object (a
vendor field that is a number in one event and a word in the next) is stored as text
rather than failing the batch (only the leaves that disagree, not their whole map).
"""

from __future__ import annotations

import importlib
import io
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import orjson

from agent.sdk import SpooledEvent, gzip_bytes, render_schema, render_json
from plugins.out_s3.keys import KeyTemplate, event_datetime, object_id, safe_part, security_lake_prefix
from agent.sdk.json_types import JsonValue

__all__ = ["S3Object", "JsonlFormat", "ParquetFormat", "plan_s3", "plan_security_lake", "parquet_bytes", "prune",
           "EXTENSIONS"]

EXTENSIONS = {("jsonl", True): ".jsonl.gz", ("jsonl", False): ".jsonl", ("parquet", False): ".parquet",
              ("parquet", True): ".parquet"}


@dataclass(frozen=True, slots=True)
class S3Object:
    """One object to upload: its key, bytes and headers, and which events it holds."""

    key: str
    body: bytes
    content_type: str
    content_encoding: str | None
    count: int
    first_seq: int


@dataclass(frozen=True, slots=True)
class JsonlFormat:
    """JSON lines, optionally gzip-compressed."""

    gzip: bool = True


@dataclass(frozen=True, slots=True)
class ParquetFormat:
    """Apache Parquet (one row per event); ``compression`` of the column chunks."""

    compression: str = "zstd"


def prune(value: JsonValue) -> Any:
    """``value`` without ``None``, empty maps and empty lists (recursively); ``None`` if nothing is left."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = prune(v)
            if v is not None:
                out[str(k)] = v
        return out or None
    if isinstance(value, list):
        items = [prune(v) for v in value]
        kept = [v for v in items if v is not None]
        return kept or None
    return value


def parquet_bytes(rows: Sequence[dict[str, Any]], compression: str = "zstd") -> bytes:
    """A Parquet file of ``rows`` (dicts), one column per top-level field."""
    pa = importlib.import_module("pyarrow")
    pq = importlib.import_module("pyarrow.parquet")
    clean = [prune(row) or {} for row in rows]
    names = _field_names(clean)
    arrays = [column(pa, [row.get(name) for row in clean]) for name in names]
    table = pa.Table.from_arrays(arrays, names=names)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=None if compression == "none" else compression)
    return sink.getvalue()


def _has_bool(value: JsonValue) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, dict):
        return any(_has_bool(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_bool(v) for v in value)
    return False


def _same_bools(original: JsonValue, converted: object) -> bool:
    """Arrow turns ``[0.5, False]`` into doubles (``False`` becomes ``0.0``): a boolean must read back a boolean."""
    if isinstance(original, bool):
        return isinstance(converted, bool)
    if isinstance(original, dict):
        return isinstance(converted, dict) and all(_same_bools(v, converted.get(k)) for k, v in original.items())
    if isinstance(original, list):
        return isinstance(converted, list) and all(map(_same_bools, original, converted))
    return not isinstance(converted, bool)


def _field_names(maps: Iterable[dict[str, Any] | None]) -> list[str]:
    names: dict[str, None] = {}
    for value in maps:
        for name in value or ():
            names.setdefault(name)
    return list(names)


def column(pa: Any, values: list[Any]) -> Any:  # Any: the pyarrow module (untyped, imported lazily)
    """An Arrow array of ``values`` (``None`` = null). Where Arrow cannot find one type, maps
    are built field by field and lists item by item, so only the leaves that really
    disagree (a number here, a text or a boolean there) become text: a scalar string stays as it is,
    anything else is its JSON."""
    try:
        array = pa.array(values)
        if not _has_bool(values) or _same_bools(values, array.to_pylist()):
            return array
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    present = [v for v in values if v is not None]
    nulls = pa.array([v is None for v in values], pa.bool_())
    if present and all(isinstance(v, dict) for v in present):
        names = _field_names(present)
        children = [column(pa, [None if v is None else v.get(name) for v in values]) for name in names]
        return pa.StructArray.from_arrays(children, names=names, mask=nulls)
    if present and all(isinstance(v, list) for v in present):
        offsets: list[int] = [0]
        flat: list[Any] = []
        for v in values:
            flat.extend(v or ())
            offsets.append(len(flat))
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), column(pa, flat), mask=nulls)
    return pa.array([v if v is None or isinstance(v, str) else orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()
                     for v in values], pa.string())


@dataclass(slots=True)
class _Group:
    key: str
    items: list[SpooledEvent] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)


def _finish(groups: Iterable[_Group], fmt: JsonlFormat | ParquetFormat, extension: str) -> list[S3Object]:
    objects = []
    for group in groups:
        first = group.items[0]
        name = object_id(first.seq, _event_id(first)) + extension
        key = KeyTemplate.finish(group.key, name)
        if isinstance(fmt, JsonlFormat):
            body = b"".join(line + b"\n" for line in group.rows)
            objects.append(S3Object(key, gzip_bytes(body, 6) if fmt.gzip else body, "application/x-ndjson",
                                    "gzip" if fmt.gzip else None, len(group.items), first.seq))
        else:
            objects.append(S3Object(key, parquet_bytes(group.rows, fmt.compression), "application/vnd.apache.parquet",
                                    None, len(group.items), first.seq))
    return objects


def _event_id(item: SpooledEvent) -> str:
    return str(orjson.loads(item.data).get("id", "")) if item.data[:1] == b"{" else ""


def plan_s3(batch: Sequence[SpooledEvent], template: KeyTemplate, schema: str,
            fmt: JsonlFormat | ParquetFormat) -> list[S3Object]:
    """The objects of one ``s3`` batch: events grouped by their rendered key, in spool order."""
    groups: dict[str, _Group] = {}
    extension = EXTENSIONS[("jsonl", fmt.gzip) if isinstance(fmt, JsonlFormat) else ("parquet", False)]
    for item in batch:
        doc = orjson.loads(item.data)
        key = template.render(doc=doc, when=event_datetime(doc))
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key)
        group.items.append(item)
        if isinstance(fmt, JsonlFormat):
            group.rows.append(render_json(item, schema))
        else:
            group.rows.append(doc if schema == "native" else render_schema(item.event, schema))
    return _finish(groups.values(), fmt, extension)


def class_slug(ocsf: dict[str, Any]) -> str:
    """``Vulnerability Finding`` → ``vulnerability_finding`` (for a source name per class)."""
    return safe_part(str(ocsf.get("class_name") or f"class_{ocsf.get('class_uid', 0)}").lower().replace(" ", "_"))


def plan_security_lake(batch: Sequence[SpooledEvent], source: KeyTemplate, region: str, account_id: str,
                       fmt: ParquetFormat) -> list[S3Object]:
    """The objects of one ``security_lake`` batch: OCSF Parquet, one class and one event day per
    object, rows sorted by time as Security Lake recommends."""
    groups: dict[str, _Group] = {}
    for item in batch:
        row = render_schema(item.event, "ocsf")
        name = source.render({"class_uid": row.get("class_uid", 0), "class_name": class_slug(row)})
        when = event_datetime(orjson.loads(item.data))
        key = security_lake_prefix(name, region, account_id, when) + f"{row.get('class_uid', 0)}-" + "\x00"
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key)
        group.items.append(item)
        group.rows.append(row)
    for group in groups.values():
        order = sorted(range(len(group.rows)), key=lambda i: (group.rows[i].get("time") or 0, group.items[i].seq))
        group.rows = [group.rows[i] for i in order]
    return _finish(groups.values(), fmt, ".parquet")
