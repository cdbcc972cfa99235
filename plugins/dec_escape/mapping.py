"""Escape resource objects → the Event model's groups (asset, finding, scan, repository).

Each function takes one documented Escape object and returns the group dict; fields
Escape does not document are not copied here but stay in the event's ``raw``.
Types are checked where a wrong type would change the meaning (an array where an
object belongs raises :class:`~agent.sdk.decoder.DecodeError`); scalar fields are
read leniently (a number where a string is expected becomes its text).
"""

from __future__ import annotations

from typing import Any

from agent.sdk.decoder import DecodeError
from agent.sdk.normalize import opt_list, opt_obj, opt_str

#: target object key → the kind recorded in ``finding.targets[].kind``
TARGET_KINDS = ("apiRoute", "codeFile", "graphqlResolver", "webPage", "webCrawledUrl")
#: asset class sub-objects, in the order their address is preferred as asset.url/host
ASSET_PARTS = ("service", "frontend", "host", "repository", "schema")


def _put(out: dict[str, Any], key: str, value: object) -> None:
    if value not in (None, "", [], {}):
        out[key] = value


def _strings(values: list[Any]) -> list[str]:
    return [v if isinstance(v, str) else opt_str(v) for v in values if opt_str(v)]


def tag_names(tags: list[Any]) -> list[str]:
    """Escape tags are objects (``{id, name, ...}``) or plain strings: their names."""
    out = []
    for tag in tags:
        name = opt_str(tag.get("name") or tag.get("value")) if isinstance(tag, dict) else opt_str(tag)
        if name:
            out.append(name)
    return out


