"""Render an :class:`~agent.model.Event` in the Elastic Common Schema (``schema: ecs`` in sinks).

Elastic's detection rules, dashboards and SIEM app key on ECS fields (``event.kind``,
``event.category``, ``source.ip``, ``user.name``, ``vulnerability.id``), so an event
rendered here lands where that content looks without an ingest pipeline. The
categorisation follows the event's normalised type and the groups it carries:

=========================  ========  =======================  =====================
``type`` / groups          kind      category                 type
=========================  ========  =======================  =====================
``finding.*``              alert     vulnerability            info
a traffic verdict          event     network                  connection + allowed/denied
``alert`` (IDS, EDR, CEF)  alert     intrusion_detection      allowed/denied/info
``auth.*`` / actor+outcome event     authentication           start
``network`` group          event     network                  connection (+ allowed/denied)
``process`` group          event     process                  start
``scan.*``                 event     vulnerability            info
``audit.*``                event     iam                      creation/change/deletion/info
``config.*``               event     configuration            creation/change/deletion/info
``asset.*``                asset     host                     change/info
anything else              event     (none)                   (none)
=========================  ========  =======================  =====================

A traffic verdict is a firewall's allow/deny of a connection (FortiGate ``act=deny``):
an ``action`` of allowed, denied, dropped, blocked or reset on an event with network
addresses. It is network activity, not an intrusion alert, although the firewall names
its rule in ``signature`` (the OCSF rendering files it as Network Activity 4001 by the
same rule). Its ``event.outcome`` is the event's own outcome when it has one, else
``success``: ECS keeps deny/allow out of the outcome (they are ``event.type``), and a
firewall that denied a connection did what it was asked to ("Using the categorization
fields", firewall blocking a network connection).

What ECS has no field for (the siemrelay type) rides in ``labels``; the vendor's
payload is ``event.original``. The rendering is a pure function of the event.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson

from agent.model import Event, format_time

__all__ = ["to_ecs", "ECS_VERSION", "ecs_categorisation"]

#: The ECS version the output declares (``ecs.version``) and is tested against.
ECS_VERSION = "9.5.0"

_SEVERITY_WORD = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
_VERB_TYPE = {"new": "creation", "added": "creation", "created": "creation", "changed": "change",
              "updated": "change", "removed": "deletion", "deleted": "deletion"}
_ACTION_TYPE = {"allowed": "allowed", "denied": "denied", "dropped": "denied", "blocked": "denied",
                "reset": "denied", "quarantined": "denied"}
_OUTCOMES = frozenset({"success", "failure", "unknown"})
#: The normalised actions that are a firewall's disposition of a connection.
_TRAFFIC_VERDICTS = {"allowed": "allowed", "denied": "denied", "dropped": "denied", "blocked": "denied",
                     "reset": "denied"}


def _obj(event: Event, name: str) -> dict[str, Any]:
    value = getattr(event, name)
    return value if isinstance(value, dict) else {}


def _s(value: object) -> str | None:
    """A non-empty string form of a scalar, else ``None``."""
    if value is None or isinstance(value, (dict, list)) or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ip(value: object) -> str | None:
    """An address ECS's ``ip`` type takes, else ``None`` (a host name is not an IP)."""
    text = _s(value)
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _port(value: Any) -> int | None:  # Any: int() of whatever the payload holds; TypeError means None
    if isinstance(value, bool):
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 <= port <= 65535 else None


def _put(doc: dict[str, Any], path: str, value: object) -> None:
    """Set a dotted path in nested dicts, skipping empty values."""
    if value is None or value == "" or value == []:
        return
    *heads, last = path.split(".")
    node = doc
    for head in heads:
        node = node.setdefault(head, {})
    node[last] = value


