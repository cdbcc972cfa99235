"""The ``sentinel`` sink: rows to a data collection rule's stream through the Logs Ingestion API.

``POST {endpoint}/dataCollectionRules/{dcr}/streams/{stream}?api-version=2023-01-01``
with a bearer token for ``{audience}//.default`` (client credentials or a managed
identity), a gzip'd JSON array, at most 1 MB per call. Azure answers 204 when it
took the rows; 413 splits the batch; 429 and 503 retry after ``Retry-After``; 400 is
dead-lettered with the API's message; 401 and 403 get one fresh token, then open the
circuit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import quote

if TYPE_CHECKING:
    from agent.sdk.oauth import ClientCredentials, ManagedIdentity

from agent.sdk import Delivery, Sink, SinkContext, SpooledEvent, gzip_bytes
from plugins.out_sentinel.config import CONFIG_SCHEMA, MAX_CALL_BYTES, check_config
from plugins.out_sentinel.encoder import encode_rows
from agent.sdk.endpoint import ConformanceEndpoint

_HINT = ("give the app or identity the Monitoring Metrics Publisher role on the DCR, and check dcr_immutable_id, "
         "stream and endpoint")


class SentinelSink(Sink):
    type_name = "sentinel"
    description = "Microsoft Sentinel / Azure Monitor Logs Ingestion API: gzip'd rows to a DCR stream, OAuth or managed identity."
    CONFIG_SCHEMA = CONFIG_SCHEMA
    DEFAULTS = {"batch": {"max_events": 1000, "max_bytes": 512 * 1024, "max_wait_s": 1.0},
                "retry": {"initial_backoff_s": 1.0, "max_backoff_s": 120.0, "timeout_s": 30.0},
                "circuit_breaker": {"failure_threshold": 5, "cooldown_s": 60.0}}
    SECRET_KEYS = frozenset({"client_secret", "token", "secret", "password"})
    check_config = staticmethod(check_config)
    conformance_transport = "http"
    conformance_ok_reply = {"status": 200, "body": {"token_type": "Bearer", "expires_in": 3599,
                                                    "access_token": "conformance-access-token"}}

    @classmethod
    def conformance_config(cls, endpoint: ConformanceEndpoint) -> dict[str, Any]:
        """For the sink conformance suite: its receiver as authority and ingestion endpoint."""
        base = f"http://{endpoint.address}"
        return {"endpoint": base, "authority": base, "dcr_immutable_id": "dcr-" + "0" * 32,
                "stream": "Custom-Conformance", "tenant_id": "conformance-tenant", "client_id": "conformance-app",
                "client_secret": endpoint.secret}

    def __init__(self, name: str, config: dict[str, Any], ctx: SinkContext) -> None:
        super().__init__(name, config, ctx)
        self.url = (f"{config['endpoint'].rstrip('/')}/dataCollectionRules/{quote(config['dcr_immutable_id'])}"
                    f"/streams/{quote(config['stream'])}?api-version={quote(config['api_version'])}")
        self.schema = config["schema"]
        self.columns = dict(config.get("columns") or {})
        self.gzip = bool(config["gzip"])
        self.gzip_level = int(config["gzip_level"])
        timeout = float(config["retry"]["timeout_s"])
        # here, not at module level: an agent without HTTP sinks never imports requests
        from agent.sdk.httpclient import HttpClient
        from agent.sdk.oauth import ClientCredentials, ManagedIdentity, TokenProvider

        self.client = HttpClient(tls=config.get("tls"), proxy=config.get("proxy"), timeout_s=timeout,
                                 headers={"Content-Type": "application/json"}, redact=ctx.redact)
        audience = config["audience"].rstrip("/")
        if config["managed_identity"]:
            # IMDS is link-local: never through the proxy
            fetcher: ClientCredentials | ManagedIdentity = ManagedIdentity(
                HttpClient(timeout_s=timeout, redact=ctx.redact), audience, config.get("client_id"),
                endpoint=config["imds_endpoint"], clock=ctx.clock)
        else:
            token_url = f"{config['authority'].rstrip('/')}/{quote(config['tenant_id'])}/oauth2/v2.0/token"
            fetcher = ClientCredentials(
                HttpClient(tls=config.get("tls"), proxy=config.get("proxy"), timeout_s=timeout, redact=ctx.redact),
                token_url, config["client_id"], config["client_secret"], f"{audience}//.default", clock=ctx.clock)
        self.tokens = TokenProvider(fetcher, clock=ctx.clock)

    def encode_batch(self, batch: Sequence[SpooledEvent]) -> bytes:
        """The uncompressed request body (a JSON array of rows)."""
        return encode_rows(batch, self.schema, self.columns)

    def send(self, batch: Sequence[SpooledEvent]) -> Delivery:
        if not batch:
            return Delivery.success("nothing to send")
        from agent.sdk.cloudapi import api_outcome, oversized
        from agent.sdk.oauth import bearer_request

        body = self.encode_batch(batch)
        if len(body) > MAX_CALL_BYTES:
            return oversized(len(batch), len(body), MAX_CALL_BYTES, "Logs Ingestion API")
        headers = {}
        if self.gzip:
            body = gzip_bytes(body, self.gzip_level)
            headers["Content-Encoding"] = "gzip"
        result = bearer_request(self.client, self.tokens, "POST", self.url, data=body, headers=headers)
        if isinstance(result, Delivery):
            return result
        return api_outcome(self.client, result[0], result[1], self.url, _HINT)

    def healthcheck(self) -> Delivery:
        """Obtain a token: proves the credentials (the API has no side-effect-free probe)."""
        token = self.tokens.token()
        if isinstance(token, Delivery):
            return token
        return Delivery.success("token obtained for Azure Monitor")

    def close(self) -> None:
        self.tokens.close()
        self.client.close()
