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

from mapsync.connectors.base import FatalError
from mapsync.connectors.http import RequestExecutor
from mapsync.connectors.http.oauth import OAuthBearer, TokenEndpoint
from mapsync.connectors.vismanet.errors import error_details

CONNECT_TOKEN_URL = "https://connect.visma.com/connect/token"
DEFAULT_SCOPE = (
    "vismanet_erp_service_api:read vismanet_erp_service_api:create "
    "vismanet_erp_service_api:update vismanet_erp_service_api:delete"
)


# Visma Connect for the real API; ``/connect/token`` on the same server for simulators
TOKEN_ENDPOINT = TokenEndpoint(CONNECT_TOKEN_URL, lambda host: host.endswith("visma.net"), "/connect/token")
token_url_for = TOKEN_ENDPOINT.url_for


class VismaConnectCredentials(OAuthBearer):
    """Produces the ``Authorization`` header and renews the client-credentials token when needed."""

    endpoint = "vismanet: the Visma Connect token endpoint"

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
        super().__init__(token_url=token_url, executor=executor, error_details=error_details, clock=clock)
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant_id = tenant_id
        self._scope = scope
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
        answer = self._grant(form, refusal="vismanet: Visma Connect refused the client credentials", idempotent=True)
        return answer.access_token, answer.lifetime
