"""The cross-site guard's decision table (the end-to-end proof is tests/e2e/seams/test_seam_admin_cross_site.py)."""

from __future__ import annotations

import pytest

from agent.admin.crosssite import cross_site_refusal

HOST = {"Host": "127.0.0.1:8081"}
BASIC = {"Authorization": "Basic b25jYWxsOnRva2Vu"}
JSON = {"Content-Type": "application/json; charset=utf-8"}


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_always_pass(method: str) -> None:
    assert cross_site_refusal(method, {**HOST, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
                              scheme="http") is None


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example"},
    {"Origin": "null"}, {"Origin": "https://127.0.0.1:8081"}, {"Origin": "http://127.0.0.1:9999"},
])
def test_foreign_requests_get_403_even_with_json_and_bearer(headers: dict[str, str]) -> None:
    refusal = cross_site_refusal("POST", {**HOST, **JSON, "Authorization": "Bearer t", **headers}, scheme="http")
    assert refusal is not None and refusal.status == 403


def test_an_origin_without_a_host_header_cannot_be_checked_and_is_refused() -> None:
    refusal = cross_site_refusal("POST", {**JSON, "Origin": "http://127.0.0.1:8081"}, scheme="http")
    assert refusal is not None and refusal.status == 403


@pytest.mark.parametrize("ctype", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", ""])
def test_basic_credentials_need_a_json_body(ctype: str) -> None:
    refusal = cross_site_refusal("POST", {**HOST, **BASIC, "Content-Type": ctype}, scheme="http")
    assert refusal is not None and refusal.status == 415


@pytest.mark.parametrize("headers", [
    {**BASIC, **JSON, "Origin": "http://127.0.0.1:8081", "Sec-Fetch-Site": "same-origin"},
    {**BASIC, **JSON},
    {"Authorization": "Bearer token"},
    {"Authorization": "bearer token", "Sec-Fetch-Site": "none"},
])
def test_the_operators_own_requests_pass(headers: dict[str, str]) -> None:
    assert cross_site_refusal("POST", {**HOST, **headers}, scheme="http") is None


def test_https_origin_matches_an_https_server() -> None:
    assert cross_site_refusal("POST", {**HOST, **JSON, "Origin": "https://127.0.0.1:8081"}, scheme="https") is None
