"""Proxy selection (no_proxy, from_env) and the token provider's cache, refresh-ahead and
classification, against real loopback peers where a network is involved."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.sdk.outcome import Delivery, Status
from agent.sdk.httpclient import HttpClient
from agent.sdk.oauth import AccessToken, ClientCredentials, TokenProvider, bearer_request
from agent.sdk.proxy import ProxySettings
from agent.testing import FakeClock
from tests.conftest import pick_port, wait_for
from tests.peers.azure_monitor import SCOPE, AzureApp, AzureMonitor


@pytest.mark.parametrize("url,proxied", [
    ("https://ingest.example.com/x", True), ("https://siem.corp.example/x", False),
    ("https://a.b.corp.example/x", False), ("http://10.1.2.3:8088/", False), ("http://10.2.0.1/", True),
    ("https://hec.example.net:8088/", False), ("https://hec.example.net:443/", True), ("http://[::1]:9/", False),
])
def test_no_proxy_rules(url: str, proxied: bool) -> None:
    settings = ProxySettings.from_config({"url": "http://proxy:3128", "no_proxy": [
        ".corp.example", "10.1.0.0/16", "hec.example.net:8088", "::1"]})
    assert bool(settings.for_url(url)) is proxied


def test_environment_is_read_only_when_asked() -> None:
    env = {"HTTPS_PROXY": "http://envproxy:8080", "NO_PROXY": "internal.example"}
    assert not ProxySettings.from_config({}, env).enabled
    on = ProxySettings.from_config({"from_env": True}, env)
    assert on.for_url("https://x.example/") == {"https": "http://envproxy:8080"}
    assert on.for_url("https://internal.example/") == {}


def test_credentials_are_quoted_into_the_proxy_url_and_redacted() -> None:
    client = HttpClient(proxy={"url": "http://proxy:3128", "username": "svc relay", "password": "p@ss:w/rd"})
    assert client.proxy.for_url("https://x/") == {"https": "http://svc%20relay:p%40ss%3Aw%2Frd@proxy:3128"}
    assert "p@ss:w/rd" not in client.redact("failed with p@ss:w/rd")


def _provider(az: AzureMonitor, clock: FakeClock, secret: str = "s3cret-value") -> TokenProvider:
    client = HttpClient(timeout_s=2)
    fetcher = ClientCredentials(client, f"{az.url}/tenant-1/oauth2/v2.0/token", "app-1", secret, SCOPE, clock=clock)
    return TokenProvider(fetcher, clock=clock)


def test_token_is_cached_then_refreshed_in_the_background_before_expiry() -> None:
    clock = FakeClock(1_000_000.0)
    with AzureMonitor(pick_port(), apps=(AzureApp("app-1", "s3cret-value"),), token_lifetime_s=1000) as az:
        tokens = _provider(az, clock)
        first = tokens.token()
        assert isinstance(first, AccessToken) and tokens.token() == first and len(az.token_calls()) == 1
        clock.advance(850)  # inside the refresh margin (a fifth of the lifetime), still valid
        assert tokens.token() == first  # handed out at once, while a refresh runs in the background
        wait_for(lambda: len(az.token_calls()) == 2, 5, what="the background refresh")
        wait_for(lambda: tokens.token() != first, 5, what="the refreshed token")
        tokens.close()


def test_refused_secret_opens_the_circuit_and_busy_endpoint_retries() -> None:
    clock = FakeClock(1_000_000.0)
    with AzureMonitor(pick_port(), apps=(AzureApp("app-1", "s3cret-value"),)) as az:
        bad = _provider(az, clock, secret="wrong-secret-value").token()
        assert isinstance(bad, Delivery) and bad.status is Status.REJECT and bad.open_circuit  # type: ignore[union-attr]
        assert "wrong-secret-value" not in bad.reason  # type: ignore[union-attr]
        az.fail_token(503, {"Retry-After": "4"})
        busy = _provider(az, clock).token()
        assert busy.status is Status.RETRY and busy.retry_after == 4  # type: ignore[union-attr]
    closed = _provider(az, clock).token()  # the endpoint is gone
    assert closed.status is Status.RETRY and closed.error_kind == "connection"  # type: ignore[union-attr]


def test_bearer_request_refreshes_once_on_401() -> None:
    clock = FakeClock(1_000_000.0)
    with AzureMonitor(pick_port(), apps=(AzureApp("app-1", "s3cret-value"),)) as az:
        tokens = _provider(az, clock)
        client = HttpClient(timeout_s=2, headers={"Content-Type": "application/json"})
        url = f"{az.url}/dataCollectionRules/{az.dcr}/streams/Custom-SiemrelayEvents?api-version=2023-01-01"
        body = b'[{"TimeGenerated":"2025-01-01T00:00:00Z"}]'
        assert bearer_request(client, tokens, "POST", url, data=body)[0].status_code == 204  # type: ignore[index,union-attr]
        az.revoke_tokens()
        assert bearer_request(client, tokens, "POST", url, data=body)[0].status_code == 204  # type: ignore[index,union-attr]
        assert [r.status for r in az.requests] == [200, 204, 401, 200, 204]
        tokens.close()
        client.close()