def ecs_categorisation(event: Event) -> tuple[str, list[str], list[str]]:
    """Return ``(event.kind, event.category, event.type)`` for ``event``."""
    head, _, verb = event.type.partition(".")
    action = _s(_obj(event, "action").get("name")) or ""
    verdict = [_ACTION_TYPE[action]] if action in _ACTION_TYPE else []
    if head == "finding":
        return "alert", ["vulnerability"], ["info"]
    if _traffic_verdict(event):
        return "event", ["network"], ["connection", _TRAFFIC_VERDICTS[action]]
    if head == "alert" or event.signature:
        return "alert", ["intrusion_detection"], verdict or ["info"]
    if head == "auth":
        return "event", ["authentication"], ["start"]
    if event.network:
        return "event", ["network"], ["connection", *verdict]
    if event.process:
        return "event", ["process"], ["start"]
    if head == "scan":
        return "event", ["vulnerability"], ["info"]
    if head in ("audit", "config"):
        kind_type = _VERB_TYPE.get(verb.rsplit("_", 1)[-1], "info")
        return "event", ["iam" if head == "audit" else "configuration"], [kind_type]
    if head == "asset":
        return "asset", ["host"], ["change" if _VERB_TYPE.get(verb) else "info"]
    if head == "monitor":
        return "alert", [], []
    return "event", [], []


def _traffic_verdict(event: Event) -> bool:
    """True for a firewall's allow/deny of a connection: a traffic verdict ``action`` and an address."""
    net = _obj(event, "network")
    action = _s(_obj(event, "action").get("name"))
    return action in _TRAFFIC_VERDICTS and bool(_s(net.get("src_ip")) or _s(net.get("dst_ip")))


def _outcome(event: Event) -> str | None:
    name = _s(_obj(event, "outcome").get("name"))
    if name in _OUTCOMES:
        return name
    if _traffic_verdict(event):
        return "success"  # the firewall applied its disposition; deny/allow is event.type
    verb = event.type.rsplit(".", 1)[-1]
    return "failure" if verb == "failed" else None


def _endpoints(event: Event, doc: dict[str, Any]) -> None:
    net = _obj(event, "network")
    for side, prefix in (("source", "src"), ("destination", "dst")):
        ip = _ip(net.get(f"{prefix}_ip"))
        _put(doc, f"{side}.ip", ip)
        _put(doc, f"{side}.address", ip or _s(net.get(f"{prefix}_ip")))
        _put(doc, f"{side}.port", _port(net.get(f"{prefix}_port")))
    proto = _s(net.get("protocol"))
    if proto:
        proto = proto.lower()
        _put(doc, "network.transport" if proto in ("tcp", "udp", "icmp", "ipv6-icmp", "sctp") else "network.protocol", proto)
    direction = _s(net.get("direction"))
    if direction in ("ingress", "egress", "inbound", "outbound", "internal", "external", "unknown"):
        _put(doc, "network.direction", direction)


def _vulnerability(event: Event, doc: dict[str, Any]) -> None:
    finding = _obj(event, "finding")
    cve = _s(finding.get("cve"))
    _put(doc, "vulnerability.id", cve or _s(finding.get("id")) or event.id)
    if cve:
        _put(doc, "vulnerability.enumeration", "CVE")
    cvss = finding.get("cvss")
    if isinstance(cvss, (int, float)) and not isinstance(cvss, bool):
        _put(doc, "vulnerability.score.base", float(cvss))
        _put(doc, "vulnerability.classification", "CVSS")
        _put(doc, "vulnerability.score.version", _s(finding.get("cvss_version")) or "3.1")
    _put(doc, "vulnerability.severity", _SEVERITY_WORD.get(int(event.severity_id), "Unknown"))
    _put(doc, "vulnerability.category", [c for c in [_s(finding.get("category"))] if c])
    _put(doc, "vulnerability.description", event.description or event.title)
    _put(doc, "vulnerability.scanner.vendor", _s(_obj(event, "device").get("vendor")) or event.source)
    _put(doc, "vulnerability.report_id", _s(_obj(event, "scan").get("id")))
    url = _s(finding.get("url"))
    _put(doc, "url.full", url)
    _put(doc, "url.original", url)
    package = finding.get("package")
    if isinstance(package, dict):
        _put(doc, "package.name", _s(package.get("name")))
        _put(doc, "package.version", _s(package.get("version")))


def _host(event: Event, doc: dict[str, Any]) -> None:
    asset = _obj(event, "asset")
    _put(doc, "host.name", _s(asset.get("host")) or _s(asset.get("hostname")) or _s(asset.get("name")))
    ip = _ip(asset.get("ip"))
    _put(doc, "host.ip", [ip] if ip else None)
    _put(doc, "host.id", _s(asset.get("id")))


