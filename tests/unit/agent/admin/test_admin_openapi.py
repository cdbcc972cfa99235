"""The admin server against its own OpenAPI document, with schemathesis (bounded examples).

Every operation except the endless tap stream is exercised with generated
parameters and bodies; each answer must match the documented status codes,
content types and response schemas, and no request may cause a server error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from agent.admin.openapi import openapi_document
from tests.unit.agent.admin_support import ADMIN, LiveAgent, Receiver, agent_yaml

schema = schemathesis.openapi.from_dict(openapi_document()).exclude(path="/api/v1/tap")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAgent]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    receiver = Receiver(200)
    path = tmp / "siemrelay.yaml"
    path.write_text(agent_yaml(tmp, receiver.port))
    agent = LiveAgent(path)
    try:
        agent.post_event(id="oa-1", title="so lists are not empty")
        yield agent
    finally:
        agent.stop()
        receiver.close()


def test_document_is_valid_openapi():
    doc = openapi_document()
    assert doc["openapi"].startswith("3.0")
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    for expected in [("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"), ("GET", "/api/v1/sinks"),
                     ("GET", "/api/v1/sinks/{name}"), ("POST", "/api/v1/sinks/{name}/test"),
                     ("GET", "/api/v1/sinks/{name}/deliveries"), ("POST", "/api/v1/sinks/{name}/enable"),
                     ("GET", "/api/v1/event-types"), ("GET", "/api/v1/dlq"), ("POST", "/api/v1/dlq/replay")]:
        assert expected in ops
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "401" in op["responses"], (method, path)
            if method == "post":
                assert "403" in op["responses"], path


def test_served_document_is_the_same(live: LiveAgent):
    assert live.get("/openapi.json").json() == openapi_document()


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_server_conforms_to_its_openapi_document(case: schemathesis.Case, live: LiveAgent) -> None:
    case.call_and_validate(base_url=live.url, headers={"Authorization": f"Bearer {ADMIN}"})
