"""The ``secops`` sink: Google Security Operations ``logs.import`` (or the legacy Ingestion
API's ``unstructuredlogentries:batchCreate``, ``api: legacy_unstructured``) with a service account.

``POST {endpoint}/{api_version}/projects/{project}/locations/{region}/instances/{instance}/logTypes/{log_type}/logs:import``
with a bearer token from the service-account key (google-auth signs the JWT). Google
answers 200 with an empty body; 429 and 503 retry (``Retry-After`` honoured); 400 is
dead-lettered with Google's message; 401 and 403 get one fresh token, then open the
circuit; 404 (instance or log type unknown) opens the circuit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

from agent.sdk import Delivery, Sink, SinkContext, SpooledEvent
from plugins.out_secops.config import CONFIG_SCHEMA, check_config
from plugins.out_secops.encoder import import_body, legacy_unstructured_body
from agent.sdk.endpoint import ConformanceEndpoint

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
#: The legacy Ingestion API's scope (Google's documented malachite-ingestion scope).
LEGACY_SCOPES = ("https://www.googleapis.com/auth/malachite-ingestion",)
LEGACY_PATH = "/v2/unstructuredlogentries:batchCreate"
_HINT = "give the service account the Chronicle API Editor role, and check project, region, instance and log_type"


class SecOpsSink(Sink):
    type_name = "secops"
    description = "Google Security Operations (Chronicle) logs.import with a service-account key."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_events": 500, "max_bytes": 512 * 1024, "max_wait_s": 1.0},
                "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 120.0, "timeout_s": 30.0},
                "circuit_breaker": {"failure_threshold": 5, "cooldown_s": 60.0}}
    SECRET_KEYS = frozenset({"token", "secret", "password"})
    check_config = staticmethod(check_config)
    conformance_transport = "http"
    conformance_ok_reply = {"status": 200, "body": {"access_token": "conformance-access-token", "expires_in": 3599,
                                                    "token_type": "Bearer"}}

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: a throwaway key whose token_uri is the receiver."""
        key_file = Path(endpoint.workdir) / "conformance-sa.json"
        if not key_file.exists():
            key_file.write_text(_throwaway_key(f"http://{endpoint.address}/token"))
        return {"endpoint": f"http://{endpoint.address}", "region": "us", "project": "conformance",
                "instance": "conformance", "log_type": "CONFORMANCE", "credentials_file": str(key_file),
                "labels": {"canary": endpoint.secret}}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.legacy = config.get("api") == "legacy_unstructured"
        self.instance, self.log_type = config["instance"], config["log_type"]
        if self.legacy:
            region = config["region"]
            default = ("https://malachiteingestion-pa.googleapis.com" if region == "us"
                       else f"https://{region}-malachiteingestion-pa.googleapis.com")
            self.url = (config.get("endpoint") or default).rstrip("/") + LEGACY_PATH
        else:
            root = (config.get("endpoint") or f"https://chronicle.{config['region']}.rep.googleapis.com").rstrip("/")
            parent = (f"projects/{quote(config['project'] or '')}/locations/{quote(config['region'])}"
                      f"/instances/{quote(config['instance'])}")
            self.url = f"{root}/{config['api_version']}/{parent}/logTypes/{quote(config['log_type'])}/logs:import"
        self.schema = config["schema"]
        self.namespace = config.get("namespace")
        self.labels = dict(config.get("labels") or {})
        self.forwarder = config.get("forwarder")
        self.max_bytes = int(config["max_request_bytes"])
        timeout = float(config["retry"]["timeout_s"])
        # here, not at module level: an agent without HTTP sinks never imports requests
        from agent.sdk.httpclient import HttpClient
        from agent.sdk.oauth import TokenProvider
        from agent.sdk.oauth_google import GoogleServiceAccount, load_service_account

        self.client = HttpClient(tls=config.get("tls"), proxy=config.get("proxy"), timeout_s=timeout,
                                 headers={"Content-Type": "application/json"}, redact=ctx.redact)
        account = load_service_account(config["credentials_file"], LEGACY_SCOPES if self.legacy else SCOPES)
        token_client = HttpClient(tls=config.get("tls"), proxy=config.get("proxy"), timeout_s=timeout, redact=ctx.redact)
        self.tokens = TokenProvider(GoogleServiceAccount(token_client, account, clock=ctx.clock), clock=ctx.clock)

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        if self.legacy:
            return legacy_unstructured_body(batch, self.schema, self.instance, self.log_type, self.namespace,
                                            self.labels)
        return import_body(batch, self.schema, self.namespace, self.labels, self.forwarder)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        from agent.sdk.cloudapi import api_outcome, oversized
        from agent.sdk.oauth import bearer_request

        body = self.encode_batch(batch)
        if len(body) > self.max_bytes:
            return oversized(len(batch), len(body), self.max_bytes,
                             "unstructuredlogentries:batchCreate" if self.legacy else "logs.import")
        result = bearer_request(self.client, self.tokens, "POST", self.url, data=body)
        if isinstance(result, Delivery):
            return result
        return api_outcome(self.client, result[0], result[1], self.url, _HINT)

    def healthcheck(self) -> Delivery:
        """Obtain a token: proves the key and the token endpoint."""
        token = self.tokens.token()
        return token if isinstance(token, Delivery) else Delivery.success("token obtained for Google SecOps")

    def close(self) -> None:
        self.tokens.close()
        self.client.close()


def _throwaway_key(token_uri: str) -> str:
    """A service-account key file with a fresh RSA key (for the conformance suite only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "conformance", "private_key_id": "k1", "private_key": pem,
                       "client_email": "conformance@conformance.iam.gserviceaccount.com", "client_id": "1",
                       "token_uri": token_uri})