def to_ecs(event: Event, *, include_original: bool = True) -> dict[str, Any]:
    """Return ``event`` as an ECS document (a JSON-ready, nested dict).

    :param include_original: put the vendor's payload in ``event.original`` (a JSON string).
    """
    kind, category, types = ecs_categorisation(event)
    doc: dict[str, Any] = {"@timestamp": format_time(event.time), "ecs": {"version": ECS_VERSION}}
    _put(doc, "message", event.title or event.description)
    _put(doc, "event.id", event.id)
    _put(doc, "event.kind", kind)
    _put(doc, "event.category", category)
    _put(doc, "event.type", types)
    _put(doc, "event.outcome", _outcome(event))
    _put(doc, "event.severity", int(event.severity_id))
    _put(doc, "event.risk_score", float(event.score))
    _put(doc, "event.created", format_time(event.received_at))
    _put(doc, "event.module", event.source)
    _put(doc, "event.code", event.vendor_type)
    _put(doc, "event.action", _s(_obj(event, "action").get("original")) or _s(_obj(event, "action").get("name")))
    _put(doc, "event.reference", _s((event.links or {}).get("vendor")))
    device = _obj(event, "device")
    _put(doc, "observer.vendor", _s(device.get("vendor")))
    _put(doc, "observer.product", _s(device.get("product")))
    _put(doc, "observer.version", _s(device.get("version")))
    _put(doc, "observer.hostname", _s(device.get("hostname")))
    signature = _obj(event, "signature")
    _put(doc, "rule.id", _s(signature.get("id")))
    _put(doc, "rule.name", _s(signature.get("name")))
    _put(doc, "rule.category", _s(_obj(event, "finding").get("category")) if signature else None)
    _endpoints(event, doc)
    actor = _obj(event, "actor")
    _put(doc, "user.name", _s(actor.get("user")))
    _put(doc, "user.domain", _s(actor.get("domain")))
    process = _obj(event, "process")
    _put(doc, "process.name", _s(process.get("name")))
    _put(doc, "process.pid", _pid(process.get("pid")))
    file = _obj(event, "file")
    _put(doc, "file.path", _s(file.get("path")))
    _file_hash(file.get("hash"), doc)
    if event.type.startswith("finding."):
        _vulnerability(event, doc)
    _host(event, doc)
    org = _obj(event, "organization")
    _put(doc, "organization.id", _s(org.get("id")))
    _put(doc, "organization.name", _s(org.get("name")))
    _related(doc)
    _put(doc, "tags", [str(t) for t in event.tags])
    doc["labels"] = {"siemrelay_type": event.type, "siemrelay_source": event.source}
    if include_original and event.raw is not None:
        if isinstance(event.raw, str):
            doc["event"]["original"] = event.raw
        else:
            try:
                doc["event"]["original"] = orjson.dumps(event.raw, option=orjson.OPT_NON_STR_KEYS).decode()
            except TypeError:  # not JSON-serialisable (a decoder bug elsewhere): keep the event
                doc["event"]["original"] = repr(event.raw)[:65536]
    return doc


def _pid(value: Any) -> int | None:  # Any: int() of whatever the payload holds; TypeError means None
    if isinstance(value, bool):
        return None
    try:
        pid = int(value)
    except (TypeError, ValueError):
        return None
    return pid if 0 <= pid < 2**63 else None


_HASH_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}


def _file_hash(value: object, doc: dict[str, Any]) -> None:
    """Put a hex digest under ``file.hash.<algorithm>``, told by its length."""
    text = _s(value)
    if not text:
        return
    algo, _, digest = text.rpartition(":")
    digest = digest.strip().lower()
    name = algo.lower().replace("-", "") if algo else _HASH_BY_LENGTH.get(len(digest))
    if name in ("md5", "sha1", "sha256", "sha384", "sha512") and all(c in "0123456789abcdef" for c in digest):
        _put(doc, f"file.hash.{name}", digest)


def _related(doc: dict[str, Any]) -> None:
    """Fill ``related.ip``/``related.user``/``related.hosts``: what Elastic's pivots search."""
    ips = [doc.get(side, {}).get("ip") for side in ("source", "destination")]
    ips += doc.get("host", {}).get("ip", [])
    _put(doc, "related.ip", sorted({ip for ip in ips if ip}))
    user = doc.get("user", {}).get("name")
    _put(doc, "related.user", [user] if user else None)
    hosts = [doc.get("host", {}).get("name"), doc.get("observer", {}).get("hostname")]
    _put(doc, "related.hosts", sorted({h for h in hosts if h}))
