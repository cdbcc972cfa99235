"""Render an :class:`~agent.model.Event` as an OCSF 1.4.0 event (``schema: ocsf`` in sinks).

The class follows the event's normalised type, so a SIEM that speaks OCSF files it
where its analysts expect it:

=====================  ==============================================  =====================
``type``               OCSF class                                      activity
=====================  ==============================================  =====================
``finding.*``          Vulnerability Finding (2002, Findings)          new → Create, resolved → Close, else Update
``scan.*``             Scan Activity (6007, Application Activity)      started, completed, failed → Error, ...
``audit.*``/``config.*`` Entity Management (3004, IAM)                 verb of the type: created → Create, ...
``asset.*``            Inventory Info (5001) for a host, else Entity Management (3004)
``process.*``/sudo     Process Activity (1007, System Activity)        started → Launch, terminated → Terminate, ...
``auth.*``             Authentication (3002)                            Logon, status from ``outcome``
a traffic verdict      Network Activity (4001)                          an allow/deny ``action`` on a connection
``alert``/a signature  Detection Finding (2004)                         Create
network addresses      Network Activity (4001)                          Refuse when denied, else Traffic
anything else          Base Event (0) with activity Other
=====================  ==============================================  =====================

What OCSF has no attribute for (the siemrelay type, score, links, origin) goes to
``unmapped``, and the vendor's original payload to ``raw_data``, so nothing is lost.
The rendering is a pure function of the event.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from datetime import datetime
from typing import Any

import orjson

from agent.model import Event, Severity, parse_time
from agent.sdk.ocsf_process import is_process_event, process_activity

__all__ = ["to_ocsf", "OCSF_VERSION", "ocsf_class_of"]

#: The OCSF schema version the output declares (``metadata.version``) and is tested against.
OCSF_VERSION = "1.4.0"

_SEVERITY_CAPTION = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}

# class uid → (class name, category uid, category name)
_CLASSES: dict[int, tuple[str, int, str]] = {
    0: ("Base Event", 0, "Uncategorized"),
    2002: ("Vulnerability Finding", 2, "Findings"),
    3004: ("Entity Management", 3, "Identity & Access Management"),
    5001: ("Inventory Info", 5, "Discovery"),
    6007: ("Scan Activity", 6, "Application Activity"),
    2004: ("Detection Finding", 2, "Findings"),
    3002: ("Authentication", 3, "Identity & Access Management"),
    4001: ("Network Activity", 4, "Network Activity"),
    1007: ("Process Activity", 1, "System Activity"),
}

_VULN_ACTIVITY = {"new": (1, "Create"), "resolved": (3, "Close"), "closed": (3, "Close")}
_SCAN_ACTIVITY = {
    "started": (1, "Started"), "completed": (2, "Completed"), "cancelled": (3, "Cancelled"),
    "canceled": (3, "Cancelled"), "long_running": (4, "Duration Violation"), "failed": (6, "Error"),
    "paused": (7, "Paused"), "resumed": (8, "Resumed"), "restarted": (9, "Restarted"), "delayed": (10, "Delayed"),
}
_ENTITY_ACTIVITY = {
    "created": (1, "Create"), "added": (1, "Create"), "read": (2, "Read"), "viewed": (2, "Read"),
    "updated": (3, "Update"), "changed": (3, "Update"), "deleted": (4, "Delete"), "removed": (4, "Delete"),
    "moved": (5, "Move"), "enabled": (8, "Enable"), "disabled": (9, "Disable"),
}
# finding.status (any case) → OCSF finding status_id
_FINDING_STATUS = {
    "new": 1, "open": 1, "opened": 1, "reopened": 1, "active": 1, "unresolved": 1, "pending_review": 1,
    "in_progress": 2, "manual_review": 2, "triaged": 2, "verified": 2, "confirmed": 2, "true_positive": 2,
    "accepted": 2, "pending": 2, "in_review": 2,
    "ignored": 3, "false_positive": 3, "suppressed": 3, "accepted_risk": 3, "risk_accepted": 3, "wont_fix": 3,
    "resolved": 4, "fixed": 4, "patched": 4, "closed": 4, "remediated": 4,
    "archived": 5,
}
# OCSF's email_t pattern: a value that fails it goes to user.name only.
_EMAIL = re.compile(r"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+")
_STATUS_CAPTION = {0: "Unknown", 1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved", 5: "Archived", 99: "Other"}

_PRODUCTS = {
    "escape": ("Escape", "Escape"), "detectify": ("Detectify", "Detectify"), "zeropath": ("ZeroPath", "ZeroPath"),
    "pentest": ("Pentest Platform", "Pentest Platform"), "siemrelay": ("siemrelay", "siemrelay"),
}


def _ms(value: object) -> int | None:
    dt = value if isinstance(value, datetime) else parse_time(value)
    return None if dt is None else int(dt.timestamp() * 1000)


def _s(value: object) -> str | None:
    """A non-empty string form of a scalar, else ``None``."""
    if value is None or isinstance(value, (dict, list)) or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ip(value: object) -> str | None:
    """An IP address OCSF's ``ip_t`` accepts, else ``None`` (a host name is not an IP)."""
    text = _s(value)
    if not text:
        return None
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return text.strip()


