"""agent.sdk.oauth_google: a key file read through google-auth's public API, errors that name
the problem without quoting the key, and a token endpoint's refusals classified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.sdk import HttpClient
from agent.sdk.oauth_google import GoogleServiceAccount, load_service_account
from tests.peers.chronicle import Chronicle, ServiceAccountKey
from tests.conftest import pick_port

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


@pytest.mark.parametrize("content,expected", [
    ("not json", "is not a Google service-account key"),
    (json.dumps({"type": "service_account", "client_email": "a@b"}), "missing 'token_uri'"),
    (json.dumps({"type": "service_account", "token_uri": "http://x/token", "client_email": "a@b"}),
     "is not a Google service-account key"),
])
def test_a_bad_key_file_is_named_not_quoted(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "sa.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=expected) as err:
        load_service_account(str(path), SCOPES)
    assert str(path) in str(err.value) and "client_email" in str(err.value)


def test_an_unreadable_key_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the service-account key file"):
        load_service_account(str(tmp_path / "missing.json"), SCOPES)


@pytest.mark.parametrize("status,kind,circuit", [(503, "retry", False), (429, "retry", False),
                                                 (400, "reject", True), (401, "reject", True)])
def test_token_refusals_are_classified_after_one_request(tmp_path: Path, status: int, kind: str, circuit: bool) -> None:
    key = ServiceAccountKey.generate()
    with Chronicle(pick_port(), (key,)) as g:
        account = load_service_account(str(key.write(tmp_path / "sa.json", g.token_uri)), SCOPES)
        assert "PRIVATE" not in repr(account)
        g.fail_token_next(status, {"Retry-After": "7"})
        fetcher = GoogleServiceAccount(HttpClient(timeout_s=5), account)
        outcome = fetcher.fetch()
        token = fetcher.fetch()
        fetcher.close()
    assert len(g.token_calls()) == 2  # one request per fetch: google-auth's own retry loop never runs
    assert outcome.status.name.lower() == kind and outcome.open_circuit is circuit
    assert f"HTTP {status}" in outcome.reason and ("temporarily_unavailable" in outcome.reason) is (kind == "retry")
    if kind == "retry":
        assert outcome.retry_after == 7
    assert not hasattr(token, "status") and token.value.startswith("ya29.")
