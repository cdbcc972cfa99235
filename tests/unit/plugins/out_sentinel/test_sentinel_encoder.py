"""The ``sentinel`` wire format: property-tested through a real JSON parser, and checked
against what Microsoft's own client library (azure-monitor-ingestion) sends for the same rows."""

from __future__ import annotations

import gzip
import json
import ssl
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.testing import make_event, spooled
from plugins.out_sentinel.encoder import encode_rows
from plugins.out_sentinel.sink import SentinelSink
from tests.conftest import pick_port
from tests.peers.azure_monitor import AzureApp, AzureMonitor
from tests.peers.certs import make_certs
from tests.peers.sink_factory import make_sink

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(titles=st.lists(text, min_size=1, max_size=5), description=text)
def test_native_rows_are_the_event_with_time_generated(titles: list[str], description: str) -> None:
    events = [make_event(title=t or "t", description=description) for t in titles]
    rows = json.loads(encode_rows(spooled(events), "native", {}))
    assert rows == [{"TimeGenerated": json.loads(e.to_json())["time"], **json.loads(e.to_json())} for e in events]
    assert all(next(iter(r)) == "TimeGenerated" for r in rows)


@settings(max_examples=60, deadline=None)
@given(title=text, columns=st.dictionaries(st.from_regex(r"[A-Z][A-Za-z0-9_]{0,10}", fullmatch=True),
                                           st.sampled_from(["title", "severity", "asset.name", "missing.path", "tags"]),
                                           min_size=1, max_size=4))
def test_column_map_rows_hold_exactly_the_mapped_columns(title: str, columns: dict[str, str]) -> None:
    event = make_event(title=title or "t")
    native = json.loads(event.to_json())
    rows = json.loads(encode_rows(spooled([event]), "native", columns))
    expected: dict[str, Any] = {"TimeGenerated": native["time"]}
    for column, path in columns.items():
        value: Any = native
        for step in path.split("."):
            value = value.get(step) if isinstance(value, dict) else None
        expected[column] = value
    assert rows == [expected]


def test_ocsf_rows_parse_and_carry_the_event_time() -> None:
    events = [make_event(), make_event(severity="critical")]
    rows = json.loads(encode_rows(spooled(events), "ocsf", {}))
    assert [r["TimeGenerated"] for r in rows] == [json.loads(e.to_json())["time"] for e in events]
    assert all("class_uid" in r for r in rows)


def test_request_matches_the_official_client_library(tmp_path: Path) -> None:
    from azure.core.credentials import AccessToken
    from azure.monitor.ingestion import LogsIngestionClient

    certs = make_certs(tmp_path / "certs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    events = [make_event(title=f"é {i} \"q\"") for i in range(20)]
    with AzureMonitor(pick_port(), apps=(AzureApp("app-1", "s3cret-value"),), ssl_context=context) as az:
        sink = make_sink(SentinelSink, {"endpoint": az.url, "authority": az.url, "dcr_immutable_id": az.dcr,
                                        "stream": "Custom-SiemrelayEvents", "tenant_id": "tenant-1", "client_id": "app-1",
                                        "client_secret": "s3cret-value", "tls": {"ca_file": str(certs.ca)}})
        try:
            assert sink.send(spooled(events)).ok
        finally:
            sink.close()
        ours = az.ingest_calls()[-1]
        rows = json.loads(gzip.decompress(ours.body))
        token = az._issue(True)

        class Credential:
            def get_token(self, *scopes: str, **_: Any) -> AccessToken:
                assert scopes == ("https://monitor.azure.com/.default",)  # the library's form of our scope
                return AccessToken(token, 2 ** 31)

        client = LogsIngestionClient(endpoint=az.url, credential=Credential(), connection_verify=str(certs.ca))
        with client:
            client.upload(rule_id=az.dcr, stream_name="Custom-SiemrelayEvents", logs=rows)
        theirs = az.ingest_calls()[-1]
    assert theirs.status == ours.status == 204
    assert (theirs.path, theirs.query) == (ours.path, ours.query)
    for header in ("content-type", "content-encoding"):
        assert theirs.headers[header].split(";")[0] == ours.headers[header].split(";")[0], header
    assert json.loads(gzip.decompress(theirs.body)) == rows
    assert az.rows[:20] == az.rows[20:]


def test_ecs_rows_parse_and_carry_the_event_time() -> None:
    events = [make_event(), make_event(severity="low")]
    rows = json.loads(encode_rows(spooled(events), "ecs", {}))
    assert [r["TimeGenerated"] for r in rows] == [json.loads(e.to_json())["time"] for e in events]
    assert all("@timestamp" in r for r in rows)