def asset_group(asset: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An Escape Asset → (``asset`` group, ``repository`` group for a repository asset).

    The class-specific sub-object (service, frontend, host, repository, schema) keeps its
    scalar fields under ``asset.details.<class>``; its address also fills ``asset.url``,
    ``asset.host`` and ``asset.ip`` so routes need not know Escape's asset classes.
    """
    out: dict[str, Any] = {}
    for key, src in (("id", "id"), ("name", "name"), ("type", "type"), ("class", "class"), ("uri", "uri"),
                     ("created_at", "createdAt")):
        _put(out, key, opt_str(asset.get(src)))
    repository: dict[str, Any] | None = None
    details: dict[str, Any] = {}
    for part in ASSET_PARTS:
        sub = opt_obj(asset, part, where)
        if sub is None:
            continue
        detail: dict[str, Any] = {}
        for key, value in sub.items():
            if not isinstance(value, (dict, list)):
                _put(detail, key, value)
        if part == "host":
            _put(out, "host", opt_str(sub.get("address")))
            ips = _strings(opt_list(sub, "ips", f"{where}.host"))
            _put(out, "ips", ips)
            if ips:
                out["ip"] = ips[0]
            ports = []
            for p in opt_list(sub, "ports", f"{where}.host"):
                if isinstance(p, dict) and isinstance(p.get("port"), (int, float)) and not isinstance(p.get("port"), bool) \
                        and 0 <= p["port"] <= 65535:
                    ports.append({"port": int(p["port"]), "protocols": _strings(p.get("protocols") or [])
                                  if isinstance(p.get("protocols"), list) else []})
            _put(detail, "ports", ports)
            records = [{"type": opt_str(r.get("type")), "value": opt_str(r.get("value"))}
                       for r in opt_list(sub, "records", f"{where}.host") if isinstance(r, dict)]
            _put(detail, "records", records)
        if part == "frontend":
            ips = _strings(opt_list(sub, "ips", f"{where}.frontend"))
            _put(detail, "ips", ips)
            if ips and "ip" not in out:
                out["ip"] = ips[0]
        if part in ("service", "frontend") and "url" not in out:
            _put(out, "url", opt_str(sub.get("url")))
        if part in ("service", "frontend"):
            _put(out, "environment", opt_str(sub.get("environment")))
        if part == "repository":
            repository = {}
            for key, src in (("id", "id"), ("name", "name"), ("url", "url"), ("type", "type"),
                             ("visibility", "visibility"), ("commit", "lastCommitSha"),
                             ("commit_date", "lastCommitDate")):
                _put(repository, key, opt_str(sub.get(src)))
            if isinstance(sub.get("archived"), bool):
                repository["archived"] = sub["archived"]
            if "name" not in repository:
                _put(repository, "name", opt_str(asset.get("name")))
            _put(out, "url", opt_str(sub.get("url")))
        if part == "schema":
            _put(out, "url", opt_str(sub.get("key")) if "://" in opt_str(sub.get("key")) else "")
        details[part] = detail
    if "host" not in out and "url" in out:
        host = out["url"].split("://", 1)[-1].split("/", 1)[0].split("@")[-1]
        _put(out, "host", host.rsplit(":", 1)[0] if host.count(":") == 1 else host)
    _put(out, "details", details)
    tags = tag_names(opt_list(asset, "tags", where))
    _put(out, "tags", tags)
    scans = [scan_group(s, f"{where}.scans[{i}]") for i, s in enumerate(opt_list(asset, "scans", where))
             if _is_obj(s, f"{where}.scans[{i}]")]
    _put(out, "scans", scans)
    events = scan_events(opt_list(asset, "events", where), where)
    _put(out, "events", events)
    return out, repository


def _is_obj(value: object, where: str) -> bool:
    if not isinstance(value, dict):
        raise DecodeError(f"{where} must be an object, found {type(value).__name__}")
    return True


def scan_group(scan: dict[str, Any], where: str) -> dict[str, Any]:
    """An Escape ResourceScan → the ``scan`` group."""
    out: dict[str, Any] = {}
    for key, src in (("id", "id"), ("status", "status"), ("type", "kind"), ("created_at", "createdAt"),
                     ("started_at", "createdAt"), ("updated_at", "updatedAt"), ("finished_at", "finishedAt"),
                     ("application_id", "applicationId")):
        _put(out, key, opt_str(scan.get(src)))
    ratio = scan.get("progressRatio")
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool):
        out["progress"] = float(ratio)
    app = opt_obj(scan, "application", where)
    if app is not None:
        out["profile"] = profile_group(app)
    return out


def profile_group(app: dict[str, Any]) -> dict[str, Any]:
    """An Escape Application (profile) → a small dict (id, name, scanner kind, API type)."""
    out: dict[str, Any] = {}
    for key, src in (("id", "id"), ("name", "name"), ("scanner_kind", "scannerKind"), ("api_type", "type"),
                     ("created_at", "createdAt"), ("updated_at", "updatedAt")):
        _put(out, key, opt_str(app.get(src)))
    return out


def scan_events(events: list[Any], where: str) -> list[dict[str, Any]]:
    """ResourceScanEvents → summaries (attachments stay in ``raw``)."""
    out = []
    for i, ev in enumerate(events):
        _is_obj(ev, f"{where}.events[{i}]")
        item: dict[str, Any] = {}
        for key, src in (("id", "id"), ("title", "title"), ("description", "description"), ("level", "level"),
                         ("stage", "stage"), ("created_at", "createdAt")):
            _put(item, key, opt_str(ev.get(src)))
        attachments = ev.get("attachments")
        if isinstance(attachments, list) and attachments:
            item["attachments"] = len(attachments)
        out.append(item)
    return out


def target_group(target: dict[str, Any], where: str) -> dict[str, Any]:
    """A ResourceScanTarget → ``{id, uid, scan_id, kind, method, route, file, url, ...}``."""
    out: dict[str, Any] = {}
    for key, src in (("id", "id"), ("uid", "targetUid"), ("scan_id", "scanId")):
        _put(out, key, opt_str(target.get(src)))
    for kind in TARGET_KINDS:
        sub = opt_obj(target, kind, where)
        if sub is None:
            continue
        out["kind"] = kind
        if kind == "apiRoute":
            _put(out, "method", opt_str(sub.get("operation")))
            _put(out, "route", opt_str(sub.get("name")))
            _put(out, "return_type", opt_str(sub.get("returnType")))
            _put(out, "coverage", opt_str(sub.get("coverage")))
        elif kind == "codeFile":
            _put(out, "file", opt_str(sub.get("path")))
            _put(out, "language", opt_str(sub.get("language")))
        elif kind == "graphqlResolver":
            _put(out, "resolver", opt_str(sub.get("name")))
            _put(out, "parent", opt_str(sub.get("parent")))
            _put(out, "return_type", opt_str(sub.get("returnType")))
        else:
            _put(out, "url", opt_str(sub.get("url")))
            if isinstance(sub.get("visits"), (int, float)) and not isinstance(sub.get("visits"), bool) \
                    and 0 <= sub["visits"] < 2**53:
                out["visits"] = int(sub["visits"])
        if isinstance(sub.get("parameters"), dict) and sub["parameters"]:
            out["parameters"] = sorted(str(k) for k in sub["parameters"])
        _put(out, "target_id", opt_str(sub.get("id")))
    return out


def location_of(targets: list[dict[str, Any]]) -> dict[str, Any]:
    """The first target, condensed into ``finding.location`` (route, file, resolver or URL)."""
    for t in targets:
        loc: dict[str, Any] = {k: t[k] for k in ("method", "route", "file", "language", "resolver", "parent", "url") if k in t}
        if loc:
            return loc
    return {}
