"""Visma Connect client credentials for the Visma.net client.

The token request is a form-urlencoded POST to the token URL (``https://connect.visma.com/connect/token``
for the real service) with ``grant_type=client_credentials``, ``client_id``, ``client_secret``,
``tenant_id`` and ``scope`` [V11]. The access token is fetched on first use, renewed shortly before
it expires (``expires_in`` minus a margin of a tenth of the lifetime, at most 60 s) and once after a
401/403 (``renew_after``; see ``mapsync.connectors.http.BearerToken``). There is no refresh token: nothing
needs storing between passes.

Refused credentials raise ``FatalError`` (with the OAuth ``error`` as code); a token endpoint that is
down raises ``TransientError`` (after the executor's retries). Secrets never appear in messages.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from mapsync.connectors.base import FatalError
from mapsync.connectors.http import BearerToken, RequestExecutor, read_token_answer
from mapsync.connectors.vismanet.errors import error_details

CONNECT_TOKEN_URL = "https://connect.visma.com/connect/token"
DEFAULT_SCOPE = (
    "vismanet_erp_service_api:read vismanet_erp_service_api:create "
    "vismanet_erp_service_api:update vismanet_erp_service_api:delete"
)


def token_url_for(base_url: str) -> str:
    """Visma Connect for the real API; ``/connect/token`` on the same server for simulators."""
    host = httpx.URL(base_url).host
    if host.endswith("visma.net"):
        return CONNECT_TOKEN_URL
    return base_url.rstrip("/") + "/connect/token"


class VismaConnectCredentials(BearerToken):
    """Produces the ``Authorization`` header and renews the client-credentials token when needed."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        executor: RequestExecutor,
        scope: str = DEFAULT_SCOPE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        missing = [n for n, v in (("client_id", client_id), ("client_secret", client_secret),
                                  ("tenant_id", tenant_id), ("token_url", token_url)) if not v]
        if missing:
            raise FatalError(f"vismanet: missing connection settings: {', '.join(missing)}")
        super().__init__(clock=clock)
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant_id = tenant_id
        self._scope = scope
        self._executor = executor
        self.token_requests = 0

    def _obtain(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "tenant_id": self._tenant_id,
            "scope": self._scope,
        }
        self.token_requests += 1
        response = self._executor.request(
            "POST", self._token_url, data=form, headers={"Accept": "application/json"}, idempotent=True
        )
        answer = read_token_answer(
            response,
            endpoint="vismanet: the Visma Connect token endpoint",
            refusal="vismanet: Visma Connect refused the client credentials",
            error_details=error_details,
        )
        return answer.access_token, answer.lifetime