def _obj(value: object) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (groups are vendor-shaped)."""
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -2**53 < value < 2**53:
        return None  # NaN fails the comparison too; OCSF integers must stay JSON-safe
    return int(value)


def _group(event: Event, name: str) -> dict[str, Any]:
    value = getattr(event, name)
    return value if isinstance(value, dict) else {}


def ocsf_class_of(event: Event) -> int:
    """Return the OCSF ``class_uid`` :func:`to_ocsf` uses for ``event``."""
    head = event.type.split(".", 1)[0]
    if head == "finding":
        return 2002
    if is_process_event(event):
        return 1007
    if head == "auth":
        return 3002
    if _traffic_verdict(event):  # a firewall's allow/deny of a connection, even with a rule id
        return 4001
    if head == "alert" or event.signature:
        return 2004
    if head == "scan":
        return 6007
    if head in ("audit", "config"):
        return 3004
    if head == "asset":
        asset = _group(event, "asset")
        return 5001 if (_s(asset.get("host")) or _s(asset.get("ip")) or _s(asset.get("hostname"))) else 3004
    if _endpoint(event, "src") or _endpoint(event, "dst"):
        return 4001
    return 0


_TRAFFIC_VERDICTS = ("allowed", "denied", "dropped", "blocked", "reset")


def _traffic_verdict(event: Event) -> bool:
    """True for a connection with a traffic verdict (FortiGate ``act=deny``): Network Activity,
    not a detection, though the firewall names its rule in the signature."""
    action = _s(_group(event, "action").get("name"))
    return action in _TRAFFIC_VERDICTS and bool(_endpoint(event, "src") or _endpoint(event, "dst"))


def _port(value: object) -> int | None:
    port = _int(value) if not isinstance(value, str) else (int(value) if value.isascii() and value.isdigit() else None)
    return port if port is not None and 0 <= port <= 65535 else None


def _endpoint(event: Event, side: str) -> dict[str, Any]:
    """An OCSF network endpoint from ``network.<side>_ip``/``_port`` (a host name goes to ``hostname``)."""
    net = _group(event, "network")
    value = _s(net.get(f"{side}_ip"))
    out: dict[str, Any] = {}
    if value:
        ip = _ip(value)
        out["ip" if ip else "hostname"] = ip or value
    port = _port(net.get(f"{side}_port"))
    if port is not None and out:
        out["port"] = port
    return out


def _user(event: Event) -> dict[str, Any]:
    actor = _group(event, "actor")
    # OCSF's user wants a name (or uid/account): a domain alone keeps the name "unknown"
    return {"name": _s(actor.get("user")) or "unknown", **({"domain": d} if (d := _s(actor.get("domain"))) else {})}


def _authentication(event: Event, out: dict[str, Any]) -> tuple[int, str]:
    out["user"] = _user(event)
    for side, key in (("src", "src_endpoint"), ("dst", "dst_endpoint")):
        endpoint = _endpoint(event, side)
        if endpoint:
            out[key] = endpoint
    host = _s(_group(event, "device").get("hostname"))
    if host and "dst_endpoint" not in out:
        out["dst_endpoint"] = {"hostname": host}
    outcome = _s(_group(event, "outcome").get("name"))
    out["status_id"], out["status"] = {"success": (1, "Success"), "failure": (2, "Failure")}.get(outcome or "", (0, "Unknown"))
    return (1, "Logon")


def _detection(event: Event, out: dict[str, Any]) -> tuple[int, str]:
    sig = _group(event, "signature")
    info: dict[str, Any] = {"uid": _s(sig.get("id")) or event.id,
                            "title": _s(sig.get("name")) or event.title or event.vendor_type or event.type}
    category = _s(_group(event, "finding").get("category"))
    if category:
        info["types"] = [category]
    if event.description:
        info["desc"] = event.description
    out["finding_info"] = info
    evidence = {k: v for k, v in (("src_endpoint", _endpoint(event, "src")), ("dst_endpoint", _endpoint(event, "dst"))) if v}
    if evidence:
        out["evidences"] = [evidence]
    return (1, "Create")


def _network(event: Event, out: dict[str, Any]) -> tuple[int, str]:
    for side, key in (("src", "src_endpoint"), ("dst", "dst_endpoint")):
        endpoint = _endpoint(event, side)
        if endpoint:
            out[key] = endpoint
    action = _s(_group(event, "action").get("name"))
    return (5, "Refuse") if action in _TRAFFIC_VERDICTS[1:] else (6, "Traffic")


def _verb(event: Event) -> str:
    return event.type.rsplit(".", 1)[-1] if "." in event.type else ""


def _metadata(event: Event) -> dict[str, Any]:
    name, vendor = _PRODUCTS.get(event.source, (event.source or "unknown", event.source or "unknown"))
    product: dict[str, Any] = {"name": name, "vendor_name": vendor}
    device = _group(event, "device")
    if _s(device.get("product")):  # who reported it: the IDS or firewall, not siemrelay's input
        product = {"name": str(device["product"]), "vendor_name": _s(device.get("vendor")) or str(device["product"])}
        if _s(device.get("version")):
            product["version"] = str(device["version"])
    meta: dict[str, Any] = {
        "version": OCSF_VERSION,
        "uid": event.id,
        "product": product,
        "logged_time": _ms(event.received_at),
    }
    if event.vendor_type:
        meta["event_code"] = event.vendor_type
    if event.tags:
        meta["labels"] = [str(t) for t in event.tags]
    org = _group(event, "organization")
    if _s(org.get("id")):
        meta["tenant_uid"] = str(org["id"])
    return meta


def _resources(event: Event) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    asset = _group(event, "asset")
    name = _s(asset.get("name")) or _s(asset.get("url")) or _s(asset.get("host"))
    if name or _s(asset.get("id")):
        res: dict[str, Any] = {k: v for k, v in (("uid", _s(asset.get("id"))), ("name", name),
                                                  ("type", _s(asset.get("type"))), ("hostname", _s(asset.get("host"))),
                                                  ("ip", _ip(asset.get("ip")))) if v}
        out.append(res)
    repo = _group(event, "repository")
    rname = _s(repo.get("name")) or _s(repo.get("url"))
    if rname or _s(repo.get("id")):
        res = {k: v for k, v in (("uid", _s(repo.get("id"))), ("name", rname)) if v}
        res["type"] = "repository"
        out.append(res)
    return out


def _vulnerability(event: Event, finding: dict[str, Any]) -> dict[str, Any]:
    vuln: dict[str, Any] = {"title": event.title or event.vendor_type or event.type,
                            "severity": _SEVERITY_CAPTION.get(int(event.severity_id), "Unknown")}
    if event.description:
        vuln["desc"] = event.description
    cve, cwe = _s(finding.get("cve")), _s(finding.get("cwe"))
    cvss = finding.get("cvss")
    if cve:  # OCSF 1.4 wants exactly one of cve, cwe, advisory; a CWE rides inside the CVE
        cve_obj: dict[str, Any] = {"uid": cve}
        if cwe:
            cve_obj["cwe_uid"] = cwe
        if isinstance(cvss, (int, float)) and not isinstance(cvss, bool):
            cve_obj["cvss"] = [{"base_score": float(cvss), "version": _s(finding.get("cvss_version")) or "3.1"}]
        vuln["cve"] = cve_obj
    elif cwe:
        vuln["cwe"] = {"uid": cwe}
    else:
        adv: dict[str, Any] = {"uid": _s(finding.get("category")) or _s(finding.get("id")) or event.id,
                               "title": vuln["title"]}
        if event.links and _s(event.links.get("vendor")):
            adv["src_url"] = event.links["vendor"]
        vuln["advisory"] = adv
    remediation = _s(finding.get("remediation"))
    if remediation:
        vuln["remediation"] = {"desc": remediation}
    refs = [str(r) for r in finding.get("references") or () if _s(r)] if isinstance(finding.get("references"), list) else []
    if refs:
        vuln["references"] = refs
    loc = _obj(finding.get("location"))
    path = _s(loc.get("file"))
    if path:
        code: dict[str, Any] = {"file": {"name": posixpath.basename(path) or path, "path": path, "type_id": 1}}
        line = _int(loc.get("line"))
        if line is not None:
            code["start_line"] = line
        vuln["affected_code"] = [code]
    pkg = _obj(finding.get("package"))
    if _s(pkg.get("name")) and _s(pkg.get("version")):
        entry: dict[str, Any] = {"name": str(pkg["name"]), "version": str(pkg["version"])}
        if _s(pkg.get("fixed_version")):
            entry["fixed_in_version"] = str(pkg["fixed_version"])
        vuln["affected_packages"] = [entry]
    return vuln


def _finding(event: Event, out: dict[str, Any]) -> tuple[int, str]:
    finding = _group(event, "finding")
    info: dict[str, Any] = {"uid": _s(finding.get("id")) or event.id, "title": event.title or event.vendor_type or event.type}
    if event.description:
        info["desc"] = event.description
    if _s(finding.get("category")):
        info["types"] = [str(finding["category"])]
    if event.links and _s(event.links.get("vendor")):
        info["src_url"] = event.links["vendor"]
    created = _ms(finding.get("created_at"))
    if created is not None:
        info["created_time"] = created
        info["first_seen_time"] = created
    out["finding_info"] = info
    out["vulnerabilities"] = [_vulnerability(event, finding)]
    resources = _resources(event)
    if resources:
        out["resources"] = resources
    status = _s(finding.get("status"))
    verb = _verb(event)
    key = (status or "").strip().lower().replace(" ", "_").replace("-", "_")
    sid = _FINDING_STATUS.get(key) or {"new": 1, "resolved": 4, "reopened": 1, "verified": 2}.get(verb, 0 if not status else 99)
    out["status_id"] = sid
    out["status"] = status if sid == 99 and status else _STATUS_CAPTION[sid]
    return _VULN_ACTIVITY.get(verb, (2, "Update"))


def _scan(event: Event, out: dict[str, Any]) -> tuple[int, str]:
    scan = _group(event, "scan")
    kind = (_s(scan.get("trigger")) or "").lower()
    type_id = {"manual": 1, "scheduled": 2}.get(kind, 0)
    obj: dict[str, Any] = {"uid": _s(scan.get("id")) or event.id, "type_id": type_id}
    name = _s(scan.get("name")) or event.title
    if name:
        obj["name"] = name
    if _s(scan.get("type")):
        obj["type"] = str(scan["type"])
    out["scan"] = obj
    for src, dst in (("started_at", "start_time"), ("finished_at", "end_time")):
        ms = _ms(scan.get(src))
        if ms is not None:
            out[dst] = ms
    duration = scan.get("duration_s")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and 0 <= duration < 2**43:
        out["duration"] = int(duration * 1000)
    counts = _obj(scan.get("counts"))
    total = _int(counts.get("total"))
    if total is not None:
        out["num_detections"] = total
    verb = _verb(event)
    if verb == "completed":
        out["status_id"], out["status"] = 1, "Success"
    elif verb == "failed":
        out["status_id"], out["status"] = 2, "Failure"
    if _s(scan.get("error")):
        out["status_detail"] = str(scan["error"])
    resources = _resources(event)
    if resources:
        out["unmapped_resources"] = resources
    return _SCAN_ACTIVITY.get(verb, (99, verb or "Other"))


def _entity(event: Event, out: dict[str, Any]) -> tuple[int, str]:
    asset = _group(event, "asset")
    entity: dict[str, Any] = {k: v for k, v in (("uid", _s(asset.get("id"))),
                                                ("name", _s(asset.get("name")) or _s(asset.get("url"))),
                                                ("type", _s(asset.get("type")))) if v}
    if "uid" not in entity and "name" not in entity:
        entity["name"] = event.title or event.vendor_type or event.type
    out["entity"] = entity
    actor = _group(event, "organization").get("actor")
    if isinstance(actor, dict):
        email = _s(actor.get("email"))
        user = {k: v for k, v in (("uid", _s(actor.get("id"))), ("name", _s(actor.get("name")) or email)) if v}
        if email and _EMAIL.fullmatch(email):
            user["email_addr"] = email
        if user:
            out["actor"] = {"user": user}
    verb = _verb(event)
    found = _ENTITY_ACTIVITY.get(verb) or _ENTITY_ACTIVITY.get(verb.rsplit("_", 1)[-1])  # profile_changed → changed
    return found or (99, verb or "Other")


def _inventory(event: Event, out: dict[str, Any]) -> tuple[int, str]:
    asset = _group(event, "asset")
    device: dict[str, Any] = {"type_id": 0, "type": "Unknown"}
    for src, dst in (("id", "uid"), ("name", "name"), ("host", "hostname"), ("hostname", "hostname")):
        if _s(asset.get(src)) and dst not in device:
            device[dst] = _s(asset[src])
    ip = _ip(asset.get("ip"))
    if ip:
        device["ip"] = ip
    if len(device) == 2:  # OCSF wants at least one identifier: the host or IP made us pick this class
        device["name"] = _s(asset.get("ip")) or event.title or event.id
    out["device"] = device
    return 1, "Log"


def to_ocsf(event: Event, *, include_raw: bool = True) -> dict[str, Any]:
    """Return ``event`` as an OCSF 1.4.0 event object (a JSON-ready dict).

    :param include_raw: put the vendor's original payload in ``raw_data`` (a JSON string).
    """
    class_uid = ocsf_class_of(event)
    class_name, category_uid, category_name = _CLASSES[class_uid]
    sev = int(event.severity_id) if int(event.severity_id) in _SEVERITY_CAPTION else int(Severity.UNKNOWN)
    out: dict[str, Any] = {
        "class_uid": class_uid, "class_name": class_name,
        "category_uid": category_uid, "category_name": category_name,
        "time": _ms(event.time),
        "severity_id": sev, "severity": _SEVERITY_CAPTION[sev],
        "metadata": _metadata(event),
    }
    if event.title:
        out["message"] = event.title
    if class_uid == 2002:
        activity = _finding(event, out)
    elif class_uid == 6007:
        activity = _scan(event, out)
    elif class_uid == 3004:
        activity = _entity(event, out)
    elif class_uid == 5001:
        activity = _inventory(event, out)
    elif class_uid == 3002:
        activity = _authentication(event, out)
    elif class_uid == 2004:
        activity = _detection(event, out)
    elif class_uid == 4001:
        activity = _network(event, out)
    elif class_uid == 1007:
        activity = process_activity(event, out, _user(event))
    else:
        activity = (99, _verb(event) or "Other")
    out["activity_id"], out["activity_name"] = activity
    out["type_uid"] = class_uid * 100 + activity[0]
    out["type_name"] = f"{class_name}: {activity[1]}"
    unmapped: dict[str, Any] = {"siemrelay": {"type": event.type, "score": event.score, "source": event.source}}
    extra = out.pop("unmapped_resources", None)
    if extra:
        unmapped["resources"] = extra
    for name in ("asset", "finding", "scan", "repository", "organization", "links", "network", "actor", "action",
                 "outcome", "process", "file", "device", "signature", "origin"):
        value = getattr(event, name)
        if value:
            unmapped[name] = value
    out["unmapped"] = unmapped
    if include_raw and event.raw is not None:
        try:
            out["raw_data"] = orjson.dumps(event.raw, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # not JSON-serialisable (a decoder bug elsewhere): keep the event, say why
            out["raw_data"] = repr(event.raw)[:65536]
    return out
