"""The event every throughput benchmark sends: one security finding, about 650 bytes of JSON."""

from __future__ import annotations

import json


def finding_line(i: int) -> bytes:
    """Finding number ``i`` as one JSON line (unique id, realistic fields and sizes)."""
    return json.dumps({
        "id": f"bench-{i:09d}", "timestamp": "2025-01-15T14:30:00Z", "type": "finding.new", "severity": "high",
        "score": 82, "title": f"SQL injection in /api/users parameter id (#{i})",
        "description": "SQL injection detected in the id parameter of the users endpoint; the parameter is concatenated "
                       "into a query without escaping. An attacker can read or modify any row of the database.",
        "asset": {"name": "app.example.com", "type": "web_app", "url": "https://app.example.com/api/users?id=1"},
        "finding": {"id": f"F-{i}", "category": "injection", "cwe": "CWE-89", "status": "open"},
        "repository": {"name": "acme/webapp", "branch": "main"},
        "tags": ["owasp-a03", "pci"],
    }).encode() + b"\n"
