"""The context groups an Escape resource carries: who reported it, the check that fired,
the file and the network address it is about, and a scan's outcome.

Built from the groups the decoder already made (pure functions), so a SIEM's content
that keys on ``signature.id``, ``file.path`` or ``network.dst_ip`` works for Escape as
for an IDS: ``device`` is Escape itself, ``signature`` the security test
(``securityTestUid``) and the issue's name, ``file`` the code file of the first target,
``network`` the host asset's first address and open port.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEVICE", "issue_context", "network_of", "scan_outcome"]

#: Who reports every Escape event (CEF Device Vendor/Product, OCSF metadata.product, ECS observer).
DEVICE: dict[str, str] = {"vendor": "Escape", "product": "Escape"}

_OUTCOMES = {"FINISHED": "success", "FAILED": "failure", "CANCELED": "failure"}


def network_of(asset: dict[str, Any] | None) -> dict[str, Any]:
    """``{dst_ip, dst_port, protocol}`` of a host asset: the address a finding or change is about."""
    if not asset:
        return {}
    out: dict[str, Any] = {}
    if isinstance(asset.get("ip"), str):
        out["dst_ip"] = asset["ip"]
    ports = ((asset.get("details") or {}).get("host") or {}).get("ports") if isinstance(asset.get("details"), dict) else None
    if isinstance(ports, list) and ports and isinstance(ports[0], dict) and out:
        out["dst_port"] = ports[0]["port"]
        protocols = ports[0].get("protocols") or []
        if protocols:
            out["protocol"] = str(protocols[0]).lower()
    return out


def issue_context(finding: dict[str, Any], asset: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``signature``, ``file``, ``network`` and ``device`` of an issue (only those it has)."""
    groups: dict[str, dict[str, Any]] = {"device": dict(DEVICE)}
    if finding.get("security_test_uid"):
        groups["signature"] = {"id": finding["security_test_uid"], **({"name": finding["name"]} if finding.get("name") else {})}
    path = (finding.get("location") or {}).get("file")
    if isinstance(path, str) and path:
        groups["file"] = {"path": path}
    network = network_of(asset)
    if network:
        groups["network"] = network
    return groups


def scan_outcome(status: str) -> dict[str, str]:
    """A scan's outcome: FINISHED success, FAILED/CANCELED failure, a running one unknown; the status kept."""
    return {"name": _OUTCOMES.get(status, "unknown"), "original": status} if status else {}
